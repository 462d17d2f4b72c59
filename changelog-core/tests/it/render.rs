use changelog_core::render::{Format, markdown, render};
use changelog_core::testing::TestRepo;
use changelog_core::{BuildOptions, Kind, Style};
use pretty_assertions::assert_eq;

use crate::changelog;

/// A release with every kind of commit the renderer has to deal with.
fn release() -> TestRepo {
    let mut repo = TestRepo::new();
    repo.commit("chore: initial commit");
    repo.tag("v1.0.0");
    repo.commit("feat(api): send an email when a product is shipped (#12)");
    repo.commit(
        "feat!: allow provided config object to extend other configs\n\nBREAKING CHANGE: `extends` key in config file is now used for extending other config files",
    );
    repo.commit(
        "fix(parser): accept tabs\n\nFixes #7\nCo-authored-by: Grace Hopper <grace@example.com>",
    );
    repo.commit("perf: cache parsed configs");
    repo.commit("refactor: split the loader");
    repo.commit("docs: correct spelling of CHANGELOG");
    let reverted = repo.commit("feat: an experiment");
    repo.commit(&format!(
        "Revert \"feat: an experiment\"\n\nThis reverts commit {reverted}."
    ));
    repo.commit("Add a --quiet flag");
    repo.commit("Remove the legacy v1 endpoint");
    repo.commit("Fix crash on empty input");
    repo.commit("Update openssl for CVE-2024-1234");
    repo.commit("fixup! fix(parser): accept tabs");
    repo.commit("ci: cache cargo");
    repo.commit("chore(release): 1.1.0");
    repo.tag("v1.1.0");
    repo
}

fn options(style: Style) -> BuildOptions {
    BuildOptions {
        style,
        ..BuildOptions::default()
    }
}

#[test]
fn conventional_markdown() {
    let repo = release();
    let log = changelog(repo.path(), Some("v1.1.0"), &options(Style::Conventional));
    insta::assert_snapshot!(markdown(&log));
}

#[test]
fn keep_a_changelog_markdown() {
    let repo = release();
    let log = changelog(repo.path(), Some("v1.1.0"), &options(Style::KeepAChangelog));
    insta::assert_snapshot!(markdown(&log));
}

#[test]
fn links_to_github() {
    let repo = release();
    repo.set_origin("https://github.com/acme/rocket.git");
    let log = changelog(
        repo.path(),
        Some("v1.1.0"),
        &BuildOptions {
            title: Some("Rocket".into()),
            version: Some("1.1.0".into()),
            ..BuildOptions::default()
        },
    );
    insta::assert_snapshot!(markdown(&log));
}

#[test]
fn json_document() {
    let repo = release();
    let log = changelog(repo.path(), Some("v1.1.0"), &options(Style::Conventional));
    let text = render(&log, Format::Json).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!(value);
}

#[test]
fn stats_account_for_every_commit() {
    let repo = release();
    let log = changelog(repo.path(), Some("v1.1.0"), &options(Style::Conventional));
    let s = &log.stats;
    assert_eq!(s.commits, 15);
    assert_eq!(s.fixups, 1);
    assert_eq!(s.release_bumps, 1);
    assert_eq!(s.reverted, 2);
    assert_eq!(s.entries, 11);
    assert_eq!(
        s.entries
            + s.duplicates
            + s.grouped
            + s.fixups
            + s.release_bumps
            + s.reverted
            + s.merges
            + s.empty
            + s.hidden,
        s.commits
    );
    let kac = changelog(repo.path(), Some("v1.1.0"), &options(Style::KeepAChangelog));
    // Documentation, CI and internal refactors are not news for users, but stay reachable.
    assert_eq!(kac.stats.hidden, 3);
    assert!(
        kac.entries()
            .all(|e| !matches!(e.kind, Kind::Documentation | Kind::Ci | Kind::Refactor))
    );
    let hidden: Vec<&str> = kac.hidden.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        hidden,
        [
            "split the loader",
            "correct spelling of CHANGELOG",
            "cache cargo"
        ]
    );
    let shown = changelog(
        repo.path(),
        Some("v1.1.0"),
        &BuildOptions {
            style: Style::KeepAChangelog,
            show_hidden: true,
            ..BuildOptions::default()
        },
    );
    let internal = shown.sections.last().unwrap();
    assert_eq!(internal.title, "Internal");
    assert_eq!(internal.entries.len(), 3);
    assert!(shown.hidden.is_empty());
}

#[test]
fn a_tag_prefix_leaves_the_heading_with_the_version_alone() {
    let mut repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("tokio-1.52.0");
    let log = changelog(
        repo.path(),
        Some("tokio-1.52.0"),
        &BuildOptions {
            tag_prefix: Some("tokio-".into()),
            ..BuildOptions::default()
        },
    );
    assert_eq!(log.version.as_deref(), Some("1.52.0"));
    assert!(markdown(&log).contains("## 1.52.0 ("), "{}", markdown(&log));
}

#[test]
fn cherry_picks_become_one_entry_citing_both() {
    let mut repo = TestRepo::new();
    repo.commit("fix(io): retry short reads");
    repo.commit("feat: something else");
    repo.commit("fix(io): retry short reads");
    let log = changelog(repo.path(), None, &BuildOptions::default());
    let fixes = &log
        .sections
        .iter()
        .find(|s| s.title == "Bug Fixes")
        .unwrap()
        .entries;
    assert_eq!(fixes.len(), 1);
    assert_eq!(fixes[0].commits.len(), 2);
    assert_eq!(log.stats.duplicates, 1);
    assert_eq!(log.stats.entries + log.stats.duplicates, log.stats.commits);
}

#[test]
fn an_empty_range_renders_an_empty_changelog() {
    let mut repo = TestRepo::new();
    repo.commit("feat: x");
    repo.tag("v1.0.0");
    let log = changelog(
        repo.path(),
        Some("v1.0.0..v1.0.0"),
        &BuildOptions::default(),
    );
    assert!(log.sections.is_empty());
    assert!(markdown(&log).contains("No notable changes."));
}
