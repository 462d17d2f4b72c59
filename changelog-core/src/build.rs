//! Grouping: how the commits of a history become a structured [`Changelog`].
//!
//! Commits are parsed, noise is dropped, a commit and its revert that are both in the range
//! cancel out, the commits of one pull request become one entry ([`GroupBy`]), and the entries
//! are grouped into the sections of a [`Style`].
//!
//! # One entry per pull request
//!
//! The commits that came through one pull request (its first reference in
//! [`ParsedCommit::pull_requests`]) make one entry. Its text is the pull request's title (parsed
//! as a summary: a Conventional Commit, `area: text`, or plain words) or, with no title, the
//! most significant commit's description; its kind and scope come from the title, else from
//! that commit (breaking before feature, fix, performance, ...). It cites every commit and
//! keeps every breaking note. Commits with no pull request are one entry each. Entries of a
//! section with the same scope and text fold into one.
//!
//! # Rules of a configuration
//!
//! [`BuildOptions::sections`] replaces the style's section table (see [`SectionRule`]), and
//! [`BuildOptions::skip`] leaves commits out before anything is grouped (see [`SkipRules`]);
//! both usually come from `changelog.toml` ([`crate::config`]). With neither, the style decides.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::changelog::{Changelog, Entry, Section, Stats, Style};
use crate::commit::{Commit, History, LinkTemplates, Range, RemoteRepository};
use crate::error::{Error, Result};
use crate::parse::{Kind, Noise, ParsedCommit, parse_commit, parse_title};

/// What the caller decides about a changelog beyond the commits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Section layout.
    pub style: Style,
    /// Title; `Changelog` when `None`.
    pub title: Option<String>,
    /// Version; the tag at the end of the range when `None`.
    pub version: Option<String>,
    /// One entry per pull request (the default) or per commit.
    pub group_by: GroupBy,
    /// Show the entries the style hides (internal changes in keep-a-changelog) in a last
    /// `Internal` section, rather than only in [`Changelog::hidden`].
    pub show_hidden: bool,
    /// Prefix of the release tags (`tokio-` of `tokio-1.52.0`), left out of the version.
    pub tag_prefix: Option<String>,
    /// Sections in their order, replacing the style's table for the deterministic changelog;
    /// empty for the style's own.
    pub sections: Vec<SectionRule>,
    /// Commits left out of the changelog (bots, subjects), counted in [`Stats::skipped`].
    pub skip: SkipRules,
    /// Link templates the Markdown uses instead of the host's URL shapes; empty for the host's.
    pub links: LinkTemplates,
}

/// A regular expression, compiled once; two are equal when their sources are.
#[derive(Debug, Clone)]
pub struct Pattern(regex::Regex);

impl Pattern {
    /// Compiles a regular expression (the `regex` crate's syntax: linear time, no
    /// backreferences or look-around).
    pub fn new(source: &str) -> std::result::Result<Self, regex::Error> {
        regex::Regex::new(source).map(Self)
    }

    /// The expression as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the expression matches anywhere in `text`.
    #[must_use]
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Pattern {}

/// One section of a custom layout (`[[sections]]` of `changelog.toml`).
///
/// An entry goes to the first section, in the list's order, that takes it: a section takes a
/// breaking change when [`SectionRule::breaking`] is set, an entry of one of its
/// [`SectionRule::kinds`], and an entry one of whose subjects (the summary line of each of its
/// commits as written, `feat(api): add x`, and its pull request's title) one of its
/// [`SectionRule::patterns`] matches. A breaking change never goes to a hidden section. An entry
/// that no section takes is hidden (it is in [`Changelog::hidden`], and in a last `Internal`
/// section with [`BuildOptions::show_hidden`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SectionRule {
    /// The heading.
    pub title: String,
    /// Kinds of change it takes.
    pub kinds: Vec<Kind>,
    /// Expressions on the subjects of the commits (and the pull request title) it takes.
    pub patterns: Vec<Pattern>,
    /// Whether it takes every breaking change, whatever its kind.
    pub breaking: bool,
    /// Whether its entries are left out of the document ([`Changelog::hidden`]); with
    /// [`BuildOptions::show_hidden`] the section is shown where it stands.
    pub hidden: bool,
}

impl SectionRule {
    /// Whether the rule takes an entry with these subjects.
    fn takes(&self, entry: &Entry, subjects: &[&str]) -> bool {
        if entry.breaking && self.hidden {
            return false;
        }
        (self.breaking && entry.breaking)
            || self.kinds.contains(&entry.kind)
            || self
                .patterns
                .iter()
                .any(|p| subjects.iter().any(|s| p.is_match(s)))
    }
}

