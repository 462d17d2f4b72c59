//! Walking the commit graph: the commits of a range in topological order, the nearest tagged
//! ancestor, and the commits a merge brought in.
//!
//! libgit2's revision walker parses every commit into structures of its own, and reading the
//! commits afterwards parses them a second time; on a long history the walker alone costs as
//! much as `git log` does in total. These walks read each commit once, hand it on when its
//! parents are known, and keep only its place in the graph ([`Walked`]): libgit2's object,
//! with copies of the whole message, is freed as soon as the walk has passed it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use git2::{Commit, Oid, Repository};

use super::loose::LooseObjects;
use super::{OidMap, git_at};
use crate::error::{Error, Result};

/// Told of each commit the walk expands, with its first parent's tree (see [`range`]).
pub(super) type Expanded<'f> = dyn FnMut(&Commit<'_>, Option<Oid>) + 'f;

/// How many more commits the walk reads once only commits of the lower end are left, in case
/// commit dates are skewed (git's own walker uses the same margin).
const SLOP: usize = 5;

/// What the walk keeps of a commit.
#[derive(Debug, Clone)]
pub(super) struct Walked {
    pub(super) id: Oid,
    /// Its tree.
    pub(super) tree: Oid,
    /// The committer date, in seconds.
    pub(super) time: i64,
    /// The committer's offset from UTC, in minutes.
    pub(super) offset: i32,
    /// Its parents as the walk sees them (grafts and shallow boundaries applied).
    pub(super) parents: Vec<Oid>,
}

/// Commits reachable from `to` but not from `from`, children before parents and otherwise
/// newest first.
///
/// Grafts (`.git/info/grafts`) can give a commit parents that make it its own ancestor; such a
/// history has no topological order, and the commits on the cycle are reported rather than
/// left out.
///
/// `expanded` is called with each commit that is not hidden when its parents have
/// been read, and its first parent's tree (it may be hidden later, when the walk finds that the
/// lower end reaches it).
///
/// `boundary` is asked about each commit the walk comes to that is not hidden; when it answers
/// yes, that commit is a lower end as `from` is: it and its ancestors are left out, and the
/// walk stops as soon as only such commits are left (the latest releases of a history are
/// read without walking the rest of it).
pub(super) fn range(
    repo: &Repository,
    loose: &mut LooseObjects,
    to: Oid,
    from: Option<Oid>,
    boundary: &mut dyn FnMut(Oid) -> bool,
    expanded: &mut Expanded<'_>,
) -> Result<Vec<Walked>> {
    let mut graph = Graph::new(repo, loose);
    let tip = graph.load(to)?;
    graph.enqueue(tip);
    if let Some(from) = from {
        let base = graph.load(from)?;
        if base != tip {
            graph.enqueue(base);
        }
        graph.hide(base);
    }

    // As git's `limit_list`: once only commits of the lower end are queued, go on for a margin
    // of commits, and start the margin again while the newest result is older than a queued
    // commit (dates are skewed there).
    let mut slop = SLOP;
    let mut last_visible = i64::MAX;
    let mut bounded = from.is_some();
    while let Some((_, Reverse(node))) = graph.queue.pop() {
        if !graph.nodes[node].hidden && boundary(graph.nodes[node].walked.id) {
            graph.hide(node);
            bounded = true;
        }
        graph.nodes[node].expanded = true;
        let hidden = graph.nodes[node].hidden;
        if !hidden {
            graph.visible_in_queue -= 1;
            last_visible = graph.nodes[node].walked.time;
        }
        for k in 0..graph.nodes[node].walked.parents.len() {
            let parent_id = graph.nodes[node].walked.parents[k];
            let parent = match graph.index.get(&parent_id) {
                Some(&parent) => parent,
                None => {
                    let parent = graph.load(parent_id)?;
                    graph.enqueue(parent);
                    parent
                }
            };
            graph.nodes[node].parents.push(parent);
            if hidden {
                graph.hide(parent);
            }
        }
        // Handed on, then freed: what is left of it is its place in the graph.
        let commit = graph.nodes[node].commit.take();
        if !hidden && let Some(commit) = commit {
            let n = &graph.nodes[node];
            let parent_tree = n.parents.first().map(|&p| graph.nodes[p].walked.tree);
            expanded(&commit, parent_tree);
        }
        if hidden && bounded {
            let Some(&(newest_queued, _)) = graph.queue.peek() else {
                break;
            };
            if last_visible <= newest_queued || graph.visible_in_queue > 0 {
                slop = SLOP;
            } else {
                slop -= 1;
                if slop == 0 {
                    break;
                }
            }
        }
    }
    graph.into_topological_order()
}

