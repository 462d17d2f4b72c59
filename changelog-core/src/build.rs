//! Grouping: how the commits of a history become a structured [`Changelog`].
//!
//! Commits are parsed, noise is dropped, a commit and its revert that are both in the range
//! cancel out, and the rest are grouped into the sections of a [`Style`].

use std::collections::{BTreeSet, HashMap};

use crate::changelog::{Changelog, Entry, Section, Stats, Style};
use crate::commit::{History, Range, RemoteRepository};
use crate::parse::{Noise, ParsedCommit, parse_commit};

/// What the caller decides about a changelog beyond the commits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Section layout.
    pub style: Style,
    /// Title; `Changelog` when `None`.
    pub title: Option<String>,
    /// Version; the tag at the end of the range when `None`.
    pub version: Option<String>,
}

/// The commits of a history that a changelog is made of, and what was left out.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The range read.
    pub range: Option<Range>,
    /// Where the repository lives on the web.
    pub repository: Option<RemoteRepository>,
    /// Parsed commits, oldest first, without noise and without commits reverted in the range.
    pub commits: Vec<ParsedCommit>,
    /// Counts so far (`entries` and `hidden` are filled in by whoever groups the commits).
    pub stats: Stats,
}

/// Parses a history's commits, drops noise, and cancels commits reverted within the range.
#[must_use]
pub fn prepare(history: History) -> Prepared {
    let History {
        range,
        commits,
        repository,
    } = history;
    let mut stats = Stats {
        commits: commits.len(),
        ..Stats::default()
    };
    // Sources list commits newest first; a changelog reads oldest first.
    let mut parsed: Vec<ParsedCommit> = Vec::with_capacity(commits.len());
    // Merges are noise, but a revert of a merge undoes what it merged.
    let mut merges: Vec<Merge> = Vec::new();
    for commit in commits.into_iter().rev() {
        let p = parse_commit(commit);
        match p.noise {
            Some(Noise::Merge) => {
                stats.merges += 1;
                merges.push(Merge {
                    id: p.commit.id,
                    parents: p.commit.parents,
                });
            }
            Some(Noise::Fixup) => stats.fixups += 1,
            Some(Noise::ReleaseBump) => stats.release_bumps += 1,
            Some(Noise::Empty) => stats.empty += 1,
            None => parsed.push(p),
        }
    }
    let cancelled = cancelled_reverts(&parsed, &merges);
    stats.reverted = cancelled.len();
    if !cancelled.is_empty() {
        let mut index = 0;
        parsed.retain(|_| {
            let keep = !cancelled.contains(&index);
            index += 1;
            keep
        });
    }
    Prepared {
        range,
        repository,
        commits: parsed,
        stats,
    }
}

impl Prepared {
    /// A changelog of these commits with the given sections; title, version and date follow
    /// the options and the range.
    #[must_use]
    pub fn into_changelog(
        self,
        style: Style,
        options: &BuildOptions,
        sections: Vec<Section>,
    ) -> Changelog {
        let mut stats = self.stats;
        stats.entries = sections.iter().map(|s| s.entries.len()).sum();
        let range = self.range;
        Changelog {
            title: options
                .title
                .clone()
                .unwrap_or_else(|| "Changelog".to_owned()),
            version: options
                .version
                .clone()
                .or_else(|| range.as_ref().and_then(|r| r.to.tag.clone())),
            date: range.as_ref().map(|r| r.to.time.date_naive()),
            range,
            repository: self.repository,
            style,
            sections,
            stats,
            model: None,
            usage: None,
            verification: None,
        }
    }
}

/// Turns a history into a structured changelog, deterministically.
///
/// Commits are parsed, noise is dropped, a commit and its revert that are both in the range
/// cancel out (a revert of a merge cancels the commits it merged), and the rest are grouped by the style. Entries with the same section, scope and
/// text (a cherry-pick, say) are merged into one that cites every commit.
#[must_use]
pub fn build(history: History, options: &BuildOptions) -> Changelog {
    let mut prepared = prepare(history);
    let style = options.style;
    let mut sections: Vec<Vec<Entry>> = vec![Vec::new(); style.sections().len()];
    // (section, scope, text) -> position in its section, for merging duplicates.
    let mut seen: HashMap<(usize, Option<String>, String), usize> = HashMap::new();
    for p in std::mem::take(&mut prepared.commits) {
        let Some(section) = style.section_of(p.kind, p.breaking) else {
            prepared.stats.hidden += 1;
            continue;
        };
        let key = (section, p.scope.clone(), p.description.to_lowercase());
        if let Some(&position) = seen.get(&key) {
            merge_into(&mut sections[section][position], p);
            prepared.stats.duplicates += 1;
            continue;
        }
        seen.insert(key, sections[section].len());
        sections[section].push(Entry {
            text: p.description,
            commits: vec![p.commit.id],
            breaking: p.breaking,
            scope: p.scope,
            refs: p.refs,
            authors: p.authors,
            kind: p.kind,
            breaking_notes: p.breaking_notes,
        });
    }
    let sections: Vec<Section> = sections
        .into_iter()
        .enumerate()
        .filter(|(_, entries)| !entries.is_empty())
        .map(|(i, entries)| Section {
            title: style.sections()[i].to_owned(),
            entries,
        })
        .collect();
    prepared.into_changelog(style, options, sections)
}

