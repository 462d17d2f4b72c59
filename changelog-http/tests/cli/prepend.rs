//! `generate --prepend FILE`: releases written into a changelog file, every other byte kept.

use std::path::Path;

use super::{assert_refused, changelog, stderr, two_releases};

const HEADER: &str =
    "# Changelog\n\nAll notable changes to this project are documented in this file.\n\n";

/// `generate --repo <repo> <args> --prepend <file>`, which must succeed; its standard error.
fn prepend(repo: &Path, args: &[&str], file: &Path) -> String {
    let mut all = vec!["generate", "--repo", repo.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--prepend", file.to_str().unwrap()]);
    let out = changelog(&all);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    stderr(&out)
}

/// The release's section as `generate` prints it, without the document's title.
fn section(repo: &Path, range: &str) -> String {
    let out = changelog(&[
        "generate",
        "--repo",
        repo.to_str().unwrap(),
        "--range",
        range,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    text.strip_prefix("# Changelog\n\n").unwrap().to_owned()
}

#[test]
fn prepend_creates_a_missing_file_with_a_header() {
    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("CHANGELOG.md");
    let said = prepend(repo.path(), &["--range", "v0.1.0..v0.2.0"], &file);
    assert!(said.contains("CHANGELOG.md: added v0.2.0"), "{said}");
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        written,
        format!("{HEADER}{}", section(repo.path(), "v0.1.0..v0.2.0"))
    );
}

#[test]
fn prepend_puts_the_release_under_the_heading_and_keeps_the_rest() {
    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("CHANGELOG.md");
    let intro = "# Changelog\n\nHand-written introduction.\n\n";
    let history = "## [0.1.0] - 2024-01-02\n\n### Added\n\n- the first feature\n\n[0.1.0]: https://example.com/v0.1.0\n";
    std::fs::write(&file, format!("{intro}{history}")).unwrap();
    let said = prepend(repo.path(), &["--range", "v0.1.0..v0.2.0"], &file);
    assert!(said.contains("CHANGELOG.md: added v0.2.0"), "{said}");
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        written,
        format!(
            "{intro}{}\n{history}",
            section(repo.path(), "v0.1.0..v0.2.0")
        )
    );
}

#[test]
fn prepend_again_leaves_the_file_byte_identical() {
    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("CHANGELOG.md");
    let said = prepend(repo.path(), &["--releases", "all", "--unreleased"], &file);
    assert!(
        said.contains("CHANGELOG.md: added Unreleased; added v0.2.0; added v0.1.0"),
        "{said}"
    );
    let first = std::fs::read(&file).unwrap();
    let said = prepend(repo.path(), &["--releases", "all", "--unreleased"], &file);
    assert!(
        said.contains("Unreleased unchanged; v0.2.0 unchanged; v0.1.0 unchanged"),
        "{said}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), first);
    // --latest finds its release among them and changes nothing either.
    let said = prepend(repo.path(), &["--latest"], &file);
    assert!(said.contains("CHANGELOG.md: v0.2.0 unchanged"), "{said}");
    assert_eq!(std::fs::read(&file).unwrap(), first);
}

#[test]
fn prepend_keeps_crlf_line_endings() {
    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("CHANGELOG.md");
    let before = "# Changelog\r\n\r\n## 0.1.0 (2024-01-02)\r\n\r\n- the first feature\r\n";
    std::fs::write(&file, before).unwrap();
    prepend(repo.path(), &["--range", "v0.1.0..v0.2.0"], &file);
    let written = std::fs::read_to_string(&file).unwrap();
    let expected = format!(
        "# Changelog\r\n\r\n{}\r\n## 0.1.0 (2024-01-02)\r\n\r\n- the first feature\r\n",
        section(repo.path(), "v0.1.0..v0.2.0").replace('\n', "\r\n")
    );
    assert_eq!(written, expected);
    assert_eq!(
        written.matches('\n').count(),
        written.matches("\r\n").count()
    );
    // And again: nothing changes.
    prepend(repo.path(), &["--range", "v0.1.0..v0.2.0"], &file);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
}

#[test]
fn prepend_with_json_or_output_is_a_usage_error() {
    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("CHANGELOG.md");
    let path = repo.path().to_str().unwrap();
    let file = file.to_str().unwrap();
    for extra in [
        &["--format", "json"][..],
        &["--output", "other.md"][..],
        &["--estimate", "--provider", "simulated"][..],
    ] {
        let mut args = vec!["generate", "--repo", path, "--prepend", file];
        args.extend_from_slice(extra);
        let out = changelog(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("--prepend"), "{}", stderr(&out));
    }
    assert!(!Path::new(file).exists());
}

#[test]
fn output_over_a_file_of_other_releases_points_to_prepend() {
    let (repo, _) = two_releases();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("CHANGELOG.md");
    std::fs::write(&file, "# Changelog\n\n## 0.1.0\n\n- one\n").unwrap();
    let out = changelog(&[
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--range",
        "v0.1.0..v0.2.0",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_refused(
        &out,
        &["CHANGELOG.md", "1 other release", "--prepend", "--force"],
    );
}
