use changelog_core::source::git::GitSource;
use changelog_core::testing::TestRepo;
use changelog_core::{CommitSource, Error, RangeQuery};
use pretty_assertions::assert_eq;

use crate::{history, summaries};

/// main: a, b (v0.1.0), c, d (v0.2.0), e
fn tagged() -> TestRepo {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.commit("fix: b");
    repo.tag("v0.1.0");
    repo.commit("feat: c");
    repo.commit("fix: d");
    repo.annotated_tag("v0.2.0", "Release 0.2.0");
    repo.commit("feat: e");
    repo
}

#[test]
fn explicit_range_between_tags() {
    let repo = tagged();
    let h = history(repo.path(), Some("v0.1.0..v0.2.0"));
    assert_eq!(summaries(&h), ["feat: c", "fix: d"]);
    let range = h.range.unwrap();
    assert_eq!(range.spec, "v0.1.0..v0.2.0");
    assert_eq!(range.to.tag.as_deref(), Some("v0.2.0"));
    assert_eq!(range.from.unwrap().rev, "v0.1.0");
}

#[test]
fn open_ended_range_runs_to_head() {
    let repo = tagged();
    let h = history(repo.path(), Some("v0.1.0.."));
    assert_eq!(summaries(&h), ["feat: c", "fix: d", "feat: e"]);
    assert_eq!(h.range.unwrap().spec, "v0.1.0..HEAD");
}

#[test]
fn single_tag_runs_from_the_previous_tag() {
    let repo = tagged();
    let h = history(repo.path(), Some("v0.2.0"));
    assert_eq!(summaries(&h), ["feat: c", "fix: d"]);
    assert_eq!(h.range.unwrap().spec, "v0.1.0..v0.2.0");
    // The first tag has no previous tag: the whole history up to it.
    let h = history(repo.path(), Some("v0.1.0"));
    assert_eq!(summaries(&h), ["feat: a", "fix: b"]);
    assert_eq!(h.range.unwrap().spec, "v0.1.0");
}

#[test]
fn no_range_runs_from_the_latest_tag_to_head() {
    let repo = tagged();
    let h = history(repo.path(), None);
    assert_eq!(summaries(&h), ["feat: e"]);
    assert_eq!(h.range.unwrap().spec, "v0.2.0..HEAD");
}

#[test]
fn no_range_on_a_tagged_head_is_that_release() {
    let mut repo = tagged();
    repo.commit("fix: f");
    repo.tag("v0.3.0");
    let h = history(repo.path(), None);
    assert_eq!(summaries(&h), ["feat: e", "fix: f"]);
    let range = h.range.unwrap();
    assert_eq!(range.spec, "v0.2.0..v0.3.0");
    assert_eq!(range.to.tag.as_deref(), Some("v0.3.0"));
}

#[test]
fn no_range_and_no_tag_is_the_whole_history() {
    let mut repo = TestRepo::new();
    repo.commit("feat: one");
    repo.commit("feat: two");
    let h = history(repo.path(), None);
    assert_eq!(summaries(&h), ["feat: one", "feat: two"]);
    let range = h.range.unwrap();
    assert_eq!(range.spec, "HEAD");
    assert!(range.from.is_none());
}

#[test]
fn empty_range() {
    let repo = tagged();
    let h = history(repo.path(), Some("v0.2.0..v0.2.0"));
    assert!(h.commits.is_empty());
}

#[test]
fn merged_commits_are_listed_once_and_inherit_the_pull_request() {
    let mut repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    repo.branch("feature");
    let f1 = repo.commit("feat: on the branch");
    let f2 = repo.commit("fix: also on the branch");
    repo.checkout("main");
    let m1 = repo.commit("docs: meanwhile on main");
    repo.merge(
        "feature",
        "Merge pull request #34 from someone/feature\n\nFeature",
    );
    repo.tag("v1.1.0");

    let h = history(repo.path(), Some("v1.0.0..v1.1.0"));
    let ids: Vec<_> = h.commits.iter().map(|c| c.id.clone()).collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), 4, "three commits and the merge");
    assert_eq!(unique.len(), 4, "each once");
    for commit in &h.commits {
        let expected: &[&str] = if commit.id == f1.to_string() || commit.id == f2.to_string() {
            &["#34"]
        } else {
            &[]
        };
        assert_eq!(commit.merge_refs, expected, "{}", commit.summary);
    }
    assert!(h.commits.iter().any(|c| c.id == m1.to_string()));
}

