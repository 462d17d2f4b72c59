//! Pull requests in every merge style, and one entry per pull request.

use changelog_core::build::GroupBy;
use changelog_core::render::markdown;
use changelog_core::testing::TestRepo;
use changelog_core::{BuildOptions, Changelog, Entry, Kind, Style};
use pretty_assertions::assert_eq;

use crate::{changelog, history};

/// Merges a branch of `commits` into `main` with `message`; returns the branch's commit ids.
fn pull_request(repo: &mut TestRepo, branch: &str, commits: &[&str], message: &str) -> Vec<String> {
    repo.branch(branch);
    let ids = commits.iter().map(|c| repo.commit(c).to_string()).collect();
    repo.checkout("main");
    repo.commit(&format!("chore: unrelated work before {branch}"));
    repo.merge(branch, message);
    ids
}

fn entry_citing<'a>(log: &'a Changelog, id: &str) -> &'a Entry {
    log.entries()
        .find(|e| e.commits.iter().any(|c| c == id))
        .unwrap_or_else(|| panic!("no entry cites {id}"))
}

fn options(style: Style) -> BuildOptions {
    BuildOptions {
        style,
        ..BuildOptions::default()
    }
}

/// Each merge style: its message, the reference every merged commit gets, and the title.
const STYLES: &[(&str, &str, &str)] = &[
    (
        "Merge pull request #11 from ada/one\n\nfeat(api): paginate listings",
        "#11",
        "paginate listings",
    ),
    (
        "Render tables in the terminal (#12)\n\n* wip\n* more",
        "#12",
        "Render tables in the terminal",
    ),
    (
        "Auto merge of #13 - ada:three, r=grace\n\nfix: keep the lock across retries\n\nLong body.",
        "#13",
        "keep the lock across retries",
    ),
    (
        "Merge #14\n\n14: perf: cache the index r=grace a=ada\n\nCo-authored-by: Grace <grace@example.com>",
        "#14",
        "cache the index",
    ),
    (
        "Rollup merge of #15 - ada:five, r=grace\n\nAdd a --json flag",
        "#15",
        "Add a --json flag",
    ),
    (
        "Merge branch 'six' into 'main'\n\nSupport proxies\n\nCloses #3\n\nSee merge request group/project!16",
        "!16",
        "Support proxies",
    ),
    ("Merged PR 17: Fix the exporter", "!17", "Fix the exporter"),
];

#[test]
fn every_merge_style_passes_its_pull_request_on_and_makes_one_entry() {
    for (n, (message, reference, title)) in STYLES.iter().enumerate() {
        let mut repo = TestRepo::new();
        repo.commit("chore: initial");
        repo.tag("v1.0.0");
        let ids = pull_request(
            &mut repo,
            &format!("topic-{n}"),
            &[
                "feat: first step",
                "test: cover it",
                "fix: a slip in the first step",
            ],
            message,
        );
        repo.tag("v1.1.0");
        let h = history(repo.path(), Some("v1.1.0"));
        for commit in h.commits.iter().filter(|c| ids.contains(&c.id)) {
            assert_eq!(commit.merge_refs, [*reference], "{message}");
        }
        let log = changelog(repo.path(), Some("v1.1.0"), &options(Style::Conventional));
        let entry = entry_citing(&log, &ids[0]);
        assert_eq!(
            entry.commits, ids,
            "{message}: one entry cites every commit"
        );
        assert_eq!(entry.pull_requests, [*reference], "{message}");
        assert_eq!(entry.text, *title, "{message}");
        assert_eq!(log.stats.grouped, 2, "{message}");
        // The unrelated commit and the pull request: two entries.
        assert_eq!(log.stats.entries, 2, "{message}");
    }
}

#[test]
fn kinds_and_scopes_come_from_the_title_else_the_most_significant_commit() {
    let mut repo = TestRepo::new();
    repo.commit("chore: initial");
    repo.tag("v1.0.0");
    let titled = pull_request(
        &mut repo,
        "a",
        &["docs: words", "fix(db): the bug"],
        "Merge pull request #1 from ada/a\n\nfeat(db)!: new storage format",
    );
    let untitled = pull_request(
        &mut repo,
        "b",
        &[
            "test: cover",
            "fix(net): reconnect\n\nBREAKING CHANGE: the retry option is gone",
            "feat(net): backoff",
        ],
        "Merge pull request #2 from ada/b",
    );
    repo.tag("v1.1.0");
    let log = changelog(repo.path(), Some("v1.1.0"), &options(Style::Conventional));
    let a = entry_citing(&log, &titled[0]);
    assert_eq!(
        (a.kind, a.scope.as_deref(), a.breaking, a.text.as_str()),
        (Kind::Feature, Some("db"), true, "new storage format")
    );
    let b = entry_citing(&log, &untitled[0]);
    assert_eq!(
        (b.kind, b.scope.as_deref(), b.breaking, b.text.as_str()),
        (Kind::Fix, Some("net"), true, "reconnect")
    );
    assert_eq!(b.breaking_notes, ["the retry option is gone"]);
    assert_eq!(b.commits, untitled);
    // Per commit, as before.
    let per_commit = changelog(
        repo.path(),
        Some("v1.1.0"),
        &BuildOptions {
            group_by: GroupBy::Commit,
            ..BuildOptions::default()
        },
    );
    assert_eq!(per_commit.stats.entries, 7);
    assert_eq!(
        entry_citing(&per_commit, &titled[1]).pull_requests,
        ["#1"],
        "each commit still cites its pull request"
    );
}