/// A commit of the walk.
struct Node<'r> {
    walked: Walked,
    /// libgit2's object, until the commit is expanded.
    commit: Option<Commit<'r>>,
    /// Reachable from the lower end of the range.
    hidden: bool,
    /// Its parents have been loaded (it has left the queue).
    expanded: bool,
    /// Positions of its parents in `Graph::nodes`, once expanded.
    parents: Vec<usize>,
}

struct Graph<'r, 'l> {
    repo: &'r Repository,
    loose: &'l mut LooseObjects,
    nodes: Vec<Node<'r>>,
    index: OidMap<usize>,
    /// Newest commit first; ties in the order commits were found.
    queue: BinaryHeap<(i64, Reverse<usize>)>,
    /// Queued nodes that are not hidden: while there are some, the walk goes on.
    visible_in_queue: usize,
}

impl<'r, 'l> Graph<'r, 'l> {
    fn new(repo: &'r Repository, loose: &'l mut LooseObjects) -> Self {
        Self {
            repo,
            loose,
            nodes: Vec::new(),
            index: OidMap::default(),
            queue: BinaryHeap::new(),
            visible_in_queue: 0,
        }
    }

    fn load(&mut self, oid: Oid) -> Result<usize> {
        if let Some(&node) = self.index.get(&oid) {
            return Ok(node);
        }
        self.loose.check(oid)?;
        let commit = self
            .repo
            .find_commit(oid)
            .map_err(git_at("cannot read commit", oid))?;
        let node = self.nodes.len();
        self.nodes.push(Node {
            walked: Walked {
                id: oid,
                tree: commit.tree_id(),
                // The committer date, without copying the signature.
                time: commit.time().seconds(),
                offset: commit.time().offset_minutes(),
                parents: commit.parent_ids().collect(),
            },
            commit: Some(commit),
            hidden: false,
            expanded: false,
            parents: Vec::new(),
        });
        self.index.insert(oid, node);
        Ok(node)
    }

    /// Queues a newly loaded commit.
    fn enqueue(&mut self, node: usize) {
        if !self.nodes[node].hidden {
            self.visible_in_queue += 1;
        }
        self.queue
            .push((self.nodes[node].walked.time, Reverse(node)));
    }

    /// Marks a commit, and the ancestors of it already walked, as reachable from the lower end.
    fn hide(&mut self, node: usize) {
        let mut stack = vec![node];
        while let Some(node) = stack.pop() {
            let n = &mut self.nodes[node];
            if n.hidden {
                continue;
            }
            n.hidden = true;
            if n.expanded {
                stack.extend_from_slice(&n.parents);
            } else {
                // Loaded but not expanded means queued: one fewer visible commit to wait for.
                self.visible_in_queue -= 1;
            }
        }
    }

    /// The visible, expanded commits, each after all of its visible children; among the
    /// commits that are ready, the newest first.
    fn into_topological_order(self) -> Result<Vec<Walked>> {
        let keep: Vec<bool> = self.nodes.iter().map(|n| n.expanded && !n.hidden).collect();
        let mut children = vec![0usize; self.nodes.len()];
        for (node, n) in self.nodes.iter().enumerate() {
            if keep[node] {
                for &parent in &n.parents {
                    if keep[parent] {
                        children[parent] += 1;
                    }
                }
            }
        }
        let mut ready: BinaryHeap<(i64, Reverse<usize>)> = (0..self.nodes.len())
            .filter(|&node| keep[node] && children[node] == 0)
            .map(|node| (self.nodes[node].walked.time, Reverse(node)))
            .collect();
        let mut order = Vec::with_capacity(keep.iter().filter(|k| **k).count());
        while let Some((_, Reverse(node))) = ready.pop() {
            order.push(node);
            for &parent in &self.nodes[node].parents {
                if keep[parent] {
                    children[parent] -= 1;
                    if children[parent] == 0 {
                        ready.push((self.nodes[parent].walked.time, Reverse(parent)));
                    }
                }
            }
        }
        if order.len() < keep.iter().filter(|k| **k).count() {
            return Err(self.cycle_error(&keep, &children));
        }
        let mut slots: Vec<Option<Walked>> =
            self.nodes.into_iter().map(|n| Some(n.walked)).collect();
        Ok(order
            .into_iter()
            .filter_map(|node| slots[node].take())
            .collect())
    }