#[test]
fn gitlab_merge_requests_pass_their_reference_on() {
    let mut repo = TestRepo::new();
    repo.commit("feat: base");
    repo.branch("topic");
    repo.commit("feat: topic work");
    repo.checkout("main");
    repo.commit("chore: unrelated");
    repo.merge(
        "topic",
        "Merge branch 'topic' into 'main'\n\nTopic work\n\nSee merge request group/project!12",
    );
    let h = history(repo.path(), None);
    let topic = h
        .commits
        .iter()
        .find(|c| c.summary == "feat: topic work")
        .unwrap();
    assert_eq!(topic.merge_refs, ["!12"]);
}

#[test]
fn mailmap_is_honoured() {
    let mut repo = TestRepo::new();
    repo.write(
        ".mailmap",
        "Grace Hopper <grace@example.com> <ghopper@old.example.com>\n",
    );
    repo.commit_as("feat: compiler", "G. Hopper", "ghopper@old.example.com");
    let h = history(repo.path(), None);
    assert_eq!(h.commits[0].author.name, "Grace Hopper");
    assert_eq!(h.commits[0].author.email, "grace@example.com");
}

#[test]
fn path_filters_keep_commits_touching_the_path() {
    let mut repo = TestRepo::new();
    repo.commit_files("feat(foo): one", &[("crates/foo/src/lib.rs", "1")]);
    repo.commit_files("feat(bar): two", &[("crates/bar/src/lib.rs", "2")]);
    repo.commit_files(
        "fix: both",
        &[
            ("crates/foo/src/lib.rs", "3"),
            ("crates/bar/src/lib.rs", "3"),
        ],
    );
    repo.commit_files("docs: readme", &[("README.md", "hi")]);
    let source = GitSource::open(repo.path()).unwrap();
    let read = |paths: &[&str]| {
        let h = source
            .read(&RangeQuery {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                ..RangeQuery::default()
            })
            .unwrap();
        summaries(&h)
    };
    assert_eq!(read(&["crates/foo/"]), ["feat(foo): one", "fix: both"]);
    assert_eq!(read(&["./crates/bar"]), ["feat(bar): two", "fix: both"]);
    assert_eq!(read(&["README.md", "crates/bar"]).len(), 3);
    // A path that is nowhere (a typo) is an error naming it, not an empty changelog.
    let err = source
        .read(&RangeQuery {
            paths: vec!["crates/fo".to_owned()],
            ..RangeQuery::default()
        })
        .unwrap_err();
    assert!(matches!(err, Error::InvalidPath { .. }), "{err}");
    assert!(err.to_string().contains("`crates/fo`"), "{err}");
    assert!(err.to_string().contains("matches nothing"), "{err}");
    assert!(err.is_usage());
    // A path that exists but that no commit of the range changed gives no commits.
    repo.tag("v1.0.0");
    repo.commit_files("docs: again", &[("README.md", "again")]);
    let unchanged = source
        .read(&RangeQuery {
            range: Some("v1.0.0..HEAD".to_owned()),
            paths: vec!["crates/foo".to_owned()],
            ..RangeQuery::default()
        })
        .unwrap();
    assert!(unchanged.commits.is_empty());
}