/// Commits left out of a changelog (`[skip]` of `changelog.toml`). A commit is left out when
/// one of [`SkipRules::subjects`] matches its summary line, or one of [`SkipRules::authors`]
/// matches its author's name or e-mail address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipRules {
    /// Expressions on the summary line, as written (`^chore\(release\)`).
    pub subjects: Vec<Pattern>,
    /// Expressions on the author's name and, separately, e-mail address (`\[bot\]`).
    pub authors: Vec<Pattern>,
}

impl SkipRules {
    /// Whether there is no rule.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty() && self.authors.is_empty()
    }

    /// Whether a commit is left out.
    #[must_use]
    pub fn skips(&self, commit: &Commit) -> bool {
        self.subjects.iter().any(|p| p.is_match(&commit.summary))
            || self
                .authors
                .iter()
                .any(|p| p.is_match(&commit.author.name) || p.is_match(&commit.author.email))
    }
}

/// What one entry of a changelog stands for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupBy {
    /// One entry per pull request; commits with none are one entry each.
    #[default]
    #[serde(rename = "pr")]
    PullRequest,
    /// One entry per commit.
    Commit,
}

impl FromStr for GroupBy {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "pr" | "pull-request" => Ok(Self::PullRequest),
            "commit" => Ok(Self::Commit),
            _ => Err(Error::UnknownName {
                what: "grouping",
                name: name.to_owned(),
                expected: "pr, commit",
            }),
        }
    }
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
    prepare_with(history, &SkipRules::default())
}

/// As [`prepare`], and leaves out the commits that `skip` names (counted in
/// [`Stats::skipped`]).
#[must_use]
pub fn prepare_with(history: History, skip: &SkipRules) -> Prepared {
    let History {
        range,
        commits,
        repository,
    } = history;
    let mut stats = Stats {
        commits: commits.len(),
        ..Stats::default()
    };
    // Merges are noise, but a revert of a merge undoes what it merged.
    let mut merges: Vec<Merge> = Vec::new();
    // Sources list commits newest first; a changelog reads oldest first.
    let mut commits = commits;
    commits.reverse();
    let mut parsed = parse_all(commits);
    // In place: a parsed commit is large, and a second list of them is as many pages to fill.
    parsed.retain(|p| {
        match p.noise {
            Some(Noise::Merge) => {
                stats.merges += 1;
                merges.push(Merge {
                    id: p.commit.id.clone(),
                    parents: p.commit.parents.clone(),
                });
            }
            Some(Noise::Fixup) => stats.fixups += 1,
            Some(Noise::ReleaseBump) => stats.release_bumps += 1,
            Some(Noise::Empty) => stats.empty += 1,
            None if !skip.is_empty() && skip.skips(&p.commit) => stats.skipped += 1,
            None => return true,
        }
        false
    });
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

/// Parses commits, in order; a long list on two threads (parsing is most of what preparing a
/// long history costs, and a parsed commit depends on its own commit alone).
fn parse_all(mut commits: Vec<Commit>) -> Vec<ParsedCommit> {
    /// Below this, a thread costs more than it saves.
    const PARALLEL_FROM: usize = 4096;
    if commits.len() < PARALLEL_FROM {
        return commits.into_iter().map(parse_commit).collect();
    }
    let total = commits.len();
    let second = commits.split_off(total / 2);
    std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            // Room for the second half too: it is appended without moving the first.
            let mut parsed = Vec::with_capacity(total);
            parsed.extend(commits.into_iter().map(parse_commit));
            parsed
        });
        let second: Vec<ParsedCommit> = second.into_iter().map(parse_commit).collect();
        let mut parsed = match first.join() {
            Ok(parsed) => parsed,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        parsed.extend(second);
        parsed
    })
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
            version: options.version.clone().or_else(|| {
                let tag = range.as_ref().and_then(|r| r.to.tag.as_deref())?;
                let version = options
                    .tag_prefix
                    .as_deref()
                    .and_then(|prefix| tag.strip_prefix(prefix))
                    .filter(|v| !v.is_empty())
                    .unwrap_or(tag);
                Some(version.to_owned())
            }),
            date: range.as_ref().map(|r| r.to.time.date_naive()),
            range,
            repository: self.repository,
            links: (!options.links.is_empty()).then(|| options.links.clone()),
            style,
            sections,
            hidden: Vec::new(),
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
/// cancel out (a revert of a merge cancels the commits it merged), the commits of a pull request
/// become one entry (see the module docs), and the entries are grouped by the style. Entries
/// with the same section, scope and text (a cherry-pick, say) are merged into one that cites
/// every commit.
#[must_use]
pub fn build(history: History, options: &BuildOptions) -> Changelog {
    let mut prepared = prepare_with(history, &options.skip);
    let style = options.style;
    let rules = options.sections.as_slice();
    let titles: Vec<&str> = if rules.is_empty() {
        style.sections().to_vec()
    } else {
        rules.iter().map(|r| r.title.as_str()).collect()
    };
    let mut sections: Vec<Vec<Entry>> = vec![Vec::new(); titles.len()];
    // Entries by section, scope and text in lower case, for merging duplicates: the key's hash
    // -> (section, position), checked against the entry there (one allocation for the key's
    // text in all, rather than a scope and a text per entry).
    let mut seen: HashMap<u64, (usize, usize)> = HashMap::with_capacity(prepared.commits.len());
    let mut lower = String::new();
    let mut hidden: Vec<Entry> = Vec::new();
    let mut commits = std::mem::take(&mut prepared.commits);
    for group in groups(&commits, options.group_by) {
        prepared.stats.grouped += group.len() - 1;
        let size = group.len();
        // The subjects the rules' patterns read, taken before the entry takes the texts.
        let subjects: Vec<String> = if rules.is_empty() {
            Vec::new()
        } else {
            subjects_of(&commits, &group)
        };
        let entry = entry_of(
            &mut commits,
            &group,
            options.group_by == GroupBy::PullRequest,
        );
        let section = if rules.is_empty() {
            style.section_of(entry.kind, entry.breaking)
        } else {
            let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
            rules
                .iter()
                .position(|rule| rule.takes(&entry, &subjects))
                .filter(|&i| options.show_hidden || !rules[i].hidden)
        };
        let Some(section) = section else {
            prepared.stats.hidden += size;
            hidden.push(entry);
            continue;
        };
        let key = duplicate_key(section, &entry, &mut lower);
        match seen.get(&key) {
            Some(&(at, position)) if same_entry(&sections[at][position], section == at, &entry) => {
                merge_into(&mut sections[at][position], entry);
                prepared.stats.duplicates += size;
                continue;
            }
            // Another entry with the same hash (as good as never): both stay.
            Some(_) => {}
            None => {
                seen.insert(key, (section, sections[section].len()));
            }
        }
        sections[section].push(entry);
    }
    let mut sections: Vec<Section> = sections
        .into_iter()
        .enumerate()
        .filter(|(_, entries)| !entries.is_empty())
        .map(|(i, entries)| Section {
            title: titles[i].to_owned(),
            entries,
        })
        .collect();
    if options.show_hidden && !hidden.is_empty() {
        sections.push(Section {
            title: "Internal".to_owned(),
            entries: std::mem::take(&mut hidden),
        });
    }
    free_aside(commits);
    let mut changelog = prepared.into_changelog(style, options, sections);
    changelog.hidden = hidden;
    changelog
}

