//! The next version, from the commits since the latest release of real repositories.

use changelog_core::RangeQuery;
use changelog_core::request::{self, Request};
use changelog_core::source::git::RepoPolicy;
use changelog_core::testing::TestRepo;
use changelog_core::version::{BumpRules, Level, Version, ZeroMajor};
use pretty_assertions::assert_eq;

/// Runs a future of the core on a runtime of its own.
fn block_on<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(work)
}

fn next(repo: &TestRepo, query: RangeQuery, rules: BumpRules) -> request::Bump {
    let request = Request {
        repo_url: Some(repo.path().to_string_lossy().into_owned()),
        query,
        bump: rules,
        ..Request::default()
    };
    block_on(request::bump(&request, &RepoPolicy::command_line())).expect("bump")
}

/// A repository released as `tag`, then `messages` committed.
fn released(tag: &str, messages: &[&str]) -> TestRepo {
    let mut repo = TestRepo::new();
    repo.commit("feat: the first release");
    repo.tag(tag);
    for message in messages {
        repo.commit(message);
    }
    repo
}

#[test]
fn the_commits_since_the_latest_release_decide_the_bump() {
    let table: &[(&str, &[&str], &str, Level)] = &[
        ("v1.2.3", &["fix: a", "feat: b"], "v1.3.0", Level::Minor),
        ("v1.2.3", &["fix: a", "perf: b"], "v1.2.4", Level::Patch),
        (
            "v1.2.3",
            &["feat!: drop the old API"],
            "v2.0.0",
            Level::Major,
        ),
        (
            "1.2.3",
            &["refactor: x\n\nBREAKING CHANGE: the config moved"],
            "2.0.0",
            Level::Major,
        ),
        (
            "v1.2.3",
            &["Fix the crash on empty input"],
            "v1.2.4",
            Level::Patch,
        ),
        (
            "v1.2.3",
            &["security: escape names"],
            "v1.2.4",
            Level::Patch,
        ),
        (
            "v1.2.3",
            &[
                "docs: typo",
                "test: more",
                "ci: cache",
                "chore: tidy",
                "refactor: split",
            ],
            "v1.2.3",
            Level::None,
        ),
        ("v1.2.3", &["chore(release): 1.2.4"], "v1.2.3", Level::None),
        ("v0.4.1", &["feat!: new format"], "v1.0.0", Level::Major),
    ];
    for (tag, messages, want, level) in table {
        let repo = released(tag, messages);
        let bump = next(&repo, RangeQuery::default(), BumpRules::default());
        assert_eq!(
            (bump.tag.as_str(), bump.level),
            (*want, *level),
            "{tag} then {messages:?}"
        );
        assert_eq!(bump.latest.as_deref(), Some(*tag));
        assert_eq!(bump.commits, messages.len());
    }
}

#[test]
fn cargo_reads_zero_versions_differently() {
    let cargo = BumpRules {
        zero_major: ZeroMajor::Cargo,
        ..BumpRules::default()
    };
    let table: &[(&[&str], &str)] = &[
        (&["feat!: new format"], "v0.5.0"),
        (&["feat: more"], "v0.4.2"),
        (&["fix: less"], "v0.4.2"),
    ];
    for (messages, want) in table {
        let repo = released("v0.4.1", messages);
        assert_eq!(next(&repo, RangeQuery::default(), cargo.clone()).tag, *want);
    }
}

#[test]
fn pre_releases_count_up_then_become_the_release() {
    let rc = BumpRules {
        pre: Some("rc".into()),
        ..BumpRules::default()
    };
    let mut repo = released("v1.2.0", &["feat: a"]);
    assert_eq!(
        next(&repo, RangeQuery::default(), rc.clone()).tag,
        "v1.3.0-rc.1"
    );
    repo.tag("v1.3.0-rc.1");
    repo.commit("fix: b");
    assert_eq!(
        next(&repo, RangeQuery::default(), rc.clone()).tag,
        "v1.3.0-rc.2"
    );
    assert_eq!(
        next(&repo, RangeQuery::default(), BumpRules::default()).tag,
        "v1.3.0"
    );
    repo.commit("feat!: c");
    assert_eq!(next(&repo, RangeQuery::default(), rc).tag, "v2.0.0-rc.1");
}