#[test]
fn a_reversed_range_is_an_error_that_shows_the_right_order() {
    let repo = tagged();
    let source = GitSource::open(repo.path()).unwrap();
    let err = source
        .read(&RangeQuery {
            range: Some("v0.2.0..v0.1.0".to_owned()),
            ..RangeQuery::default()
        })
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRange { .. }), "{err}");
    assert!(err.is_usage());
    let message = err.to_string();
    assert!(message.contains("reversed"), "{message}");
    assert!(message.contains("`v0.1.0..v0.2.0`"), "{message}");
    // The same end twice is simply empty.
    let same = source
        .read(&RangeQuery {
            range: Some("v0.2.0..v0.2.0".to_owned()),
            ..RangeQuery::default()
        })
        .unwrap();
    assert!(same.commits.is_empty());
}

#[test]
fn date_filters_use_the_commit_date() {
    let mut repo = TestRepo::new();
    for n in 0..5 {
        repo.commit(&format!("feat: {n}"));
    }
    // TestRepo commits are one minute apart from 1_700_000_000 + 60.
    let at = |s: i64| {
        chrono::DateTime::from_timestamp(1_700_000_000 + s, 0)
            .unwrap()
            .fixed_offset()
    };
    let h = GitSource::open(repo.path())
        .unwrap()
        .read(&RangeQuery {
            since: Some(at(120)),
            until: Some(at(240)),
            ..RangeQuery::default()
        })
        .unwrap();
    assert_eq!(summaries(&h), ["feat: 1", "feat: 2", "feat: 3"]);
}

#[test]
fn non_utf8_messages_are_read() {
    let mut repo = TestRepo::new();
    repo.commit("feat: first");
    repo.commit_raw_message(b"fix: caf\xe9 cr\xe8me\n", Some("ISO-8859-1"));
    repo.commit_raw_message(b"fix: broken \xff bytes\n", None);
    let h = history(repo.path(), None);
    assert_eq!(
        summaries(&h),
        [
            "feat: first",
            "fix: café crème",
            "fix: broken \u{fffd} bytes"
        ]
    );
}

#[test]
fn short_ids_are_unambiguous_and_at_least_seven_digits() {
    let mut repo = TestRepo::new();
    for n in 0..50 {
        repo.commit(&format!("feat: {n}"));
    }
    let h = history(repo.path(), None);
    for commit in &h.commits {
        assert!(commit.short_id.len() >= 7);
        assert!(commit.id.starts_with(&commit.short_id));
        let sharing = h
            .commits
            .iter()
            .filter(|c| c.id.starts_with(&commit.short_id))
            .count();
        assert_eq!(sharing, 1);
    }
}

#[test]
fn errors_name_the_offending_input() {
    let repo = tagged();
    let source = GitSource::open(repo.path()).unwrap();
    let read = |range: &str| {
        source
            .read(&RangeQuery {
                range: Some(range.to_owned()),
                ..RangeQuery::default()
            })
            .unwrap_err()
    };
    let err = read("v9.9.9..v0.2.0");
    assert!(matches!(&err, Error::UnknownRevision { rev } if rev == "v9.9.9"));
    assert!(err.to_string().contains("`v9.9.9`"));
    assert!(!err.is_usage());
    let err = read("v0.1.0..nope");
    assert!(err.to_string().contains("`nope`"), "{err}");
    for bad in ["a..b..c", "a...b", "..", "  "] {
        let err = read(bad);
        assert!(matches!(err, Error::InvalidRange { .. }), "{bad}: {err}");
        assert!(err.is_usage());
    }
    let err = GitSource::open(std::env::temp_dir().join("surely-not-here-42")).unwrap_err();
    assert!(matches!(err, Error::PathNotFound { .. }), "{err}");
    let plain = tempfile::tempdir().unwrap();
    let err = GitSource::open(plain.path()).unwrap_err();
    assert!(err.to_string().contains("is not a git repository"), "{err}");
    assert!(
        err.to_string()
            .contains(&plain.path().display().to_string())
    );
}