fn merge_into(entry: &mut Entry, p: ParsedCommit) {
    entry.commits.push(p.commit.id);
    entry.breaking |= p.breaking;
    for r in p.refs {
        if !entry.refs.contains(&r) {
            entry.refs.push(r);
        }
    }
    for a in p.authors {
        if !entry.authors.iter().any(|b| b.email == a.email) {
            entry.authors.push(a);
        }
    }
    for note in p.breaking_notes {
        if !entry.breaking_notes.contains(&note) {
            entry.breaking_notes.push(note);
        }
    }
}

/// A merge commit of the range: noise itself, but the target of a `git revert -m 1`.
struct Merge {
    id: String,
    parents: Vec<String>,
}

/// Indices of commits that are reverted inside the range, together with their reverts. A
/// revert of a merge undoes the commits that merge brought in.
fn cancelled_reverts(parsed: &[ParsedCommit], merges: &[Merge]) -> BTreeSet<usize> {
    let mut cancelled = BTreeSet::new();
    if !parsed.iter().any(|p| !p.reverts.is_empty()) {
        return cancelled;
    }
    let mut by_id: Vec<(&str, usize)> = parsed
        .iter()
        .enumerate()
        .map(|(i, p)| (p.commit.id.as_str(), i))
        .collect();
    by_id.sort_unstable();
    let find = |prefix: &str| -> Option<usize> {
        let start = by_id.partition_point(|(id, _)| *id < prefix);
        let mut matches = by_id[start..]
            .iter()
            .take_while(|(id, _)| id.starts_with(prefix));
        let first = matches.next()?;
        // An ambiguous prefix identifies nothing.
        matches.next().is_none().then_some(first.1)
    };
    let find_merge = |prefix: &str| -> Option<&Merge> {
        let mut matches = merges.iter().filter(|m| m.id.starts_with(prefix));
        let first = matches.next()?;
        matches.next().is_none().then_some(first)
    };
    // Newest revert first, so that a revert of a revert cancels before the revert it undoes.
    for (index, p) in parsed.iter().enumerate().rev() {
        if cancelled.contains(&index) || p.reverts.is_empty() {
            continue;
        }
        let targets: Option<Vec<usize>> = p
            .reverts
            .iter()
            .map(|id| match find(id) {
                Some(target) => Some(vec![target]),
                None => find_merge(id)
                    .map(|merge| merged_by(merge, parsed, merges))
                    .filter(|merged| !merged.is_empty()),
            })
            .collect::<Option<Vec<Vec<usize>>>>()
            .map(|t| t.concat());
        if let Some(targets) = targets
            && targets
                .iter()
                .all(|t| !cancelled.contains(t) && *t != index)
        {
            cancelled.insert(index);
            cancelled.extend(targets);
        }
    }
    cancelled
}

/// The commits of the range (indices into `parsed`) that `merge` brought in: reachable from
/// its other parents but not from its first.
fn merged_by(merge: &Merge, parsed: &[ParsedCommit], merges: &[Merge]) -> Vec<usize> {
    let mut graph: HashMap<&str, (&[String], Option<usize>)> = parsed
        .iter()
        .enumerate()
        .map(|(i, p)| (p.commit.id.as_str(), (p.commit.parents.as_slice(), Some(i))))
        .collect();
    graph.extend(
        merges
            .iter()
            .map(|m| (m.id.as_str(), (m.parents.as_slice(), None))),
    );
    let reach = |starts: &[String], stop: &BTreeSet<&str>| -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = starts.iter().map(String::as_str).collect();
        while let Some(id) = todo.pop() {
            let Some((key, (parents, _))) = graph.get_key_value(id) else {
                continue; // Outside the range.
            };
            if stop.contains(key) || !seen.insert(*key) {
                continue;
            }
            todo.extend(parents.iter().map(String::as_str));
        }
        seen
    };
    let Some((first, others)) = merge.parents.split_first() else {
        return Vec::new();
    };
    let mainline = reach(std::slice::from_ref(first), &BTreeSet::new());
    reach(others, &mainline)
        .into_iter()
        .filter_map(|id| graph.get(id).and_then(|(_, index)| *index))
        .collect()
}