/// Frees the commits the entries were made of, less what the entries took (their messages,
/// trailers, signatures and files remain): for a long history on a thread of its own, since
/// that is tens of thousands of small allocations the caller need not wait for.
fn free_aside(commits: Vec<ParsedCommit>) {
    /// Below this many commits, freeing them here costs less than starting a thread.
    const ASIDE_FROM: usize = 4096;
    if commits.len() < ASIDE_FROM {
        return;
    }
    // Should the thread not start, the closure (and the commits) is dropped here.
    let _ = std::thread::Builder::new()
        .name("changelog-free".to_owned())
        .spawn(move || drop(commits));
}

/// The subjects of a group that section patterns are matched against: each commit's summary
/// line as written, then the pull request's title.
fn subjects_of(commits: &[ParsedCommit], group: &[usize]) -> Vec<String> {
    let mut subjects: Vec<String> = group
        .iter()
        .map(|&i| commits[i].commit.summary.clone())
        .collect();
    if let Some(title) = group
        .iter()
        .find_map(|&i| commits[i].pull_request_title.clone())
    {
        subjects.push(title);
    }
    subjects
}

/// Positions of the commits of each entry: the commits of one pull request together (with
/// [`GroupBy::PullRequest`]), every other commit alone, in the order of each group's first
/// commit. The LLM path lists the same groups in its prompts.
#[must_use]
pub fn groups(commits: &[ParsedCommit], group_by: GroupBy) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::with_capacity(commits.len());
    let mut by_pull_request: HashMap<&str, usize> = HashMap::new();
    for (i, p) in commits.iter().enumerate() {
        let key = match group_by {
            GroupBy::PullRequest => p.pull_requests.first(),
            GroupBy::Commit => None,
        };
        match key {
            Some(key) => match by_pull_request.get(key.as_str()) {
                Some(&g) => groups[g].push(i),
                None => {
                    by_pull_request.insert(key, groups.len());
                    groups.push(vec![i]);
                }
            },
            None => groups.push(vec![i]),
        }
    }
    groups
}

