//! The range walk against `git rev-list` on randomly grown histories with branches and merges.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use changelog_core::testing::TestRepo;
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
            let h = history(repo.path(), Some(&range));
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
