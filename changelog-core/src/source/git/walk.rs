//! Walking the commit graph: the commits of a range in topological order, the nearest tagged
//! ancestor, and the commits a merge brought in.
//!
//! libgit2's revision walker parses every commit into structures of its own, and reading the
//! commits afterwards parses them a second time; on a long history the walker alone costs as
//! much as `git log` does in total. These walks read each commit once, hand its text on when
//! its parents are known, and keep only its place in the graph ([`Walked`]).
//!
//! [`range`] reads packed commits with [`PackedObjects`] and the few header lines it needs
//! itself ([`parse_commit`]), strictly: a commit it does not read exactly as libgit2 does
//! (a loose one, an unusual signature, a repository whose grafts or shallow boundary change
//! parents) is read with libgit2.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use git2::{Oid, Repository};

use super::loose::LooseObjects;
use super::packed::{LazyPacks, PackedObjects};
use super::{OidMap, git_at};
use crate::error::{Error, Result};

/// Told of each commit the walk expands, with its text and its first parent's tree (see
/// [`range`]).
pub(super) type Expanded<'f> = dyn FnMut(&Walked, CommitText, Option<Oid>) + 'f;

/// A commit's header lines and message, as the walk read them.
pub(super) struct CommitText {
    bytes: Vec<u8>,
    /// Where the header ends (after its last line's line feed).
    header_end: usize,
    /// Where the message starts.
    message_start: usize,
}

impl CommitText {
    /// The header lines (`tree`, `parent`, `author`, `committer`, `encoding` ...).
    pub(super) fn header(&self) -> &[u8] {
        &self.bytes[..self.header_end]
    }

    /// The message.
    pub(super) fn message(&self) -> &[u8] {
        &self.bytes[self.message_start..]
    }
}

