//! Several releases from one walk of the history.

use changelog_core::source::git::GitSource;
use changelog_core::testing::TestRepo;
use changelog_core::{History, RangeQuery, ReleaseSelection};
use pretty_assertions::assert_eq;

use crate::summaries;

/// Each release's range and summaries, newest first.
fn releases(
    repo: &TestRepo,
    query: &RangeQuery,
    selection: ReleaseSelection,
) -> Vec<(String, Vec<String>)> {
    GitSource::open(repo.path())
        .unwrap()
        .read_releases(query, selection)
        .unwrap()
        .iter()
        .map(|h: &History| (h.range.clone().unwrap().spec, summaries(h)))
        .collect()
}

fn all() -> ReleaseSelection {
    ReleaseSelection::default()
}

fn release(spec: &str, summaries: &[&str]) -> (String, Vec<String>) {
    (
        spec.to_owned(),
        summaries.iter().map(|s| (*s).to_owned()).collect(),
    )
}

/// a, b (v0.1.0), c, d (v0.2.0-rc.1), e (v0.2.0, annotated), f; a `docs-snapshot` tag on c.
fn linear() -> TestRepo {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.commit("fix: b");
    repo.tag("v0.1.0");
    repo.commit("feat: c");
    repo.tag("docs-snapshot");
    repo.commit("fix: d");
    repo.tag("v0.2.0-rc.1");
    repo.commit("feat: e");
    repo.annotated_tag("v0.2.0", "Release 0.2.0");
    repo.commit("fix: f");
    repo
}

#[test]
fn every_release_holds_what_it_added_newest_first() {
    let repo = linear();
    let q = RangeQuery::default();
    assert_eq!(
        releases(&repo, &q, all()),
        [
            release("v0.2.0-rc.1..v0.2.0", &["feat: e"]),
            release("v0.1.0..v0.2.0-rc.1", &["feat: c", "fix: d"]),
            release("..v0.1.0", &["feat: a", "fix: b"]),
        ]
    );
    let with_unreleased = ReleaseSelection {
        count: Some(1),
        unreleased: true,
    };
    assert_eq!(
        releases(&repo, &q, with_unreleased),
        [
            release("v0.2.0..HEAD", &["fix: f"]),
            release("v0.2.0-rc.1..v0.2.0", &["feat: e"]),
        ]
    );
    let only_unreleased = ReleaseSelection {
        count: Some(0),
        unreleased: true,
    };
    assert_eq!(
        releases(&repo, &q, only_unreleased),
        [release("v0.2.0..HEAD", &["fix: f"])]
    );
}

#[test]
fn a_history_without_release_tags_is_all_unreleased() {
    let mut repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("nightly");
    repo.commit("feat: two");
    let q = RangeQuery::default();
    assert!(releases(&repo, &q, all()).is_empty());
    let unreleased = ReleaseSelection {
        count: None,
        unreleased: true,
    };
    assert_eq!(
        releases(&repo, &q, unreleased),
        [release("..HEAD", &["feat: one", "feat: two"])]
    );
}

#[test]
fn a_release_of_a_maintenance_branch_keeps_its_own_commits() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("v1.0.0");
    repo.branch("maint");
    repo.commit("fix: backported");
    repo.tag("v1.0.1");
    repo.checkout("main");
    repo.commit("feat: b");
    repo.merge("maint", "Merge branch 'maint'");
    repo.commit("feat: c");
    repo.tag("v1.1.0");
    let got = releases(&repo, &RangeQuery::default(), all());
    let specs: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(specs, ["v1.0.1..v1.1.0", "v1.0.0..v1.0.1", "..v1.0.0"]);
    let without_merges = |i: usize| -> Vec<String> {
        got[i]
            .1
            .iter()
            .filter(|s| !s.starts_with("Merge"))
            .cloned()
            .collect()
    };
    assert_eq!(without_merges(0), ["feat: b", "feat: c"]);
    assert_eq!(without_merges(1), ["fix: backported"]);
    assert_eq!(without_merges(2), ["feat: a"]);
}

#[test]
fn a_tag_prefix_reads_one_packages_releases() {
    let mut repo = TestRepo::new();
    repo.commit("feat: first");
    repo.tag("tokio-1.52.0");
    repo.commit("feat(macros): second");
    repo.tag("tokio-macros-2.7.1");
    repo.commit("fix(tokio): third");
    repo.tag("tokio-1.53.0");
    let q = RangeQuery {
        tag_prefix: Some("tokio-".into()),
        ..RangeQuery::default()
    };
    assert_eq!(
        releases(&repo, &q, all()),
        [
            release(
                "tokio-1.52.0..tokio-1.53.0",
                &["feat(macros): second", "fix(tokio): third"]
            ),
            release("..tokio-1.52.0", &["feat: first"]),
        ]
    );
}

