//! The `changelog` binary, run as a user runs it, over real repositories.

use std::path::Path;
use std::process::{Command, Output};

use changelog_core::testing::TestRepo;
use clap::CommandFactory as _;
use serde_json::Value;

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

#[test]
fn json_between_two_tags() {
    let (repo, in_range) = two_releases();
    let out = changelog(&[
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--range",
        "v0.1.0..v0.2.0",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["version"], "v0.2.0");
    assert_eq!(doc["range"]["spec"], "v0.1.0..v0.2.0");

    let sections = doc["sections"].as_array().unwrap();
    let titles: Vec<&str> = sections
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert!(titles.contains(&"Features"), "{titles:?}");
    assert!(titles.contains(&"Bug Fixes"), "{titles:?}");

    let entries: Vec<&Value> = sections
        .iter()
        .flat_map(|s| s["entries"].as_array().unwrap())
        .collect();
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
    assert_eq!(entry("log in with GitHub")["refs"][0], "#34");
    assert_eq!(entry("log in with GitHub")["scope"], "auth");
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
