//! Commits whose words leave their kind open, classified by the files they change.

use changelog_core::parse::parse_commit;
use changelog_core::source::git::GitSource;
use changelog_core::testing::TestRepo;
use changelog_core::{History, Kind, RangeQuery};
use pretty_assertions::assert_eq;

fn read(repo: &TestRepo, query: &RangeQuery) -> History {
    GitSource::open(repo.path())
        .expect("open")
        .read(query)
        .expect("read")
}

/// Each commit's summary and kind, oldest first.
fn kinds(history: History) -> Vec<(String, Kind)> {
    history
        .commits
        .into_iter()
        .rev()
        .map(|c| {
            let summary = c.summary.clone();
            (summary, parse_commit(c).kind)
        })
        .collect()
}

/// A history with a commit for each case; returns the repository.
fn repository() -> TestRepo {
    let mut repo = TestRepo::new();
    repo.commit_files(
        "Initial import",
        &[
            ("src/lib.rs", "// lib\n"),
            ("src/parse.rs", "// parse\n"),
            ("README.md", "# demo\n"),
            ("tests/fixtures/a.json", "{}\n"),
            ("Cargo.lock", "# v1\n"),
        ],
    );
    repo.tag("v0.1.0");
    repo.commit_files("Fix the race in the pool", &[("tests/pool.rs", "// 1\n")]);
    repo.commit_files(
        "Describe the retry policy",
        &[("docs/retry.md", "retries\n")],
    );
    repo.commit_files("Update", &[("Cargo.lock", "# v2\n")]);
    repo.commit_files(
        "Tweak the nightly job",
        &[(".github/workflows/nightly.yml", "on: schedule\n")],
    );
    repo.commit_files(
        "Handle empty input",
        &[("src/parse.rs", "// 2\n"), ("tests/parse.rs", "// 2\n")],
    );
    repo.commit_files("feat: add a guide", &[("docs/guide.md", "guide\n")]);
    repo.commit_files(
        "Speed up the pool\n\nBREAKING CHANGE: the pool size is required",
        &[("tests/pool.rs", "// 3\n")],
    );
    repo.remove("tests/fixtures/a.json");
    repo.commit_files("Drop the old fixtures", &[]);
    repo.commit_files("Cover the parser", &[("src/parse/tests.rs", "// 4\n")]);
    repo.commit_files(
        "Set up integration checks",
        &[("crates/engine/tests/it/main.rs", "// 5\n")],
    );
    repo.commit_files("net: avoid a stall", &[("src/net/conn_test.go", "// 6\n")]);
    repo.commit_files(
        "Add the contributor guide",
        &[
            ("CONTRIBUTING.md", "hi\n"),
            ("docs/contributing.md", "hi\n"),
        ],
    );
    repo.commit_files(
        "Touch tests and docs",
        &[("tests/pool.rs", "// 7\n"), ("docs/retry.md", "again\n")],
    );
    repo
}

#[test]
fn files_decide_where_the_words_leave_the_kind_open() {
    let repo = repository();
    let got = kinds(read(
        &repo,
        &RangeQuery {
            range: Some("v0.1.0..HEAD".into()),
            ..RangeQuery::default()
        },
    ));
    let expected = [
        ("Fix the race in the pool", Kind::Test),
        ("Describe the retry policy", Kind::Documentation),
        ("Update", Kind::Build),
        ("Tweak the nightly job", Kind::Ci),
        // Source and tests: the words decide.
        ("Handle empty input", Kind::Fix),
        // A Conventional Commits type is never overruled.
        ("feat: add a guide", Kind::Feature),
        // Neither is a breaking change.
        ("Speed up the pool", Kind::Performance),
        // A removal is a change of files too.
        ("Drop the old fixtures", Kind::Test),
        ("Cover the parser", Kind::Test),
        // A directory added whole.
        ("Set up integration checks", Kind::Test),
        ("net: avoid a stall", Kind::Test),
        ("Add the contributor guide", Kind::Documentation),
        // Files of two sorts decide nothing.
        ("Touch tests and docs", Kind::Other),
    ]
    .map(|(s, k)| (s.to_owned(), k));
    assert_eq!(got, expected);
}

#[test]
fn words_only_leaves_the_files_out() {
    let repo = repository();
    let got = kinds(read(
        &repo,
        &RangeQuery {
            range: Some("v0.1.0..HEAD".into()),
            words_only: true,
            ..RangeQuery::default()
        },
    ));
    assert_eq!(got[0], ("Fix the race in the pool".to_owned(), Kind::Fix));
    assert_eq!(
        got[1],
        ("Describe the retry policy".to_owned(), Kind::Other)
    );
    assert!(
        history_files_are_unset(&repo),
        "--words-only reads no files"
    );
}

fn history_files_are_unset(repo: &TestRepo) -> bool {
    read(
        repo,
        &RangeQuery {
            words_only: true,
            ..RangeQuery::default()
        },
    )
    .commits
    .iter()
    .all(|c| c.files.is_none())
}

#[test]
fn a_path_filter_classifies_the_commits_it_keeps() {
    let repo = repository();
    let got = kinds(read(
        &repo,
        &RangeQuery {
            range: Some("v0.1.0..HEAD".into()),
            paths: vec!["tests".into()],
            ..RangeQuery::default()
        },
    ));
    let expected = [
        ("Fix the race in the pool", Kind::Test),
        ("Handle empty input", Kind::Fix),
        ("Speed up the pool", Kind::Performance),
        ("Drop the old fixtures", Kind::Test),
        ("Touch tests and docs", Kind::Other),
    ]
    .map(|(s, k)| (s.to_owned(), k));
    assert_eq!(got, expected);
}

#[test]
fn the_whole_history_classifies_the_root_commit_by_all_its_files() {
    let mut repo = TestRepo::new();
    repo.commit_files("Write the manual", &[("docs/manual.md", "manual\n")]);
    repo.commit_files("Start", &[("src/main.rs", "fn main() {}\n")]);
    let got = kinds(read(&repo, &RangeQuery::default()));
    assert_eq!(
        got,
        [
            ("Write the manual".to_owned(), Kind::Documentation),
            ("Start".to_owned(), Kind::Other),
        ]
    );
}

#[test]
fn merged_commits_are_classified_and_merges_are_not() {
    let mut repo = TestRepo::new();
    repo.commit_files("Start", &[("src/main.rs", "fn main() {}\n")]);
    repo.branch("topic");
    repo.commit_files("Cover main", &[("tests/main.rs", "// t\n")]);
    repo.checkout("main");
    repo.commit_files("Start the server", &[("src/server.rs", "// s\n")]);
    repo.merge(
        "topic",
        "Merge pull request #3 from ada/topic\n\nCover main",
    );
    let history = read(&repo, &RangeQuery::default());
    for commit in &history.commits {
        let expected =
            (commit.summary == "Cover main").then_some(changelog_core::files::Files::Tests);
        assert_eq!(commit.files, expected, "{}", commit.summary);
    }
}