    /// The error for a walk that could not order every commit: each commit left has a child
    /// left (that is why it was not ready), so following children from one of them comes back
    /// to a commit already seen, which is on a cycle.
    fn cycle_error(&self, keep: &[bool], waiting: &[usize]) -> Error {
        let left = |node: usize| keep[node] && waiting[node] > 0;
        let mut child_of: HashMap<usize, usize> = HashMap::new();
        for (node, n) in self.nodes.iter().enumerate() {
            if left(node) {
                for &parent in &n.parents {
                    if left(parent) {
                        child_of.entry(parent).or_insert(node);
                    }
                }
            }
        }
        let mut seen = vec![false; self.nodes.len()];
        let mut node = (0..self.nodes.len()).find(|&n| left(n)).unwrap_or(0);
        while !seen[node] {
            seen[node] = true;
            match child_of.get(&node) {
                Some(&child) => node = child,
                None => break,
            }
        }
        Error::HistoryCycle {
            path: self
                .repo
                .workdir()
                .unwrap_or_else(|| self.repo.path())
                .to_owned(),
            commit: self.nodes[node].walked.id.to_string(),
        }
    }
}

/// The first commit, in date order from `start` (`start` itself only when `include_start`),
/// that `is_tagged` accepts.
pub(super) fn nearest(
    repo: &Repository,
    loose: &mut LooseObjects,
    start: Oid,
    include_start: bool,
    mut is_tagged: impl FnMut(Oid) -> bool,
) -> Result<Option<Oid>> {
    let mut graph = Graph::new(repo, loose);
    let tip = graph.load(start)?;
    graph.enqueue(tip);
    while let Some((_, Reverse(node))) = graph.queue.pop() {
        let oid = graph.nodes[node].walked.id;
        if (node != tip || include_start) && is_tagged(oid) {
            return Ok(Some(oid));
        }
        graph.nodes[node].commit = None;
        let parent_ids = graph.nodes[node].walked.parents.clone();
        for parent_id in parent_ids {
            if !graph.index.contains_key(&parent_id) {
                let parent = graph.load(parent_id)?;
                graph.enqueue(parent);
            }
        }
    }
    Ok(None)
}

/// Positions of the commits a merge brought in: reachable from its other parents but not from
/// its first parent. `parents` holds, for each position of a topological order (children
/// first), the positions of its parents inside the range; ancestors outside the range are
/// reachable from the range's lower end, so they cannot be merged commits of the range.
///
/// Nodes are visited in topological order, so a node's side is final when it is reached; the
/// walk stops as soon as no node left to visit is reachable from the merged side only.
pub(super) fn merged_commits(
    parents: &[Vec<usize>],
    merge: usize,
    first_in_range: bool,
) -> Vec<usize> {
    let all = &parents[merge];
    let (first, others) = if first_in_range {
        (all.first().copied(), all.get(1..).unwrap_or_default())
    } else {
        (None, &all[..])
    };
    let mut walk = MergeWalk::default();
    if let Some(first) = first {
        walk.mark(first, Side::Mainline);
    }
    for &other in others {
        walk.mark(other, Side::Merged);
    }
    let mut merged = Vec::new();
    while walk.pending_merged > 0 {
        let Some(Reverse(node)) = walk.queue.pop() else {
            break;
        };
        let side = walk.marks[&node];
        if side == Side::Merged {
            walk.pending_merged -= 1;
            merged.push(node);
        }
        for &parent in &parents[node] {
            walk.mark(parent, side);
        }
    }
    merged
}

/// Which side of a merge a commit is reachable from; the mainline wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Mainline,
    Merged,
}

#[derive(Default)]
struct MergeWalk {
    marks: HashMap<usize, Side>,
    /// Smallest position (newest commit) first.
    queue: BinaryHeap<Reverse<usize>>,
    /// Queued nodes marked `Merged`.
    pending_merged: usize,
}

impl MergeWalk {
    fn mark(&mut self, node: usize, side: Side) {
        match self.marks.get_mut(&node) {
            None => {
                self.marks.insert(node, side);
                self.queue.push(Reverse(node));
                if side == Side::Merged {
                    self.pending_merged += 1;
                }
            }
            Some(current) if *current == Side::Merged && side == Side::Mainline => {
                *current = Side::Mainline;
                self.pending_merged -= 1;
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_commits_stop_at_the_mainline() {
        // Positions (children first):
        // 0 = merge(1, 3); 1 = main; 2 = base; 3 = b2 -> 4 = b1 -> 2 = base
        let parents = vec![vec![1, 3], vec![2], vec![], vec![4], vec![2]];
        let mut merged = merged_commits(&parents, 0, true);
        merged.sort_unstable();
        assert_eq!(merged, [3, 4]);
        // With the first parent outside the range, everything reachable is merged.
        let mut merged = merged_commits(&[vec![3], vec![2], vec![], vec![4], vec![2]], 0, false);
        merged.sort_unstable();
        assert_eq!(merged, [2, 3, 4]);
    }
}
