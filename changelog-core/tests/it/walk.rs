//! The range walk against `git rev-list` on randomly grown histories with branches and merges.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use changelog_core::source::git::GitSource;
use changelog_core::testing::TestRepo;
use changelog_core::{Error, RangeQuery};
use git2::Oid;

use crate::history;

/// A small deterministic generator (the tests must not depend on a random seed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((self.0 >> 33) % n as u64).unwrap()
    }
}

/// main plus a few topic branches, committed to and merged at random (merges both ways).
fn random_history(seed: u64, steps: usize) -> (TestRepo, Vec<Oid>) {
    let mut rng = Lcg(seed);
    let mut repo = TestRepo::new();
    let mut all = vec![repo.commit("feat: root")];
    let branches = ["main", "topic-a", "topic-b", "topic-c"];
    for name in &branches[1..] {
        repo.branch(name);
        repo.checkout("main");
    }
    let mut current = "main";
    for step in 0..steps {
        match rng.below(10) {
            0..=5 => all.push(repo.commit(&format!("feat: step {step}"))),
            6 | 7 => {
                current = branches[rng.below(branches.len())];
                repo.checkout(current);
            }
            _ => {
                let other = branches[rng.below(branches.len())];
                if other != current {
                    all.push(
                        repo.merge(other, &format!("Merge pull request #{step} from x/{other}")),
                    );
                }
            }
        }
    }
    repo.checkout("main");
    (repo, all)
}