#[test]
fn a_pull_request_of_seventeen_commits_is_one_entry() {
    let mut repo = TestRepo::new();
    repo.commit("chore: initial");
    repo.tag("v1.0.0");
    let messages: Vec<String> = (0..17)
        .map(|i| match i % 5 {
            0 => format!("feat(sync): step {i}"),
            1 => "fix(sync): typo".to_owned(),
            2 => format!("refactor: move helper {i}"),
            3 => "docs: explain sync".to_owned(),
            _ => format!("test: case {i}"),
        })
        .collect();
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    let ids = pull_request(
        &mut repo,
        "sync",
        &refs,
        "Merge pull request #99 from ada/sync\n\nSynchronise folders in the background",
    );
    repo.tag("v1.1.0");
    for style in [Style::Conventional, Style::KeepAChangelog] {
        let log = changelog(repo.path(), Some("v1.1.0"), &options(style));
        let entry = entry_citing(&log, &ids[0]);
        assert_eq!(entry.commits.len(), 17);
        assert_eq!(entry.text, "Synchronise folders in the background");
        assert_eq!(
            entry.kind,
            Kind::Feature,
            "an unclassified title takes the most significant commit's kind"
        );
        assert_eq!(
            log.entries().filter(|e| e.pull_requests == ["#99"]).count(),
            1
        );
    }
}

#[test]
fn squash_and_rebase_merges() {
    let mut repo = TestRepo::new();
    repo.commit("chore: initial");
    repo.tag("v1.0.0");
    let squash = repo.commit("feat: export to CSV (#21)\n\n* first\n* second\n\nFixes #4");
    // A rebase-merge leaves the commits on main with no trace of the pull request.
    let rebased = [repo.commit("fix: one"), repo.commit("fix: two")];
    repo.tag("v1.1.0");
    let log = changelog(repo.path(), Some("v1.1.0"), &options(Style::Conventional));
    let entry = entry_citing(&log, &squash.to_string());
    assert_eq!(entry.pull_requests, ["#21"]);
    assert_eq!(entry.refs, ["#4"], "issues stay apart from pull requests");
    for id in rebased {
        assert!(entry_citing(&log, &id.to_string()).pull_requests.is_empty());
    }
    assert_eq!(log.stats.entries, 3);
    let json = serde_json::to_value(&log).unwrap();
    let features = &json["sections"][0]["entries"][0];
    assert_eq!(features["pull_requests"], serde_json::json!(["#21"]));
    assert_eq!(features["refs"], serde_json::json!(["#4"]));
}

#[test]
fn duplicate_texts_fold_within_a_release() {
    let mut repo = TestRepo::new();
    repo.commit("chore: initial");
    repo.tag("v1.0.0");
    repo.commit("fix: handle empty input");
    repo.commit("fix: Handle empty input");
    repo.tag("v1.1.0");
    let log = changelog(repo.path(), Some("v1.1.0"), &options(Style::Conventional));
    assert_eq!(log.stats.entries, 1);
    assert_eq!(log.stats.duplicates, 1);
}

#[test]
fn merge_styles_markdown() {
    let mut repo = TestRepo::new();
    repo.commit("chore: initial");
    repo.tag("v1.0.0");
    for (n, (message, _, _)) in STYLES.iter().enumerate() {
        pull_request(
            &mut repo,
            &format!("topic-{n}"),
            &["feat: a step", "fix: another step"],
            message,
        );
    }
    repo.commit("feat: squashed (#30)");
    repo.tag("v1.1.0");
    repo.set_origin("https://github.com/acme/rocket.git");
    let log = changelog(repo.path(), Some("v1.1.0"), &options(Style::Conventional));
    insta::assert_snapshot!(markdown(&log));
    let log = changelog(repo.path(), Some("v1.1.0"), &options(Style::KeepAChangelog));
    insta::assert_snapshot!("merge_styles_keep_a_changelog", markdown(&log));
}