#[test]
fn unborn_head_is_a_clear_error() {
    let repo = TestRepo::new();
    let err = GitSource::open(repo.path())
        .unwrap()
        .read(&RangeQuery::default())
        .unwrap_err();
    assert!(matches!(err, Error::UnbornHead { .. }), "{err}");
    assert!(err.to_string().contains("no commits yet"), "{err}");
}

#[test]
fn origin_on_github_is_recognised() {
    let mut repo = TestRepo::new();
    repo.commit("feat: x");
    repo.set_origin("git@github.com:acme/rocket.git");
    let source = GitSource::open(repo.path()).unwrap();
    assert_eq!(
        source.repository().unwrap().url,
        "https://github.com/acme/rocket"
    );
}

#[tokio::test]
async fn the_source_is_usable_as_a_trait_object() {
    let mut repo = TestRepo::new();
    repo.commit("feat: x");
    let source: std::sync::Arc<dyn CommitSource> =
        std::sync::Arc::new(GitSource::open(repo.path()).unwrap());
    let h = source.history(&RangeQuery::default()).await.unwrap();
    assert_eq!(h.commits.len(), 1);
    assert_eq!(source.name(), repo.path().display().to_string());
}

#[test]
fn the_greatest_version_names_a_commit_with_several_tags() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("v1.0.0");
    repo.commit("feat: b");
    repo.tag("v1.9.0");
    repo.tag("v1.10.0");
    repo.tag("v1.10.0-rc.1");
    repo.tag("nightly");
    let h = history(repo.path(), None);
    let range = h.range.unwrap();
    assert_eq!(range.to.tag.as_deref(), Some("v1.10.0"));
    assert_eq!(range.spec, "v1.0.0..v1.10.0");
}

#[test]
fn a_tagged_end_gives_its_tag_whatever_it_is_called() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("v1.0.0");
    repo.commit("feat: b");
    repo.tag("v1.1.0");
    for range in ["v1.0.0..HEAD", "v1.0.0..main", "HEAD"] {
        let h = history(repo.path(), Some(range));
        assert_eq!(
            h.range.unwrap().to.tag.as_deref(),
            Some("v1.1.0"),
            "{range}"
        );
    }
}

#[test]
fn reapplying_a_reverted_change_keeps_it() {
    let mut repo = TestRepo::new();
    repo.commit("chore: start");
    repo.tag("v1.0.0");
    let original = repo.commit("feat: the experiment");
    let revert = repo.commit(&format!(
        "Revert \"feat: the experiment\"\n\nThis reverts commit {original}."
    ));
    repo.commit(&format!(
        "Reapply \"feat: the experiment\"\n\nThis reverts commit {revert}."
    ));
    let log = changelog_core::build(
        history(repo.path(), Some("v1.0.0..HEAD")),
        &changelog_core::BuildOptions::default(),
    );
    let texts: Vec<(&str, &str)> = log
        .sections
        .iter()
        .flat_map(|s| {
            s.entries
                .iter()
                .map(move |e| (s.title.as_str(), e.text.as_str()))
        })
        .collect();
    assert_eq!(texts, [("Features", "the experiment")]);
    assert_eq!(log.stats.reverted, 2);
}

#[test]
fn dates_out_of_order_and_revisions_that_are_not_commits_are_named() {
    let repo = tagged();
    let source = GitSource::open(repo.path()).unwrap();
    let day = |d: &str| changelog_core::source::parse_date(d, false).unwrap();
    let err = source
        .read(&RangeQuery {
            since: Some(day("2024-02-01")),
            until: Some(day("2024-01-01")),
            ..RangeQuery::default()
        })
        .unwrap_err();
    assert!(err.is_usage(), "{err}");
    assert!(err.to_string().contains("after the end date"), "{err}");
    let err = source
        .read(&RangeQuery {
            range: Some("HEAD^{tree}".into()),
            ..RangeQuery::default()
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotACommit { rev } if rev == "HEAD^{tree}"),
        "{err}"
    );
    assert!(!err.is_usage());
    // Spaces around `..` are forgiven.
    let h = source
        .read(&RangeQuery {
            range: Some("v0.1.0 .. v0.2.0".into()),
            ..RangeQuery::default()
        })
        .unwrap();
    assert_eq!(summaries(&h), ["feat: c", "fix: d"]);
}