#[test]
fn a_range_cannot_be_given_with_releases() {
    let repo = linear();
    let err = GitSource::open(repo.path())
        .unwrap()
        .read_releases(
            &RangeQuery {
                range: Some("v0.1.0..".into()),
                ..RangeQuery::default()
            },
            all(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("leave the range out"), "{err}");
}

#[test]
fn a_tagged_head_has_nothing_unreleased_and_a_prefix_ranks_versions() {
    let mut repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("tokio-1.9.0");
    repo.commit("feat: two");
    repo.tag("tokio-2.0.0-rc.1");
    repo.tag("tokio-2.0.0");
    let q = RangeQuery {
        tag_prefix: Some("tokio-".into()),
        ..RangeQuery::default()
    };
    let histories = GitSource::open(repo.path())
        .unwrap()
        .read_releases(
            &q,
            ReleaseSelection {
                count: Some(1),
                unreleased: true,
            },
        )
        .unwrap();
    let unreleased = histories[0].range.clone().unwrap();
    assert!(histories[0].commits.is_empty());
    assert_eq!(unreleased.to.tag, None);
    assert_eq!(unreleased.spec, "tokio-2.0.0..HEAD");
    // The release, not its candidate, names the commit both are on.
    assert_eq!(
        histories[1].range.clone().unwrap().spec,
        "tokio-1.9.0..tokio-2.0.0"
    );
}

#[test]
fn the_latest_releases_are_the_first_of_all_releases() {
    // Reading the latest N stops the walk at release N + 1; what it gives is what reading
    // every release gives first, ranges included.
    let mut maintenance = TestRepo::new();
    maintenance.commit("feat: a");
    maintenance.tag("v1.0.0");
    maintenance.branch("maint");
    maintenance.commit("fix: backported");
    maintenance.tag("v1.0.1");
    maintenance.checkout("main");
    maintenance.commit("feat: b");
    maintenance.merge("maint", "Merge branch 'maint'");
    maintenance.commit("feat: c");
    maintenance.tag("v1.1.0");
    maintenance.commit("fix: d");
    for repo in [linear(), maintenance] {
        let q = RangeQuery::default();
        let every = releases(&repo, &q, all());
        for count in 0..=every.len() + 1 {
            let latest = releases(
                &repo,
                &q,
                ReleaseSelection {
                    count: Some(count),
                    unreleased: false,
                },
            );
            assert_eq!(latest, every[..count.min(every.len())], "latest {count}");
            let with_unreleased = releases(
                &repo,
                &q,
                ReleaseSelection {
                    count: Some(count),
                    unreleased: true,
                },
            );
            assert_eq!(with_unreleased[1..], every[..count.min(every.len())]);
        }
    }
}

#[test]
fn a_tag_pattern_and_skipped_tags_decide_what_a_release_is() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("release-2024.05");
    repo.commit("feat: b");
    repo.tag("v9.9.9");
    repo.commit("fix: c");
    repo.tag("release-2024.06-beta");
    repo.commit("fix: d");
    repo.tag("release-2024.06");
    repo.commit("feat: e");

    let glob = RangeQuery {
        tag_pattern: Some("release-*".into()),
        skip_tags: Some("-beta$".into()),
        ..RangeQuery::default()
    };
    assert_eq!(
        releases(&repo, &glob, all()),
        [
            release(
                "release-2024.05..release-2024.06",
                &["feat: b", "fix: c", "fix: d"]
            ),
            release("..release-2024.05", &["feat: a"]),
        ]
    );
    // A regular expression; the default range starts at the newest tag it matches.
    let regex = RangeQuery {
        tag_pattern: Some(r"^v\d+\.\d+\.\d+$".into()),
        ..RangeQuery::default()
    };
    assert_eq!(
        releases(&repo, &regex, all()),
        [release("..v9.9.9", &["feat: a", "feat: b"])]
    );
    let history = GitSource::open(repo.path()).unwrap().read(&regex).unwrap();
    assert_eq!(history.range.unwrap().spec, "v9.9.9..HEAD");

    let bad = RangeQuery {
        tag_pattern: Some("v(".into()),
        ..RangeQuery::default()
    };
    let err = GitSource::open(repo.path())
        .unwrap()
        .read(&bad)
        .unwrap_err();
    assert_eq!(err.kind(), changelog_core::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("`v(`"), "{err}");
}

