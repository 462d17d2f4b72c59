//! `changelog.toml`: `changelog init`, the file `generate` reads, flags over the file, errors.

use std::path::Path;

use super::{changelog, entries_of, json_of_the_release, stderr, two_releases};

fn markdown_of_the_release(repo: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "generate",
        "--repo",
        repo.to_str().unwrap(),
        "--range",
        "v0.1.0..v0.2.0",
    ];
    args.extend_from_slice(extra);
    let out = changelog(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn init_writes_a_default_that_generate_reads_and_keeps_it_without_force() {
    let (repo, _) = two_releases();
    let root = repo.path().to_str().unwrap();
    let file = repo.path().join("changelog.toml");
    let without = json_of_the_release(&repo, &["--no-config"]);

    let out = changelog(&["init", "--path", root]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("changelog.toml"), "{}", stderr(&out));
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("#[[sections]]"), "{written}");
    // As written, the file changes nothing.
    assert_eq!(json_of_the_release(&repo, &[]), without);

    // Edited, it is read from the repository's root (here from a subdirectory of it too).
    let edited = written
        .replace("#style = \"conventional\"", "style = \"keep-a-changelog\"")
        .replace("#title = \"Changelog\"", "title = \"From the file\"");
    std::fs::write(&file, &edited).unwrap();
    let text = markdown_of_the_release(repo.path(), &[]);
    assert!(text.starts_with("# From the file\n\n## [v0.2.0]"), "{text}");
    assert!(text.contains("### Added"), "{text}");
    std::fs::create_dir_all(repo.path().join("docs")).unwrap();
    let text = markdown_of_the_release(&repo.path().join("docs"), &[]);
    assert!(text.starts_with("# From the file\n"), "{text}");
    // --no-config ignores it.
    let text = markdown_of_the_release(repo.path(), &["--no-config"]);
    assert!(text.starts_with("# Changelog\n"), "{text}");

    // A second init keeps the edited file, unless forced.
    let out = changelog(&["init", "--path", root]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("changelog.toml"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), edited);
    let out = changelog(&["init", "--path", root, "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
}

#[test]
fn flags_win_over_the_file() {
    let (repo, _) = two_releases();
    std::fs::write(
        repo.path().join("changelog.toml"),
        "style = \"keep-a-changelog\"\ngroup_by = \"commit\"\n\n[skip]\nsubjects = ['^fix: no panic']\n",
    )
    .unwrap();
    // The file: keep-a-changelog, one entry per commit, a subject skipped.
    let doc = json_of_the_release(&repo, &[]);
    assert_eq!(doc["style"], "keep-a-changelog");
    assert_eq!(doc["stats"]["skipped"], 1);
    let texts = |doc: &serde_json::Value| -> Vec<String> {
        entries_of(doc)
            .iter()
            .map(|e| e["text"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(texts(&doc).contains(&"keep the session on refresh".to_owned()));
    assert!(!texts(&doc).contains(&"no panic on an empty file".to_owned()));
    // The flags: their values, whatever the file says.
    let doc = json_of_the_release(&repo, &["--style", "conventional", "--group-by", "pr"]);
    assert_eq!(doc["style"], "conventional");
    assert!(!texts(&doc).contains(&"keep the session on refresh".to_owned()));
    // What no flag sets stays the file's.
    assert_eq!(doc["stats"]["skipped"], 1);
}

#[test]
fn an_unknown_key_is_a_usage_error_naming_the_file_the_key_and_the_line() {
    let (repo, _) = two_releases();
    let file = repo.path().join("changelog.toml");
    std::fs::write(
        &file,
        "style = \"conventional\"\n\n[links]\ncommits = \"x\"\n",
    )
    .unwrap();
    let out = changelog(&["generate", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains(file.to_str().unwrap()), "{message}");
    assert!(message.contains("`commits`"), "{message}");
    assert!(message.contains("line 4"), "{message}");
    assert!(out.stdout.is_empty());

    // A malformed file names its line too.
    std::fs::write(&file, "style = \"conventional\"\ntitle = \n").unwrap();
    let out = changelog(&["generate", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
}

#[test]
fn config_names_another_file_and_a_missing_one_is_an_error() {
    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("release.toml");
    std::fs::write(&other, "title = \"Elsewhere\"\n").unwrap();
    std::fs::write(repo.path().join("changelog.toml"), "title = \"Root\"\n").unwrap();
    let text = markdown_of_the_release(repo.path(), &["--config", other.to_str().unwrap()]);
    assert!(text.starts_with("# Elsewhere\n"), "{text}");
    let text = markdown_of_the_release(repo.path(), &[]);
    assert!(text.starts_with("# Root\n"), "{text}");

    let missing = dir.path().join("missing.toml");
    let out = changelog(&[
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--config",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(missing.to_str().unwrap()),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
    let out = changelog(&["generate", "--config", "a.toml", "--no-config"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