#[test]
fn latin1_author_names_are_decoded() {
    let mut repo = TestRepo::new();
    repo.commit("feat: first");
    repo.commit_raw_message(b"fix: x\n", Some("ISO-8859-1"));
    let h = history(repo.path(), None);
    assert_eq!(h.commits[0].author.name, "Ada Lovelace");
}

#[test]
fn reverting_a_pull_request_merge_cancels_what_it_merged() {
    let mut repo = TestRepo::new();
    repo.commit("chore: start");
    repo.tag("v1.0.0");
    repo.branch("feature");
    repo.checkout("feature");
    repo.commit("feat: the experiment");
    repo.commit("fix: the experiment's edge case");
    repo.checkout("main");
    repo.commit("feat: kept");
    let main_before = repo.head();
    let merge = repo.merge(
        "feature",
        "Merge pull request #12 from someone/feature\n\nThe experiment",
    );
    repo.commit("docs: after the merge");
    // What `git revert -m 1 <merge>` writes.
    repo.commit(&format!(
        "Revert \"Merge pull request #12 from someone/feature\"\n\n\
         This reverts commit {merge}, reversing\nchanges made to {main_before}."
    ));
    let log = changelog_core::build(
        history(repo.path(), Some("v1.0.0..HEAD")),
        &changelog_core::BuildOptions::default(),
    );
    let texts: Vec<&str> = log
        .sections
        .iter()
        .flat_map(|s| s.entries.iter().map(|e| e.text.as_str()))
        .collect();
    assert_eq!(texts, ["kept", "after the merge"]);
    assert_eq!(log.stats.reverted, 3);
}

/// Makes the repository shallow at `boundary`: git records the commits whose parents a
/// shallow clone does not have in `.git/shallow`.
fn make_shallow(repo: &TestRepo, boundary: git2::Oid) {
    std::fs::write(repo.path().join(".git/shallow"), format!("{boundary}\n")).unwrap();
}

#[test]
fn a_range_that_reaches_a_shallow_boundary_is_an_error_unless_allowed() {
    let mut repo = TestRepo::new();
    repo.commit("feat: one");
    repo.commit("feat: two");
    let boundary = repo.commit("feat: three");
    repo.tag("v0.1.0");
    repo.commit("fix: four");
    repo.commit("fix: five");
    make_shallow(&repo, boundary);
    let source = GitSource::open(repo.path()).unwrap();

    // The release of v0.1.0 is the whole history up to it, which stops at the boundary: an
    // error that says so and names the ways out.
    let err = source
        .read(&RangeQuery {
            range: Some("v0.1.0".into()),
            ..RangeQuery::default()
        })
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("shallow"), "{message}");
    assert!(message.contains(&boundary.to_string()[..7]), "{message}");
    assert!(message.contains("--allow-shallow"), "{message}");
    assert!(message.contains("git fetch --unshallow"), "{message}");

    // The default range, from the latest tag, is above the boundary: whole, no error.
    let h = source.read(&RangeQuery::default()).unwrap();
    assert_eq!(h.commits.len(), 2);
    assert_eq!(h.range.unwrap().truncated_at, None);

    // Allowed: what the clone has, and the range says where it stops.
    let h = source
        .read(&RangeQuery {
            range: Some("v0.1.0".into()),
            allow_shallow: true,
            ..RangeQuery::default()
        })
        .unwrap();
    assert_eq!(h.commits.len(), 1);
    assert_eq!(
        h.range.unwrap().truncated_at.as_deref(),
        Some(boundary.to_string().as_str())
    );
}

