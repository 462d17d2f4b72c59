//! The structured changelog and its styles: plain data, what every renderer and front end
//! reads. How commits become one is in [`crate::build`].

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use crate::commit::Author;
use crate::commit::{LinkTemplates, Range, RemoteRepository};
use crate::error::{Error, Result};
use crate::parse::Kind;

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
    /// Issue references (`Fixes #12`).
    pub refs: Vec<String>,
    /// The pull or merge requests the change came through (`#34`, `!7`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_requests: Vec<String>,
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
    /// Commits folded into the entry of their pull request (beyond its first).
    #[serde(default)]
    pub grouped: usize,
    /// Commits left out by the skip rules of the configuration (bots, subjects).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: usize,
}

/// Whether a count is zero (serde's `skip_serializing_if` passes a reference).
fn is_zero(n: &usize) -> bool {
    *n == 0
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
    /// Link templates that replace the host's URL shapes (`[links]` of `changelog.toml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<LinkTemplates>,
    /// The style the sections follow.
    pub style: Style,
    /// Sections in the style's order; empty sections are left out.
    pub sections: Vec<Section>,
    /// Entries the style does not show (internal changes in keep-a-changelog), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<Entry>,
    /// What went in and what was left out.
    pub stats: Stats,
    /// The model that wrote the entries (LLM path only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Tokens, requests and cost of the LLM path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageReport>,
    /// What checking the model's answer found (LLM path only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

impl Changelog {
    /// All entries, section by section.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.sections.iter().flat_map(|s| s.entries.iter())
    }
}

/// Tokens, requests and cost of a generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    /// Prompt tokens, as the provider counted them (requests answered from the cache excluded).
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
    /// Requests sent to the provider.
    pub requests: usize,
    /// Requests answered from the cache (nothing sent).
    pub cached_requests: usize,
    /// Price of the tokens above, in US dollars, from the model table; `None` (`null`) when
    /// the model's price is unknown.
    pub cost_usd: Option<f64>,
    /// Answers cut short by the output token limit.
    pub truncated_answers: usize,
    /// Chunks the range was split into (1 when it fit one request).
    pub chunks: usize,
    /// Rounds of merging partial changelogs.
    pub merge_rounds: usize,
}

/// What verification found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Entries of the answer that were dropped.
    pub dropped_entries: usize,
    /// Why each was dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<DroppedEntry>,
    /// Full ids of user-facing commits of the range that no kept entry cites.
    pub uncited_commits: Vec<String>,
    /// Share of the range's user-facing commits cited by a kept entry (1.0 when there are none).
    pub coverage: f64,
}

/// An entry that did not survive verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedEntry {
    /// Its text as the model wrote it.
    pub text: String,
    /// Why it was dropped.
    pub reason: String,
}

/// Layout and tone of a changelog: the one style every front end names.
///
/// `conventional` and `keep-a-changelog` are written with or without a model; the others are
/// prose that only a model writes ([`Style::needs_model`]). The engine groups entries into the
/// sections of [`Style::sections`] whoever wrote them: keep-a-changelog's, or the Conventional
/// Commits ones for every other style.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    /// Breaking Changes, Features, Bug Fixes, Performance, Refactoring, Documentation, Reverts,
    /// Other, then Styling, Tests, Build System, Continuous Integration and Chores.
    #[default]
    Conventional,
    /// <https://keepachangelog.com>: Added, Changed, Deprecated, Removed, Fixed, Security.
    /// Changes that users do not notice (internal refactors and clean-ups, documentation,
    /// tests, build, CI, chores) are left out unless breaking (the changelog's `hidden` list
    /// keeps them); breaking changes stay in their section and are marked.
    KeepAChangelog,
    /// Plain-language release notes for the people who use the software (needs a model).
    ReleaseNotes,
    /// Detailed notes for developers and integrators (needs a model).
    Technical,
    /// A short announcement post (needs a model).
    Social,
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
    pub const ALL: [Self; 5] = [
        Self::Conventional,
        Self::KeepAChangelog,
        Self::ReleaseNotes,
        Self::Technical,
        Self::Social,
    ];

    /// The style's name on the command line, in requests and in JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Conventional => "conventional",
            Self::KeepAChangelog => "keep-a-changelog",
            Self::ReleaseNotes => "release-notes",
            Self::Technical => "technical",
            Self::Social => "social",
        }
    }

    /// Whether only a language model can write this style (the prose styles).
    #[must_use]
    pub fn needs_model(self) -> bool {
        matches!(self, Self::ReleaseNotes | Self::Technical | Self::Social)
    }

    /// The style whose sections group the entries: keep-a-changelog's own, Conventional Commits
    /// for the others.
    fn grouping(self) -> Self {
        match self {
            Self::KeepAChangelog => Self::KeepAChangelog,
            _ => Self::Conventional,
        }
    }

    /// Section titles in the order they appear.
    #[must_use]
    pub fn sections(self) -> &'static [&'static str] {
        match self.grouping() {
            Self::KeepAChangelog => KEEP_A_CHANGELOG_SECTIONS,
            _ => CONVENTIONAL_SECTIONS,
        }
    }

    /// Index into [`Style::sections`] of the section for a change, or `None` when this style
    /// does not show it.
    #[must_use]
    pub fn section_of(self, kind: Kind, breaking: bool) -> Option<usize> {
        if self.grouping() == Self::KeepAChangelog {
            return match kind {
                Kind::Feature => Some(0),
                Kind::Improvement
                | Kind::Performance
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
            };
        }
        Some(if breaking {
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
        })
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
                expected: "conventional, keep-a-changelog, release-notes, technical, social",
            })
    }
}