#[test]
fn a_tag_prefix_is_kept_and_other_packages_tags_do_not_count() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("tokio-1.52.0");
    repo.commit("feat(macros): b");
    repo.tag("tokio-macros-2.7.1");
    repo.commit("fix(tokio): c");
    let query = RangeQuery {
        tag_prefix: Some("tokio-".into()),
        ..RangeQuery::default()
    };
    let bump = next(&repo, query, BumpRules::default());
    assert_eq!(bump.latest.as_deref(), Some("tokio-1.52.0"));
    assert_eq!(bump.tag, "tokio-1.53.0");
    assert_eq!(bump.version_text(), "1.53.0");
    assert_eq!(bump.commits, 2);
}

#[test]
fn without_a_release_the_next_version_is_the_initial_one() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("nightly");
    repo.commit("fix: b");
    let bump = next(&repo, RangeQuery::default(), BumpRules::default());
    assert_eq!((bump.latest, bump.tag.as_str()), (None, "0.1.0"));
    let rules = BumpRules {
        initial: Version::parse("1.0.0").unwrap(),
        ..BumpRules::default()
    };
    assert_eq!(next(&repo, RangeQuery::default(), rules).tag, "1.0.0");
}

#[test]
fn a_tag_pattern_reads_versions_after_any_lead() {
    let repo = released("release-1.4.0", &["feat: a"]);
    let query = RangeQuery {
        tag_pattern: Some("release-*".into()),
        ..RangeQuery::default()
    };
    assert_eq!(
        next(&repo, query, BumpRules::default()).tag,
        "release-1.5.0"
    );
}

#[test]
fn version_auto_heads_the_changelog_with_the_next_version() {
    let repo = released("v1.2.3", &["feat: a"]);
    let request = Request {
        repo_url: Some(repo.path().to_string_lossy().into_owned()),
        version: Some(request::AUTO_VERSION.to_owned()),
        ..Request::default()
    };
    let generated = block_on(request::generate(
        &request,
        &RepoPolicy::command_line(),
        &changelog_core::pipeline::Quiet,
    ))
    .unwrap();
    assert_eq!(generated.changelog.version.as_deref(), Some("v1.3.0"));
}

#[test]
fn nothing_to_release_prints_the_latest_tag_as_written() {
    let repo = released("v1.2", &["docs: more"]);
    let bump = next(&repo, RangeQuery::default(), BumpRules::default());
    assert_eq!((bump.tag.as_str(), bump.level), ("v1.2", Level::None));
}

#[test]
fn a_pre_release_that_would_go_backwards_is_refused() {
    let mut repo = released("v1.2.0", &["feat: a"]);
    repo.tag("v1.3.0-rc.2");
    repo.commit("fix: b");
    let request = Request {
        repo_url: Some(repo.path().to_string_lossy().into_owned()),
        bump: BumpRules {
            pre: Some("beta".into()),
            ..BumpRules::default()
        },
        ..Request::default()
    };
    let err = block_on(request::bump(&request, &RepoPolicy::command_line())).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("1.3.0-beta.1") && message.contains("1.3.0-rc.2"),
        "{message}"
    );
}

/// `generate --version auto` over `range`: the version it heads the changelog with.
fn auto(repo: &TestRepo, range: Option<&str>) -> changelog_core::Result<Option<String>> {
    let request = Request {
        repo_url: Some(repo.path().to_string_lossy().into_owned()),
        version: Some(request::AUTO_VERSION.to_owned()),
        query: RangeQuery {
            range: range.map(str::to_owned),
            ..RangeQuery::default()
        },
        ..Request::default()
    };
    block_on(request::generate(
        &request,
        &RepoPolicy::command_line(),
        &changelog_core::pipeline::Quiet,
    ))
    .map(|generated| generated.changelog.version)
}

#[test]
fn version_auto_counts_from_a_release_and_names_a_tagged_end_by_its_tag() {
    let mut repo = released("v1.2.0", &["fix: a"]);
    repo.tag("v1.3.0");
    repo.commit("fix: b");
    // A range that ends at a release is that release.
    assert_eq!(
        auto(&repo, Some("v1.2.0..v1.3.0")).unwrap().as_deref(),
        Some("v1.3.0")
    );
    assert_eq!(auto(&repo, None).unwrap().as_deref(), Some("v1.3.1"));
    // A range from no release tag has no version to count from: said, not guessed.
    let untagged = repo.head().to_string();
    repo.commit("fix: c");
    let err = auto(&repo, Some(&format!("{untagged}..HEAD"))).unwrap_err();
    assert!(err.to_string().contains("no release tag"), "{err}");
}