/// A monorepo: `tokio-` releases, and another package's tag between two of them.
fn monorepo() -> TestRepo {
    let mut repo = TestRepo::new();
    repo.commit("feat: first");
    repo.tag("tokio-1.52.0");
    repo.commit("fix(tokio): second");
    repo.commit("feat(macros): third");
    repo.tag("tokio-macros-2.7.1");
    repo.commit("fix(tokio): fourth");
    repo.tag("tokio-1.53.0");
    repo.commit("feat(tokio): fifth");
    repo.tag("tokio-macros-2.7.2");
    repo.commit("feat(tokio): sixth");
    repo
}

#[test]
fn with_a_tag_prefix_only_the_packages_own_tags_bound_a_range() {
    let repo = monorepo();
    let source = GitSource::open(repo.path()).unwrap();
    let read = |range: Option<&str>, prefix: Option<&str>| {
        let h = source
            .read(&RangeQuery {
                range: range.map(str::to_owned),
                tag_prefix: prefix.map(str::to_owned),
                ..RangeQuery::default()
            })
            .unwrap();
        (h.range.clone().unwrap().spec, summaries(&h))
    };
    // Without a prefix, any tag is the nearest.
    assert_eq!(
        read(Some("tokio-1.53.0"), None),
        (
            "tokio-macros-2.7.1..tokio-1.53.0".to_owned(),
            vec!["fix(tokio): fourth".to_owned()]
        )
    );
    // With one, `tokio-macros-2.7.1` is another package's tag: `macros-2.7.1` is no version.
    assert_eq!(
        read(Some("tokio-1.53.0"), Some("tokio-")),
        (
            "tokio-1.52.0..tokio-1.53.0".to_owned(),
            vec![
                "fix(tokio): second".to_owned(),
                "feat(macros): third".to_owned(),
                "fix(tokio): fourth".to_owned()
            ]
        )
    );
    // The default range starts at the package's latest release.
    assert_eq!(
        read(None, Some("tokio-")),
        (
            "tokio-1.53.0..HEAD".to_owned(),
            vec![
                "feat(tokio): fifth".to_owned(),
                "feat(tokio): sixth".to_owned()
            ]
        )
    );
    assert_eq!(
        read(None, Some("tokio-macros-")).0,
        "tokio-macros-2.7.2..HEAD"
    );
}

#[test]
fn an_open_lower_end_is_the_whole_history_every_root_included() {
    let mut repo = tagged();
    // A second root, merged in: its commits are history too.
    repo.orphan("docs-site");
    repo.commit("docs: the site's first page");
    repo.checkout("main");
    repo.merge("docs-site", "Merge the documentation site");
    let all = |range: &str| {
        summaries(&history(repo.path(), Some(range)))
            .into_iter()
            .filter(|s| !s.starts_with("Merge"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        all("..HEAD"),
        [
            "feat: a",
            "fix: b",
            "feat: c",
            "fix: d",
            "feat: e",
            "docs: the site's first page"
        ]
    );
    assert_eq!(all("..v0.2.0"), ["feat: a", "fix: b", "feat: c", "fix: d"]);
    let h = history(repo.path(), Some("..v0.2.0"));
    let range = h.range.unwrap();
    assert_eq!(range.spec, "..v0.2.0");
    assert!(range.from.is_none());
}

#[cfg(unix)]
#[test]
fn a_path_filter_sees_a_change_of_mode_alone() {
    use std::os::unix::fs::PermissionsExt as _;
    let mut repo = TestRepo::new();
    repo.commit_files(
        "feat: the release script",
        &[("scripts/release.sh", "echo\n")],
    );
    repo.commit("docs: something else");
    let script = repo.path().join("scripts/release.sh");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.commit_files("fix: make the release script executable", &[]);
    let h = GitSource::open(repo.path())
        .unwrap()
        .read(&RangeQuery {
            paths: vec!["scripts/release.sh".into()],
            ..RangeQuery::default()
        })
        .unwrap();
    assert_eq!(
        summaries(&h),
        [
            "feat: the release script",
            "fix: make the release script executable"
        ]
    );
}