fn rev_list(repo: &TestRepo, range: &str) -> Option<HashSet<String>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo.path())
        .args(["rev-list", range])
        .output()
        .ok()?;
    assert!(output.status.success(), "git rev-list {range} failed");
    Some(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

#[test]
#[expect(clippy::print_stderr, reason = "a skipped comparison says so")]
fn ranges_match_git_rev_list() {
    if Command::new("git").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "git is needed for this test in CI"
        );
        eprintln!("skipped: no git on PATH to compare against");
        return;
    }
    let mut compared = 0;
    for seed in 1..=4 {
        let (repo, commits) = random_history(seed, 80);
        let mut rng = Lcg(seed * 7919);
        for _ in 0..12 {
            let a = commits[rng.below(commits.len())];
            let b = commits[rng.below(commits.len())];
            let range = format!("{a}..{b}");
            let expected = rev_list(&repo, &range).unwrap();
            let read = GitSource::open(repo.path()).unwrap().read(&RangeQuery {
                range: Some(range.clone()),
                ..RangeQuery::default()
            });
            let h = match read {
                // `b` is an ancestor of `a`: git lists nothing, we say the range is reversed.
                Err(Error::InvalidRange { reason, .. }) if reason.contains("reversed") => {
                    assert!(
                        expected.is_empty(),
                        "{range}: reversed, but git lists {expected:?}"
                    );
                    let ancestor = repo.repo().graph_descendant_of(a, b).unwrap();
                    assert!(ancestor, "{range}: called reversed");
                    compared += 1;
                    continue;
                }
                other => other.unwrap(),
            };
            let got: HashSet<String> = h.commits.iter().map(|c| c.id.clone()).collect();
            assert_eq!(got.len(), h.commits.len(), "{range}: a commit listed twice");
            assert_eq!(got, expected, "seed {seed}, range {range}");

            // Children before parents.
            let position: HashMap<&str, usize> = h
                .commits
                .iter()
                .enumerate()
                .map(|(i, c)| (c.id.as_str(), i))
                .collect();
            for (i, commit) in h.commits.iter().enumerate() {
                for parent in &commit.parents {
                    if let Some(&p) = position.get(parent.as_str()) {
                        assert!(p > i, "{range}: {parent} listed before its child");
                    }
                }
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 48);
}

#[test]
fn merging_main_into_a_branch_does_not_give_main_the_pull_request() {
    let mut repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    repo.branch("topic");
    let on_topic = repo.commit("feat: topic one");
    repo.checkout("main");
    let on_main = repo.commit("fix: on main meanwhile");
    repo.checkout("topic");
    repo.merge("main", "Merge branch 'main' into topic");
    let on_topic_later = repo.commit("feat: topic two");
    repo.checkout("main");
    repo.merge("topic", "Merge pull request #8 from x/topic");

    let h = history(repo.path(), Some("v1.0.0..HEAD"));
    let refs = |oid: Oid| {
        h.commits
            .iter()
            .find(|c| c.id == oid.to_string())
            .unwrap()
            .merge_refs
            .clone()
    };
    assert_eq!(refs(on_topic), ["#8"]);
    assert_eq!(refs(on_topic_later), ["#8"]);
    assert!(refs(on_main).is_empty());
}

#[test]
fn skewed_dates_are_handled_as_git_handles_them() {
    // A (newest) reaches X through older commits a0..aN whose dates run backwards; T is a
    // child of X. X belongs to `A..T` only by the dates' lie; git's walker (and ours, with the
    // same margin) sees through a short lie.
    for skewed in [3, 5, 8] {
        let mut repo = TestRepo::new();
        repo.set_clock(1_000);
        repo.commit_empty("feat: root");
        repo.set_clock(800);
        repo.commit_empty("feat: x");
        repo.branch("side");
        repo.checkout("main");
        for n in 0..skewed {
            repo.set_clock(100 + n);
            repo.commit_empty(&format!("feat: a{n}"));
        }
        repo.set_clock(5_000);
        let a = repo.commit_empty("feat: a");
        repo.checkout("side");
        repo.set_clock(4_000);
        let t = repo.commit_empty("feat: t");
        let range = format!("{a}..{t}");
        let got: HashSet<String> = history(repo.path(), Some(&range))
            .commits
            .iter()
            .map(|c| c.id.clone())
            .collect();
        if skewed <= 5 {
            assert_eq!(
                got,
                HashSet::from([t.to_string()]),
                "{skewed} skewed commits"
            );
        }
        if let Some(expected) = rev_list(&repo, &range) {
            assert_eq!(got, expected, "{skewed} skewed commits, as git");
        }
    }
}

/// A file under `.git/`.
fn git_file(repo: &TestRepo, name: &str, content: &str) {
    let path = repo.repo().path().join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn read(repo: &TestRepo, range: Option<&str>) -> changelog_core::Result<changelog_core::History> {
    changelog_core::source::git::GitSource::open(repo.path())
        .unwrap()
        .read(&changelog_core::RangeQuery {
            range: range.map(str::to_owned),
            ..changelog_core::RangeQuery::default()
        })
}

#[test]
fn a_graft_cycle_is_an_error_that_names_a_commit_on_it() {
    let mut repo = TestRepo::new();
    let root = repo.commit("feat: root");
    let middle = repo.commit("feat: middle");
    let tip = repo.commit("feat: tip");
    // The root's parent is the tip: root -> tip -> middle -> root.
    git_file(&repo, "info/grafts", &format!("{root} {tip}\n"));
    for range in [None, Some("HEAD")] {
        let err = read(&repo, range).expect_err("a cycle is not a history");
        let message = err.to_string();
        assert!(
            [root, middle, tip]
                .iter()
                .any(|id| message.contains(&id.to_string())),
            "{range:?}: {message}"
        );
        assert!(message.contains("cycle"), "{message}");
        assert!(message.contains("grafts"), "{message}");
    }

    // A cycle below the range's lower end does not matter to the range.
    let mut repo = TestRepo::new();
    let root = repo.commit("feat: root");
    let base = repo.commit("feat: base");
    repo.tag("v1.0.0");
    repo.commit("feat: after");
    git_file(&repo, "info/grafts", &format!("{root} {base}\n"));
    let history = read(&repo, Some("v1.0.0..HEAD")).unwrap();
    assert_eq!(crate::summaries(&history), ["feat: after"]);
}

#[test]
fn grafts_without_a_cycle_still_shape_the_history() {
    let mut repo = TestRepo::new();
    repo.commit("feat: root");
    let middle = repo.commit("feat: middle");
    repo.commit("feat: tip");
    // The middle commit becomes a root: the history starts there.
    git_file(&repo, "info/grafts", &format!("{middle}\n"));
    let history = read(&repo, None).unwrap();
    assert_eq!(crate::summaries(&history), ["feat: middle", "feat: tip"]);
}

#[test]
fn a_replacement_cycle_loses_no_commit_silently() {
    let mut repo = TestRepo::new();
    let root = repo.commit("feat: root");
    repo.commit("feat: middle");
    let tip = repo.commit("feat: tip");
    // `git replace --graft` writes a replacement of the root whose parent is the tip.
    let status = Command::new("git")
        .arg("-C")
        .arg(repo.path())
        .args(["replace", "--graft", &root.to_string(), &tip.to_string()])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_COMMITTER_NAME", "Ada Lovelace")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .status()
        .unwrap();
    assert!(status.success());
    match read(&repo, None) {
        // Replacements are not applied: every commit is there, each once.
        Ok(history) => assert_eq!(
            crate::summaries(&history),
            ["feat: root", "feat: middle", "feat: tip"]
        ),
        Err(err) => {
            let message = err.to_string();
            assert!(message.contains("cycle"), "{message}");
        }
    }
}
