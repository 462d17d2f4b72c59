//! The `changelog` binary, run as a user runs it, over real repositories.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use changelog_core::testing::TestRepo;
use clap::CommandFactory as _;
use serde_json::Value;

#[path = "cli/config.rs"]
mod config;

fn changelog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_changelog"))
        .args(args)
        // Nothing here may depend on a key or a provider being configured.
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("CHANGELOG_PROVIDER")
        .output()
        .expect("run changelog")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// v0.1.0, then a feature branch merged through a pull request, a breaking `feat!`, a
/// `BREAKING CHANGE:` footer and fixes, then v0.2.0, then one more commit.
fn two_releases() -> (TestRepo, Vec<String>) {
    let mut repo = TestRepo::new();
    repo.commit("feat: the first feature");
    repo.commit("fix: the first fix");
    repo.tag("v0.1.0");
    let mut in_range = Vec::new();
    repo.branch("feature/login");
    in_range.push(repo.commit("feat(auth): log in with GitHub"));
    in_range.push(repo.commit("fix(auth): keep the session on refresh"));
    repo.checkout("main");
    in_range.push(repo.commit("feat!: drop the v1 configuration format"));
    in_range.push(repo.merge(
        "feature/login",
        "Merge pull request #34 from octo/feature/login\n\nLog in with GitHub",
    ));
    in_range.push(repo.commit(
        "refactor(config): new loader\n\nBREAKING CHANGE: `include` paths are now relative to the file",
    ));
    in_range.push(repo.commit("fix: no panic on an empty file"));
    repo.annotated_tag("v0.2.0", "v0.2.0");
    repo.commit("feat: after the release");
    let ids = in_range.iter().map(ToString::to_string).collect();
    (repo, ids)
}

/// A run that failed (status 1) with a message saying each of `needles`.
fn assert_refused(out: &Output, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let message = stderr(out);
    for needle in needles {
        assert!(message.contains(needle), "{needle}: {message}");
    }
}