/// Commits a walk reads with libgit2 before it opens the packs: reading the packs into memory
/// costs more than a short walk (the latest release, the nearest tag) does in all.
const SHORT_WALK: usize = 256;

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
///
/// `packs`, when given, reads the commits that are packed once the walk is past its first
/// [`SHORT_WALK`] commits; the others are read with libgit2. It must not be given for a
/// repository with grafts or a shallow boundary, which change the parents libgit2 gives
/// commits (see [`packs_read_as_written`]).
pub(super) fn range(
    repo: &Repository,
    loose: &mut LooseObjects,
    packs: Option<&LazyPacks>,
    to: Oid,
    from: Option<Oid>,
    boundary: &mut dyn FnMut(Oid) -> bool,
    expanded: &mut Expanded<'_>,
) -> Result<Vec<Walked>> {
    let mut graph = Graph::new(repo, loose, packs);
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
        let text = graph.nodes[node].text.take();
        if !hidden && let Some(text) = text {
            let n = &graph.nodes[node];
            let parent_tree = n.parents.first().map(|&p| graph.nodes[p].walked.tree);
            expanded(&n.walked, text, parent_tree);
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
struct Node {
    walked: Walked,
    /// Its text, until the commit is expanded.
    text: Option<CommitText>,
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
    packs: Option<&'l LazyPacks>,
    /// The reader of `packs`, once the walk is long enough to open them.
    reader: Option<Option<PackedObjects>>,
    nodes: Vec<Node>,
    index: OidMap<usize>,
    /// Newest commit first; ties in the order commits were found.
    queue: BinaryHeap<(i64, Reverse<usize>)>,
    /// Queued nodes that are not hidden: while there are some, the walk goes on.
    visible_in_queue: usize,
}

impl<'r, 'l> Graph<'r, 'l> {
    fn new(
        repo: &'r Repository,
        loose: &'l mut LooseObjects,
        packs: Option<&'l LazyPacks>,
    ) -> Self {
        Self {
            repo,
            loose,
            packs,
            reader: None,
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
        if self.reader.is_none()
            && self.nodes.len() >= SHORT_WALK
            && let Some(packs) = self.packs
        {
            self.reader = Some(packs.reader(self.repo));
        }
        let packed = self
            .reader
            .as_mut()
            .and_then(Option::as_mut)
            .and_then(|packs| packs.commit(oid))
            .and_then(|bytes| parse_commit(oid, bytes));
        let (walked, text) = match packed {
            Some(read) => read,
            None => {
                let commit = self
                    .repo
                    .find_commit(oid)
                    .map_err(git_at("cannot read commit", oid))?;
                let header = commit.raw_header_bytes();
                let mut bytes = Vec::with_capacity(header.len() + commit.message_bytes().len());
                bytes.extend_from_slice(header);
                bytes.extend_from_slice(commit.message_bytes());
                let walked = Walked {
                    id: oid,
                    tree: commit.tree_id(),
                    // The committer date, without copying the signature.
                    time: commit.time().seconds(),
                    offset: commit.time().offset_minutes(),
                    parents: commit.parent_ids().collect(),
                };
                let text = CommitText {
                    bytes,
                    header_end: header.len(),
                    message_start: header.len(),
                };
                (walked, text)
            }
        };
        let node = self.nodes.len();
        self.nodes.push(Node {
            walked,
            text: Some(text),
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

/// Whether libgit2 gives the commits of `repo` the parents their text names: not when grafts
/// (`info/grafts`) or a shallow boundary (`shallow`) replace them.
pub(super) fn packs_read_as_written(repo: &Repository) -> bool {
    !repo.is_shallow()
        && !repo.path().join("shallow").exists()
        && !repo.commondir().join("shallow").exists()
        && !repo.commondir().join("info").join("grafts").exists()
}

/// A commit read from a pack, when its header is as git writes it: `tree`, `parent`s, `author`
/// and `committer` in that order, ids in lower-case hexadecimal, signatures with one `<`, one
/// `>` and a date and zone after them, and a blank line before the message; and no NUL byte
/// anywhere (libgit2 cuts the header and the message at one). `None` for anything else:
/// libgit2 reads that commit, and accepts or refuses it as it does. The message starts after
/// the blank line and any line feeds that follow it, as libgit2's `message_bytes` does.
fn parse_commit(id: Oid, bytes: Vec<u8>) -> Option<(Walked, CommitText)> {
    if bytes.contains(&0) {
        return None;
    }
    let end = bytes.windows(2).position(|pair| pair == b"\n\n")?;
    let mut lines = bytes[..end].split(|&b| b == b'\n');
    let tree = hex_id(lines.next()?.strip_prefix(b"tree ")?)?;
    let mut parents = Vec::new();
    let mut line = lines.next()?;
    while let Some(rest) = line.strip_prefix(b"parent ") {
        parents.push(hex_id(rest)?);
        line = lines.next()?;
    }
    signature_date(line.strip_prefix(b"author ")?)?;
    let (time, offset) = signature_date(lines.next()?.strip_prefix(b"committer ")?)?;
    let walked = Walked {
        id,
        tree,
        time,
        offset,
        parents,
    };
    let blank_lines = bytes[end + 2..].iter().take_while(|&&b| b == b'\n').count();
    let text = CommitText {
        header_end: end + 1,
        message_start: end + 2 + blank_lines,
        bytes,
    };
    Some((walked, text))
}

/// Forty lower-case hexadecimal digits as an id.
fn hex_id(digits: &[u8]) -> Option<Oid> {
    if digits.len() != 40 {
        return None;
    }
    let mut bytes = [0u8; 20];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let nibble = |d: u8| match d {
            b'0'..=b'9' => Some(d - b'0'),
            b'a'..=b'f' => Some(d - b'a' + 10),
            _ => None,
        };
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Oid::from_bytes(&bytes).ok()
}

/// The date of a signature line written as git writes it (`Name <email> 1700000000 +0130`):
/// seconds, and minutes east of UTC.
fn signature_date(line: &[u8]) -> Option<(i64, i32)> {
    let lt = line.iter().position(|&b| b == b'<')?;
    let gt = line.iter().position(|&b| b == b'>')?;
    let count = |c: u8| line.iter().filter(|&&b| b == c).count();
    if gt < lt || count(b'<') != 1 || count(b'>') != 1 {
        return None;
    }
    let date = line[gt + 1..].strip_prefix(b" ")?;
    let space = date.iter().position(|&b| b == b' ')?;
    let (seconds, zone) = (&date[..space], &date[space + 1..]);
    if seconds.is_empty() || seconds.len() > 18 || !seconds.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let seconds: i64 = std::str::from_utf8(seconds).ok()?.parse().ok()?;
    let [sign, h1, h2, m1, m2] = <[u8; 5]>::try_from(zone).ok()?;
    if ![h1, h2, m1, m2].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let hours = i32::from(h1 - b'0') * 10 + i32::from(h2 - b'0');
    let minutes = i32::from(m1 - b'0') * 10 + i32::from(m2 - b'0');
    if hours > 14 || minutes > 59 {
        return None;
    }
    let offset = hours * 60 + minutes;
    match sign {
        b'+' => Some((seconds, offset)),
        b'-' => Some((seconds, -offset)),
        _ => None,
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
    let mut graph = Graph::new(repo, loose, None);
    let tip = graph.load(start)?;
    graph.enqueue(tip);
    while let Some((_, Reverse(node))) = graph.queue.pop() {
        let oid = graph.nodes[node].walked.id;
        if (node != tip || include_start) && is_tagged(oid) {
            return Ok(Some(oid));
        }
        graph.nodes[node].text = None;
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

    const TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    const PARENT: &str = "0123456789abcdef0123456789abcdef01234567";

    fn commit(header: &str, message: &str) -> Vec<u8> {
        format!("{header}\n{message}").into_bytes()
    }

    #[test]
    fn commits_as_git_writes_them_are_read() {
        let id = Oid::from_bytes(&[7; 20]).unwrap();
        let header = format!(
            "tree {TREE}\nparent {PARENT}\nparent {TREE}\n\
             author Ada <ada@example.com> 1700000000 +0100\n\
             committer Bob <bob@example.com> 1700000100 -0530\n\
             encoding ISO-8859-1\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n -----END\n"
        );
        let (walked, text) = parse_commit(id, commit(&header, "Subject\n\nBody\n")).unwrap();
        assert_eq!(walked.tree.to_string(), TREE);
        assert_eq!(walked.parents.len(), 2);
        assert_eq!(walked.parents[0].to_string(), PARENT);
        assert_eq!((walked.time, walked.offset), (1_700_000_100, -330));
        assert_eq!(text.header(), header.as_bytes());
        assert_eq!(text.message(), b"Subject\n\nBody\n");
        // A root commit, and an empty message.
        let header = format!("tree {TREE}\nauthor A <a@b> 1 +0000\ncommitter C <c@d> 2 +1400\n");
        let (walked, text) = parse_commit(id, commit(&header, "")).unwrap();
        assert!(walked.parents.is_empty());
        assert_eq!((walked.time, walked.offset), (2, 840));
        assert_eq!(text.message(), b"");
        // Line feeds before the message are not part of it (libgit2's `message_bytes`).
        let (_, text) = parse_commit(id, commit(&header, "\n\nSubject\n")).unwrap();
        assert_eq!(text.message(), b"Subject\n");
    }

    #[test]
    fn anything_unusual_is_left_to_libgit2() {
        let id = Oid::from_bytes(&[7; 20]).unwrap();
        let good_author = "author A <a@b> 1 +0000";
        for header in [
            // Upper-case or short ids, a missing tree, lines out of order.
            format!(
                "tree {}\n{good_author}\ncommitter C <c@d> 2 +0000\n",
                TREE.to_uppercase()
            ),
            format!(
                "tree {}\n{good_author}\ncommitter C <c@d> 2 +0000\n",
                &TREE[..39]
            ),
            format!("{good_author}\ncommitter C <c@d> 2 +0000\n"),
            format!("tree {TREE}\ncommitter C <c@d> 2 +0000\n{good_author}\n"),
            // Two authors (libgit2 skips the second), signatures libgit2 reads its own way.
            format!("tree {TREE}\n{good_author}\n{good_author}\ncommitter C <c@d> 2 +0000\n"),
            format!("tree {TREE}\n{good_author}\ncommitter C <c> <d> 2 +0000\n"),
            format!("tree {TREE}\n{good_author}\ncommitter C <c@d>\n"),
            format!("tree {TREE}\n{good_author}\ncommitter C <c@d> 2\n"),
            format!("tree {TREE}\n{good_author}\ncommitter C <c@d> 2 +1500\n"),
            format!("tree {TREE}\n{good_author}\ncommitter C <c@d> 2 +0060\n"),
            format!("tree {TREE}\n{good_author}\ncommitter C <c@d> -2 +0000\n"),
            format!("tree {TREE}\n{good_author}\ncommitter C <c@d> 2 0000\n"),
            format!("tree {TREE}\n{good_author}\ncommitter C <c@d> 99999999999999999999 +0000\n"),
            format!("tree {TREE}\nauthor A a@b 1 +0000\ncommitter C <c@d> 2 +0000\n"),
        ] {
            assert!(parse_commit(id, commit(&header, "m")).is_none(), "{header}");
        }
        // A NUL byte, in the header or in the message.
        let header = format!("tree {TREE}\nauthor A\0B <a@b> 1 +0000\ncommitter C <c@d> 2 +0000\n");
        assert!(parse_commit(id, commit(&header, "m")).is_none());
        let header = format!("tree {TREE}\n{good_author}\ncommitter C <c@d> 2 +0000\n");
        assert!(parse_commit(id, commit(&header, "Subject\0rest")).is_none());
        // No blank line before the message.
        let text = format!("tree {TREE}\n{good_author}\ncommitter C <c@d> 2 +0000\n");
        assert!(parse_commit(id, text.into_bytes()).is_none());
    }

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