/// How much a commit of a pull request says about the whole: breaking changes first, then
/// features, security, fixes, performance, ... chores last.
#[must_use]
pub fn significance(kind: Kind, breaking: bool) -> u8 {
    let rank = match kind {
        Kind::Feature => 16,
        Kind::Security => 15,
        Kind::Fix => 14,
        Kind::Performance => 13,
        Kind::Improvement => 12,
        Kind::Deprecation => 11,
        Kind::Removal => 10,
        Kind::Change => 9,
        Kind::Revert => 8,
        Kind::Refactor => 7,
        Kind::Other => 6,
        Kind::Documentation => 5,
        Kind::Build => 4,
        Kind::Test => 3,
        Kind::Ci => 2,
        Kind::Style => 1,
        Kind::Chore => 0,
    };
    if breaking { rank + 32 } else { rank }
}

/// The hash of what makes two entries one: their section, scope and text in lower case
/// (`lower` is where the text is lowered).
fn duplicate_key(section: usize, entry: &Entry, lower: &mut String) -> u64 {
    use std::hash::{Hash, Hasher};
    lower.clear();
    if entry.text.is_ascii() {
        lower.extend(entry.text.chars().map(|c| c.to_ascii_lowercase()));
    } else {
        lower.push_str(&entry.text.to_lowercase());
    }
    let mut hasher = std::hash::DefaultHasher::new();
    (section, &entry.scope, &*lower).hash(&mut hasher);
    hasher.finish()
}

/// Whether `entry` is a duplicate of `kept` (in the same section when `same_section`).
fn same_entry(kept: &Entry, same_section: bool, entry: &Entry) -> bool {
    same_section
        && kept.scope == entry.scope
        && (kept.text == entry.text || kept.text.to_lowercase() == entry.text.to_lowercase())
}

/// One entry for a group of commits, the positions of `commits` in `group` (see the module
/// docs). The entry takes what it keeps of the commits; the rest stays for whoever frees them.
fn entry_of(commits: &mut [ParsedCommit], group: &[usize], pull_request_title: bool) -> Entry {
    let title = group
        .iter()
        .find_map(|&i| commits[i].pull_request_title.as_deref())
        .filter(|_| pull_request_title)
        .map(parse_title);
    // A commit alone cites itself already.
    let ids: Option<Vec<String>> = (group.len() > 1).then(|| {
        group
            .iter()
            .map(|&i| commits[i].commit.id.clone())
            .collect()
    });
    let mut lead = group[0];
    for &i in group {
        let (p, led) = (&commits[i], &commits[lead]);
        if significance(p.kind, p.breaking) > significance(led.kind, led.breaking) {
            lead = i;
        }
    }
    let mut entry = entry_of_commit(&mut commits[lead]);
    for &i in group {
        if i != lead {
            merge_into(&mut entry, entry_of_commit(&mut commits[i]));
        }
    }
    // Cite the commits in history order, whichever led.
    if let Some(ids) = ids {
        entry.commits = ids;
    }
    if let Some(title) = title {
        let kind = if title.commit_type.is_some() || title.kind != Kind::Other {
            title.kind
        } else {
            entry.kind
        };
        entry.text = title.description;
        entry.kind = kind;
        entry.scope = title.scope.or(entry.scope);
        entry.breaking |= title.breaking;
    }
    entry
}

/// The entry of one commit, made of what it takes from the commit.
fn entry_of_commit(p: &mut ParsedCommit) -> Entry {
    Entry {
        text: std::mem::take(&mut p.description),
        commits: vec![std::mem::take(&mut p.commit.id)],
        breaking: p.breaking,
        scope: p.scope.take(),
        refs: std::mem::take(&mut p.refs),
        pull_requests: std::mem::take(&mut p.pull_requests),
        authors: std::mem::take(&mut p.authors),
        kind: p.kind,
        breaking_notes: std::mem::take(&mut p.breaking_notes),
    }
}

fn merge_into(entry: &mut Entry, other: Entry) {
    entry.commits.extend(other.commits);
    entry.breaking |= other.breaking;
    for r in other.refs {
        if !entry.refs.contains(&r) {
            entry.refs.push(r);
        }
    }
    for r in other.pull_requests {
        if !entry.pull_requests.contains(&r) {
            entry.pull_requests.push(r);
        }
    }
    for a in other.authors {
        if !entry.authors.iter().any(|b| b.email == a.email) {
            entry.authors.push(a);
        }
    }
    for note in other.breaking_notes {
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