/// `generate --format json` of v0.1.0..v0.2.0 with `extra` arguments, read.
fn json_of_the_release(repo: &TestRepo, extra: &[&str]) -> Value {
    let mut args = vec![
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--range",
        "v0.1.0..v0.2.0",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = changelog(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every entry of every section of a JSON changelog.
fn entries_of(doc: &Value) -> Vec<&Value> {
    doc["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["entries"].as_array().unwrap())
        .collect()
}

#[test]
fn json_between_two_tags() {
    let (repo, in_range) = two_releases();
    let doc = json_of_the_release(&repo, &[]);
    assert_eq!(doc["version"], "v0.2.0");
    assert_eq!(doc["range"]["spec"], "v0.1.0..v0.2.0");

    let sections = doc["sections"].as_array().unwrap();
    let titles: Vec<&str> = sections
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert!(titles.contains(&"Features"), "{titles:?}");
    assert!(titles.contains(&"Bug Fixes"), "{titles:?}");

    let entries = entries_of(&doc);
    let mut cited = Vec::new();
    for entry in &entries {
        let commits = entry["commits"].as_array().unwrap();
        assert!(!commits.is_empty(), "{entry}");
        for id in commits {
            let id = id.as_str().unwrap();
            assert!(in_range.iter().any(|c| c == id), "{id} is not in the range");
            cited.push(id.to_owned());
        }
    }
    // Every non-merge commit of the range is cited once, the merged ones included.
    let merge = &in_range[3];
    let mut expected: Vec<String> = in_range.iter().filter(|id| *id != merge).cloned().collect();
    expected.sort();
    cited.sort();
    assert_eq!(cited, expected, "{entries:#?}");

    let entry = |text: &str| {
        entries
            .iter()
            .find(|e| e["text"].as_str().unwrap().contains(text))
            .unwrap_or_else(|| panic!("no entry for {text}"))
    };
    assert_eq!(entry("drop the v1 configuration format")["breaking"], true);
    assert_eq!(entry("new loader")["breaking"], true);
    assert_eq!(entry("no panic on an empty file")["breaking"], false);
    // The pull request is one entry, titled by the pull request, citing both of its commits.
    let pr = entry("Log in with GitHub");
    assert_eq!(pr["pull_requests"], serde_json::json!(["#34"]), "{pr}");
    assert_eq!(pr["scope"], "auth");
    let mut pr_commits: Vec<&str> = pr["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    pr_commits.sort_unstable();
    let mut branch = vec![in_range[0].as_str(), in_range[1].as_str()];
    branch.sort_unstable();
    assert_eq!(pr_commits, branch);
}

#[test]
fn a_reversed_range_or_a_path_that_is_nowhere_is_an_error() {
    let (repo, _) = two_releases();
    let path = repo.path().to_str().unwrap();
    let out = changelog(&["generate", "--repo", path, "--range", "v0.2.0..v0.1.0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("reversed"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`v0.1.0..v0.2.0`"),
        "{}",
        stderr(&out)
    );

    let out = changelog(&["generate", "--repo", path, "--path", "src/nowhere"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("`src/nowhere`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("matches nothing"), "{}", stderr(&out));
}

#[test]
fn a_shallow_clone_is_an_error_unless_allowed_then_a_warning() {
    let mut repo = TestRepo::new();
    repo.commit("feat: one");
    let boundary = repo.commit("feat: two");
    repo.commit("fix: three");
    std::fs::write(repo.path().join(".git/shallow"), format!("{boundary}\n")).unwrap();
    let path = repo.path().to_str().unwrap();
    let out = changelog(&["generate", "--repo", path]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("shallow"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--allow-shallow"), "{}", stderr(&out));

    let out = changelog(&["generate", "--repo", path, "--allow-shallow"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("warning: this clone is shallow"),
        "{}",
        stderr(&out)
    );
    let markdown = String::from_utf8(out.stdout).unwrap();
    assert!(
        markdown.contains("three") && markdown.contains("two"),
        "{markdown}"
    );
    assert!(!markdown.contains("one"), "{markdown}");
}

#[test]
fn every_release_newest_first_the_latest_and_the_unreleased() {
    let (repo, _) = two_releases();
    let path = repo.path().to_str().unwrap();
    let run = |extra: &[&str]| -> String {
        let mut args = vec!["generate", "--repo", path];
        args.extend_from_slice(extra);
        let out = changelog(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let headings = |markdown: &str| -> Vec<String> {
        markdown
            .lines()
            .filter(|l| l.starts_with("# ") || l.starts_with("## "))
            .map(|l| l.split(" (").next().unwrap().to_owned())
            .collect()
    };
    let all = run(&["--releases", "all"]);
    assert_eq!(headings(&all), ["# Changelog", "## v0.2.0", "## v0.1.0"]);
    assert!(all.contains("the first fix") && all.contains("no panic on an empty file"));
    assert!(!all.contains("after the release"), "{all}");

    let with_unreleased = run(&["--releases", "all", "--unreleased", "--version", "0.3.0"]);
    assert_eq!(
        headings(&with_unreleased),
        ["# Changelog", "## 0.3.0", "## v0.2.0", "## v0.1.0"]
    );
    assert_eq!(headings(&run(&["--latest"])), ["# Changelog", "## v0.2.0"]);
    assert_eq!(
        headings(&run(&["--releases", "1"])),
        ["# Changelog", "## v0.2.0"]
    );
    let unreleased = run(&["--unreleased"]);
    assert_eq!(headings(&unreleased), ["# Changelog", "## Unreleased"]);
    assert!(unreleased.contains("after the release"), "{unreleased}");

    let json: Value =
        serde_json::from_str(&run(&["--releases", "all", "--format", "json"])).unwrap();
    let versions: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v0.2.0", "v0.1.0"]);
    assert_eq!(json[0]["range"]["spec"], "v0.1.0..v0.2.0");

    for bad in [
        &["--releases", "0"][..],
        &["--releases", "many"],
        &["--releases", "all", "--range", "v0.1.0.."],
        &["--latest", "--releases", "2"],
        &["--latest", "--provider", "openai", "--estimate"],
    ] {
        let mut args = vec!["generate", "--repo", path];
        args.extend_from_slice(bad);
        let out = changelog(&args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
}

#[test]
fn one_entry_per_commit_on_request() {
    let (repo, _) = two_releases();
    let doc = json_of_the_release(&repo, &["--group-by", "commit"]);
    let entries = entries_of(&doc);
    let login = entries
        .iter()
        .find(|e| e["text"] == "log in with GitHub")
        .unwrap_or_else(|| panic!("{entries:#?}"));
    assert_eq!(login["pull_requests"], serde_json::json!(["#34"]));
    assert_eq!(login["scope"], "auth");
    let kept = entries
        .iter()
        .find(|e| e["text"] == "keep the session on refresh")
        .unwrap_or_else(|| panic!("{entries:#?}"));
    assert_eq!(kept["pull_requests"], serde_json::json!(["#34"]));
}

#[test]
fn files_classify_unless_words_only() {
    let mut repo = TestRepo::new();
    repo.commit_files("Start", &[("src/lib.rs", "// lib\n")]);
    repo.tag("v0.1.0");
    repo.commit_files("Fix the pool timeout", &[("tests/pool.rs", "// t\n")]);
    repo.commit_files("Fix the pool", &[("src/lib.rs", "// fixed\n")]);
    repo.tag("v0.2.0");
    let sections = |extra: &[&str]| -> Vec<(String, usize)> {
        let doc = json_of_the_release(&repo, extra);
        doc["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let title = s["title"].as_str().unwrap().to_owned();
                (title, s["entries"].as_array().unwrap().len())
            })
            .collect()
    };
    let tests = ("Tests".to_owned(), 1);
    let fixes = |n| ("Bug Fixes".to_owned(), n);
    assert_eq!(sections(&[]), [fixes(1), tests]);
    assert_eq!(sections(&["--words-only"]), [fixes(2)]);
}

#[test]
fn markdown_with_style_title_and_version() {
    let (repo, _) = two_releases();
    let out = changelog(&[
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--range",
        "v0.2.0",
        "--style",
        "keep-a-changelog",
        "--title",
        "Release notes",
        "--version",
        "0.2.0",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("# Release notes\n\n## [0.2.0] - "),
        "{text}"
    );
    assert!(text.contains("### Added"), "{text}");
    assert!(text.contains("### Fixed"), "{text}");
    assert!(text.contains("**BREAKING:**"), "{text}");
    assert!(!text.contains("after the release"), "{text}");
}

#[test]
fn unknown_tag_is_named() {
    let (repo, _) = two_releases();
    let out = changelog(&[
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--range",
        "v0.1.0..v9.9.9",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("`v9.9.9`"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn invalid_range_is_a_usage_error() {
    let (repo, _) = two_releases();
    let out = changelog(&[
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--range",
        "v0.1.0...v0.2.0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`v0.1.0...v0.2.0`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_path_that_is_not_a_repository_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = changelog(&["generate", "--repo", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    assert!(err.contains("not a git repository"), "{err}");

    let missing = dir.path().join("missing");
    let out = changelog(&["generate", "--repo", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn the_repository_goes_through_the_command_line_policy() {
    // The user's own path: any directory inside the work tree, looked up upward.
    let mut repo = TestRepo::new();
    repo.commit_files("feat: a", &[("src/a.txt", "a")]);
    let sub = repo.path().join("src");
    let out = changelog(&["generate", "--repo", sub.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // URLs: HTTPS to public hosts only, refused before any connection.
    for (url, reason) in [
        ("https://ghp_T0ken@127.0.0.1:9/o/r.git", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://github.com/o/r.git", "`http` scheme is not allowed"),
        (
            "ssh://git@github.com/o/r.git",
            "`ssh` scheme is not allowed",
        ),
        ("ext::sh -c true", "remote helper"),
    ] {
        let out = changelog(&["generate", "--repo", url]);
        assert_eq!(out.status.code(), Some(1), "{url}");
        let err = stderr(&out);
        assert!(
            err.contains("refused") && err.contains(reason),
            "{url}: {err}"
        );
        assert!(!err.contains("ghp_T0ken"), "{err}");
    }
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        &["generate", "--format", "xml"][..],
        &["generate", "--style", "fancy"],
        &["generate", "--since", "last tuesday"],
        &["generate", "--no-such-flag"],
        &["frobnicate"],
    ] {
        let out = changelog(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = changelog(&["generate", "--since", "last tuesday"]);
    assert!(stderr(&out).contains("last tuesday"), "{}", stderr(&out));
}

#[test]
fn output_is_written_atomically() {
    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("CHANGELOG.md");
    let path = repo.path().to_str().unwrap();
    let out = changelog(&[
        "generate",
        "--repo",
        path,
        "--range",
        "v0.2.0",
        "--output",
        target.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(written.contains("## v0.2.0"), "{written}");

    // A failing run leaves the previous file as it was, and no temporary file behind.
    let out = changelog(&[
        "generate",
        "--repo",
        path,
        "--range",
        "nope",
        "--output",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), written);
    assert_eq!(entries_in(dir.path()), ["CHANGELOG.md"]);

    // A directory that does not exist is named.
    let nowhere = dir.path().join("no/such/dir/CHANGELOG.md");
    let out = changelog(&[
        "generate",
        "--repo",
        path,
        "--output",
        nowhere.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no/such/dir"), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn output_refuses_to_replace_a_file_of_other_releases_without_force() {
    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("CHANGELOG.md");
    let history = "# Changelog\n\n## [0.1.0] - 2024-01-02\n\n### Added\n\n- the first feature\n\n## [0.0.2] - 2024-01-01\n\n- a fix\n\n```\n## not a heading, code\n```\n\n## 0.0.1 (2023-12-01)\n\n- start\n";
    std::fs::write(&target, history).unwrap();
    let path = repo.path().to_str().unwrap();
    let args = [
        "generate",
        "--repo",
        path,
        "--range",
        "v0.1.0..v0.2.0",
        "--output",
        target.to_str().unwrap(),
    ];
    assert_refused(
        &changelog(&args),
        &[
            "CHANGELOG.md",
            "3 other releases",
            "0.1.0, 0.0.2, 0.0.1",
            "--force",
        ],
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), history);

    let mut forced = args.to_vec();
    forced.push("--force");
    let out = changelog(&forced);
    assert!(out.status.success(), "{}", stderr(&out));
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(
        written.contains("## v0.2.0") && !written.contains("0.0.1"),
        "{written}"
    );

    // The same release written again replaces itself without --force.
    let out = changelog(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), written);
}

#[test]
fn output_keeps_permissions_and_links() {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _, symlink};

    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.md");
    std::fs::write(&real, "old\n").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = dir.path().join("CHANGELOG.md");
    symlink(&real, &link).unwrap();
    let out = changelog(&[
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--output",
        link.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let written = std::fs::read_to_string(&real).unwrap();
    assert!(written.starts_with("# Changelog"), "{written}");
    let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    assert_eq!(entries_in(dir.path()), ["CHANGELOG.md", "real.md"]);

    // Not a regular file: written in place.
    let out = changelog(&[
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--output",
        "/dev/null",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

/// Runs the binary under a given umask, as a shell would.
#[cfg(unix)]
fn changelog_with_umask(umask: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_changelog"))
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("CHANGELOG_PROVIDER")
        .output()
        .expect("run changelog")
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
#[test]
fn a_new_output_file_gets_the_mode_a_shell_redirect_gives() {
    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    for (umask, mode) in [("022", 0o644), ("027", 0o640), ("002", 0o664)] {
        let target = dir.path().join(format!("CHANGELOG-{umask}.md"));
        let out = changelog_with_umask(
            umask,
            &[
                "generate",
                "--repo",
                repo.path().to_str().unwrap(),
                "--output",
                target.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(mode_of(&target), mode, "umask {umask}");
    }
}

#[cfg(unix)]
#[test]
fn a_read_only_output_file_is_replaced_only_with_force() {
    use std::os::unix::fs::PermissionsExt as _;

    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("CHANGELOG.md");
    std::fs::write(&target, "kept\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o444)).unwrap();
    let args = [
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--output",
        target.to_str().unwrap(),
    ];
    assert_refused(&changelog(&args), &["CHANGELOG.md", "read-only", "--force"]);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept\n");
    assert_eq!(entries_in(dir.path()), ["CHANGELOG.md"]);

    let mut forced = args.to_vec();
    forced.push("--force");
    let out = changelog(&forced);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .starts_with("# Changelog")
    );
    assert_eq!(mode_of(&target), 0o444);
    assert_eq!(entries_in(dir.path()), ["CHANGELOG.md"]);
}

#[cfg(unix)]
#[test]
fn writing_through_a_symbolic_link_is_reported() {
    use std::os::unix::fs::symlink;

    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("docs-CHANGELOG.md");
    std::fs::write(&real, "old\n").unwrap();
    let link = dir.path().join("CHANGELOG.md");
    symlink("docs-CHANGELOG.md", &link).unwrap();
    let out = changelog(&[
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--output",
        link.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("symbolic link"), "{message}");
    assert!(message.contains("docs-CHANGELOG.md"), "{message}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .starts_with("# Changelog")
    );
}

#[cfg(unix)]
#[test]
fn a_dangling_symbolic_link_is_refused_and_kept() {
    use std::os::unix::fs::symlink;

    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("CHANGELOG.md");
    symlink("gone/CHANGELOG.md", &link).unwrap();
    let out = changelog(&[
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--output",
        link.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("symbolic link"), "{message}");
    assert!(message.contains("gone/CHANGELOG.md"), "{message}");
    assert!(message.contains("does not exist"), "{message}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("gone/CHANGELOG.md")
    );
    assert_eq!(entries_in(dir.path()), ["CHANGELOG.md"]);
}

/// Runs the binary, killing it (and failing the test) when it has not finished in time.
fn changelog_within(limit: Duration, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_changelog"))
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("CHANGELOG_PROVIDER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run changelog");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            child.kill().expect("kill");
            child.wait().expect("reap");
            panic!(
                "`changelog {}` still running after {limit:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// Cuts a loose object's zlib stream in half, as a crash or a full disk can leave it.
fn truncate_loose_object(repo: &TestRepo, id: &str) -> std::path::PathBuf {
    let file = repo
        .repo()
        .path()
        .join("objects")
        .join(&id[..2])
        .join(&id[2..]);
    let bytes = std::fs::read(&file).expect("the object is loose");
    let mut permissions = std::fs::metadata(&file).unwrap().permissions();
    #[expect(
        clippy::permissions_set_readonly_false,
        reason = "a test repository's object"
    )]
    permissions.set_readonly(false);
    std::fs::set_permissions(&file, permissions).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    file
}

#[test]
fn a_truncated_loose_object_is_an_error_not_a_hang() {
    let limit = Duration::from_secs(20);

    // A commit of the range.
    let (repo, in_range) = two_releases();
    let damaged = &in_range[2];
    truncate_loose_object(&repo, damaged);
    let started = Instant::now();
    let out = changelog_within(
        limit,
        &[
            "generate",
            "--repo",
            repo.path().to_str().unwrap(),
            "--range",
            "v0.1.0..v0.2.0",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains(damaged.as_str()), "{message}");
    assert!(message.contains("corrupt"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // The tree a path filter reads.
    let (repo, in_range) = two_releases();
    let commit = repo
        .repo()
        .find_commit(git2::Oid::from_str(&in_range[5]).unwrap())
        .unwrap();
    let tree = commit.tree_id().to_string();
    truncate_loose_object(&repo, &tree);
    let out = changelog_within(
        limit,
        &[
            "generate",
            "--repo",
            repo.path().to_str().unwrap(),
            "--range",
            "v0.1.0..v0.2.0",
            "--path",
            "file-3.txt",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&tree), "{}", stderr(&out));

    // The commit a tag names.
    let (repo, _) = two_releases();
    let tagged = repo
        .repo()
        .revparse_single("v0.2.0^{commit}")
        .unwrap()
        .id()
        .to_string();
    truncate_loose_object(&repo, &tagged);
    let out = changelog_within(
        limit,
        &[
            "generate",
            "--repo",
            repo.path().to_str().unwrap(),
            "--range",
            "v0.2.0",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&tagged), "{}", stderr(&out));
}

fn entries_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn command_line_definition_is_consistent() {
    changelog_http::Cli::command().debug_assert();
}

#[test]
fn bump_prints_the_next_tag_and_version_auto_heads_the_section() {
    let (repo, _) = two_releases();
    let path = repo.path().to_str().unwrap();
    // After v0.2.0: one feature.
    let out = changelog(&["bump", "--repo", path]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v0.3.0\n");
    let out = changelog(&["bump", "--repo", path, "--pre", "rc", "--format", "json"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["latest"], "v0.2.0");
    assert_eq!(json["tag"], "v0.3.0-rc.1");
    assert_eq!(json["version"], "0.3.0-rc.1");
    assert_eq!(json["level"], "minor");
    assert_eq!(json["commits"], 1);
    let out = changelog(&["bump", "--repo", path, "--zero-major", "cargo"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v0.2.1\n");

    let out = changelog(&["generate", "--repo", path, "--version", "auto"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let markdown = String::from_utf8(out.stdout).unwrap();
    assert!(markdown.contains("\n## v0.3.0 ("), "{markdown}");
    let out = changelog(&[
        "generate",
        "--repo",
        path,
        "--unreleased",
        "--version",
        "auto",
    ]);
    let markdown = String::from_utf8(out.stdout).unwrap();
    assert!(markdown.contains("\n## v0.3.0 ("), "{markdown}");

    // Only documentation since the release: the version stays, said on standard error.
    let mut docs = TestRepo::new();
    docs.commit("feat: a");
    docs.tag("v1.4.0");
    docs.commit("docs: explain a");
    let out = changelog(&["bump", "--repo", docs.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v1.4.0\n");
    assert!(
        stderr(&out).contains("the version stays v1.4.0"),
        "{}",
        stderr(&out)
    );

    for bad in [
        &["--pre", "1"][..],
        &["--initial", "one"],
        &["--tag-pattern", "v("],
        &["--zero-major", "semver"],
    ] {
        let mut args = vec!["bump", "--repo", path];
        args.extend_from_slice(bad);
        let out = changelog(&args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
}

#[test]
fn bump_reads_tags_and_bump_rules_from_changelog_toml() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("tokio-1.52.0");
    repo.commit("feat(macros): b");
    repo.tag("tokio-macros-2.7.1");
    repo.commit("fix(tokio): c");
    repo.write(
        "changelog.toml",
        "[tags]\nprefix = \"tokio-\"\n\n[bump]\npre = \"rc\"\n",
    );
    let path = repo.path().to_str().unwrap();
    let out = changelog(&["bump", "--repo", path]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tokio-1.53.0-rc.1\n");
    // A flag wins over the file; --no-config ignores it, and then no tag is a version: the
    // initial one.
    let out = changelog(&["bump", "--repo", path, "--pre", "beta"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "tokio-1.53.0-beta.1\n"
    );
    let out = changelog(&["bump", "--repo", path, "--no-config"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0.1.0\n");
}

#[path = "cli/prepend.rs"]
mod prepend;