#[test]
fn a_tag_on_a_branch_head_does_not_reach_is_no_release_of_head() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("v1.0.0");
    repo.branch("next");
    repo.commit("feat: experiment");
    repo.tag("v2.0.0-alpha.1");
    repo.checkout("main");
    repo.commit("fix: b");
    repo.tag("v1.0.1");
    assert_eq!(
        releases(&repo, &RangeQuery::default(), all()),
        [
            release("v1.0.0..v1.0.1", &["fix: b"]),
            release("..v1.0.0", &["feat: a"]),
        ]
    );
}

/// Moves every tag of the repository into `packed-refs`, as `git pack-refs --all` does, with
/// the peeled line of each annotated tag.
fn pack_tags(repo: &TestRepo) {
    let git = repo.repo();
    let mut lines = vec!["# pack-refs with: peeled fully-peeled sorted ".to_owned()];
    let mut names: Vec<String> = git
        .references_glob("refs/tags/*")
        .unwrap()
        .map(|r| r.unwrap().name().unwrap().to_owned())
        .collect();
    names.sort();
    for name in &names {
        let reference = git.find_reference(name).unwrap();
        let target = reference.target().unwrap();
        lines.push(format!("{target} {name}"));
        let peeled = reference.peel_to_commit().unwrap().id();
        if peeled != target {
            lines.push(format!("^{peeled}"));
        }
        std::fs::remove_file(repo.path().join(".git").join(name)).unwrap();
    }
    std::fs::write(
        repo.path().join(".git/packed-refs"),
        lines.join("\n") + "\n",
    )
    .unwrap();
}

#[test]
fn packed_tags_are_read_from_packed_refs_and_a_loose_one_overrides_them() {
    let repo = linear();
    let q = RangeQuery::default();
    let loose = releases(&repo, &q, all());
    pack_tags(&repo);
    assert!(!repo.path().join(".git/refs/tags/v0.2.0").exists());
    assert_eq!(releases(&repo, &q, all()), loose);
    // What the file says an annotated tag peels to is read from the file, as git reads it
    // (no object is read): a file that says v0.2.0 peels to HEAD is taken at its word.
    let packed = std::fs::read_to_string(repo.path().join(".git/packed-refs")).unwrap();
    let v020 = repo.repo().find_reference("refs/tags/v0.2.0").unwrap();
    let real = v020.peel_to_commit().unwrap().id();
    let edited = packed.replace(&format!("^{real}"), &format!("^{}", repo.head()));
    assert_ne!(edited, packed);
    std::fs::write(repo.path().join(".git/packed-refs"), &edited).unwrap();
    assert_eq!(
        releases(&repo, &q, all())[0],
        release("v0.2.0-rc.1..v0.2.0", &["feat: e", "fix: f"])
    );
    std::fs::write(repo.path().join(".git/packed-refs"), &packed).unwrap();
    // A tag moved after packing is a loose reference again, which wins over the file.
    let head = repo.head();
    repo.repo()
        .reference("refs/tags/v0.2.0", head, true, "moved")
        .unwrap();
    let moved = releases(&repo, &q, all());
    assert_eq!(
        moved[0],
        release("v0.2.0-rc.1..v0.2.0", &["feat: e", "fix: f"])
    );
}

/// The tags that name a range's ends (lower, upper), as `read` reports them.
fn end_tags(repo: &TestRepo, range: Option<&str>) -> (Option<String>, Option<String>) {
    let query = RangeQuery {
        range: range.map(str::to_owned),
        ..RangeQuery::default()
    };
    let range = GitSource::open(repo.path())
        .unwrap()
        .read(&query)
        .unwrap()
        .range
        .unwrap();
    (range.from.and_then(|end| end.tag), range.to.tag)
}

