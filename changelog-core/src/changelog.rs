//! The structured changelog, its styles, and how commits become one.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::commit::{Range, RemoteRepository};
use crate::error::{Error, Result};
use crate::parse::{Kind, Noise, ParsedCommit, parse_commit};
use crate::source::History;

/// A person credited for an entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Author {
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

/// One line of a changelog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What changed, as a reader should read it.
    pub text: String,
    /// Full ids of the commits this entry summarises; never empty.
    pub commits: Vec<String>,
    /// Whether this breaks compatibility.
    pub breaking: bool,
    /// The scope (`api`), if any.
    pub scope: Option<String>,
    /// Issue and pull request references (`#12`).
    pub refs: Vec<String>,
    /// Who made the change.
    pub authors: Vec<Author>,
    /// What kind of change this is.
    pub kind: Kind,
    /// Explanations of the breaking change (from `BREAKING CHANGE:` footers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaking_notes: Vec<String>,
}

/// A titled group of entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Heading (`Features`, `Fixed`, ...).
    pub title: String,
    /// Entries, oldest change first.
    pub entries: Vec<Entry>,
}

/// Counts of what went into a changelog and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Commits read from the range (merges included).
    pub commits: usize,
    /// Entries written.
    pub entries: usize,
    /// Merge commits (their merged commits are entries, not the merges).
    pub merges: usize,
    /// `fixup!`, `squash!` and `amend!` commits.
    pub fixups: usize,
    /// Release and version bumps.
    pub release_bumps: usize,
    /// Commits with an empty message.
    pub empty: usize,
    /// Commits left out because both they and their revert are in the range.
    pub reverted: usize,
    /// Commits of kinds the style does not show (documentation, tests, ... in `keep-a-changelog`).
    pub hidden: usize,
    /// Commits folded into an entry with the same section, scope and text (cherry-picks).
    #[serde(default)]
    pub duplicates: usize,
}

/// A changelog for one range: the structured document every renderer starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changelog {
    /// Document title.
    pub title: String,
    /// The release, if known (given, or the tag at the end of the range).
    pub version: Option<String>,
    /// Date of the release: the commit date of the range's end.
    pub date: Option<NaiveDate>,
    /// The range the commits were read from.
    pub range: Option<Range>,
    /// Where the repository lives on the web, used for links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RemoteRepository>,
    /// The style the sections follow.
    pub style: Style,
    /// Sections in the style's order; empty sections are left out.
    pub sections: Vec<Section>,
    /// What went in and what was left out.
    pub stats: Stats,
    /// The model that wrote the entries (LLM path only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Tokens, requests and cost of the LLM path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::pipeline::UsageReport>,
    /// What checking the model's answer found (LLM path only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<crate::verify::Verification>,
}

impl Changelog {
    /// All entries, section by section.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.sections.iter().flat_map(|s| s.entries.iter())
    }
}

/// How entries are grouped into sections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    /// Breaking Changes, Features, Bug Fixes, Performance, Refactoring, Documentation, Reverts,
    /// Other, then Styling, Tests, Build System, Continuous Integration and Chores.
    #[default]
    Conventional,
    /// <https://keepachangelog.com>: Added, Changed, Deprecated, Removed, Fixed, Security.
    /// Changes that users do not notice (documentation, tests, build, CI, chores) are left out;
    /// breaking changes stay in their section and are marked.
    KeepAChangelog,
}

const CONVENTIONAL_SECTIONS: &[&str] = &[
    "Breaking Changes",
    "Features",
    "Bug Fixes",
    "Performance",
    "Refactoring",
    "Documentation",
    "Reverts",
    "Other",
    "Styling",
    "Tests",
    "Build System",
    "Continuous Integration",
    "Chores",
];

const KEEP_A_CHANGELOG_SECTIONS: &[&str] = &[
    "Added",
    "Changed",
    "Deprecated",
    "Removed",
    "Fixed",
    "Security",
];

impl Style {
    /// Every style, in the order they are documented.
    pub const ALL: [Self; 2] = [Self::Conventional, Self::KeepAChangelog];

    /// The style's name on the command line and in JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Conventional => "conventional",
            Self::KeepAChangelog => "keep-a-changelog",
        }
    }

    /// Section titles in the order they appear.
    #[must_use]
    pub fn sections(self) -> &'static [&'static str] {
        match self {
            Self::Conventional => CONVENTIONAL_SECTIONS,
            Self::KeepAChangelog => KEEP_A_CHANGELOG_SECTIONS,
        }
    }

    /// Index into [`Style::sections`] of the section for a change, or `None` when this style
    /// does not show it.
    #[must_use]
    pub fn section_of(self, kind: Kind, breaking: bool) -> Option<usize> {
        match self {
            Self::Conventional => Some(if breaking {
                0
            } else {
                match kind {
                    Kind::Feature | Kind::Improvement => 1,
                    Kind::Fix | Kind::Security => 2,
                    Kind::Performance => 3,
                    Kind::Refactor => 4,
                    Kind::Documentation => 5,
                    Kind::Revert => 6,
                    Kind::Deprecation | Kind::Removal | Kind::Change | Kind::Other => 7,
                    Kind::Style => 8,
                    Kind::Test => 9,
                    Kind::Build => 10,
                    Kind::Ci => 11,
                    Kind::Chore => 12,
                }
            }),
            Self::KeepAChangelog => match kind {
                Kind::Feature => Some(0),
                Kind::Improvement
                | Kind::Performance
                | Kind::Refactor
                | Kind::Revert
                | Kind::Change
                | Kind::Other => Some(1),
                Kind::Deprecation => Some(2),
                Kind::Removal => Some(3),
                Kind::Fix => Some(4),
                Kind::Security => Some(5),
                // A breaking change is always news, whatever its type.
                _ if breaking => Some(1),
                _ => None,
            },
        }
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Style {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| Error::UnknownName {
                what: "style",
                name: name.to_owned(),
                expected: "conventional, keep-a-changelog",
            })
    }
}

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