#[test]
fn ranges_name_their_ends_by_packed_tags_as_by_loose_ones() {
    let mut repo = linear();
    repo.annotated_tag("v0.3.0", "Release 0.3.0");
    repo.commit("fix: g");
    repo.tag("nightly/2024-05-01"); // a nested name
    let e = repo
        .repo()
        .find_reference("refs/tags/v0.2.0")
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .id()
        .to_string();
    let ranges = [
        None,
        Some("..HEAD"),
        Some("v0.1.0..HEAD"),
        Some("v0.2.0"),
        Some("v0.2.0..v0.3.0"),
        Some(e.as_str()),
        Some(&*format!("{e}..HEAD")),
    ];
    let expected: Vec<_> = ranges.iter().map(|r| end_tags(&repo, *r)).collect();
    let named = |from: Option<&str>, to: &str| (from.map(str::to_owned), Some(to.to_owned()));
    assert_eq!(expected[1], named(None, "nightly/2024-05-01"));
    assert_eq!(expected[4], named(Some("v0.2.0"), "v0.3.0"));
    assert_eq!(expected[5], named(Some("v0.2.0-rc.1"), "v0.2.0"));
    assert_eq!(expected[6], named(Some("v0.2.0"), "nightly/2024-05-01"));

    pack_tags(&repo);
    let git_dir = repo.path().join(".git");
    assert!(!git_dir.join("refs/tags/nightly/2024-05-01").exists());
    // A lock file left by an interrupted update is no tag.
    std::fs::create_dir_all(git_dir.join("refs/tags")).unwrap();
    std::fs::write(git_dir.join("refs/tags/v0.4.0.lock"), "damaged\n").unwrap();
    let packed: Vec<_> = ranges.iter().map(|r| end_tags(&repo, *r)).collect();
    assert_eq!(packed, expected);

    // A file that does not say what its tags peel to is read through libgit2.
    let text = std::fs::read_to_string(git_dir.join("packed-refs")).unwrap();
    let unpeeled: String = text
        .lines()
        .filter(|line| !line.starts_with('^'))
        .map(|line| {
            if line.starts_with('#') {
                "# pack-refs with: sorted \n".to_owned()
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(git_dir.join("packed-refs"), unpeeled).unwrap();
    let read_by_libgit2: Vec<_> = ranges.iter().map(|r| end_tags(&repo, *r)).collect();
    assert_eq!(read_by_libgit2, expected);
}

#[test]
fn the_latest_release_is_the_same_when_dates_tie() {
    // Every commit at one instant: the walk meets v1.0 (on P) before v1.1 (on C, a child of
    // P), which reaches it. The latest release is still v1.1, as in the list of all of them.
    const T: i64 = 1_700_000_000;
    let mut repo = TestRepo::new();
    repo.set_clock(T);
    repo.commit("feat: p");
    repo.tag("v1.0");
    repo.branch("side");
    repo.set_clock(T);
    repo.commit("feat: c");
    repo.tag("v1.1");
    repo.set_clock(T);
    repo.commit("feat: x");
    repo.checkout("main");
    repo.set_clock(T);
    repo.commit("feat: d");
    repo.set_clock(T);
    repo.merge("side", "Merge branch 'side'");
    let q = RangeQuery::default();
    let every = releases(&repo, &q, all());
    assert_eq!(every.len(), 2);
    for count in 1..=2 {
        let latest = releases(
            &repo,
            &q,
            ReleaseSelection {
                count: Some(count),
                unreleased: false,
            },
        );
        assert_eq!(latest, every[..count], "latest {count}");
    }
}

#[test]
fn tags_on_one_commit_rank_by_version_precedence() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("v1.0.0");
    repo.commit("feat: b");
    repo.tag("v1.1.0-rc.9");
    repo.tag("v1.1.0-rc.10");
    assert_eq!(
        releases(&repo, &RangeQuery::default(), all())[0].0,
        "v1.0.0..v1.1.0-rc.10"
    );
}

#[test]
fn every_release_as_markdown_in_each_style() {
    use changelog_core::request::{self, Request};
    use changelog_core::source::git::RepoPolicy;
    use changelog_core::{Style, render};
    let repo = linear();
    for style in [Style::Conventional, Style::KeepAChangelog] {
        let request = Request {
            repo_url: Some(repo.path().to_string_lossy().into_owned()),
            style,
            ..Request::default()
        };
        let selection = ReleaseSelection {
            count: None,
            unreleased: true,
        };
        let generated = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(request::generate_releases(
                &request,
                &RepoPolicy::command_line(),
                selection,
                &changelog_core::pipeline::Quiet,
            ))
            .unwrap();
        let changelogs: Vec<_> = generated.into_iter().map(|g| g.changelog).collect();
        insta::assert_snapshot!(
            format!("releases_all_{}", style.name().replace('-', "_")),
            render::markdown_releases(&changelogs)
        );
    }
}
