//! Deterministic rendering of a [`Changelog`] to Markdown or JSON.
//!
//! The output depends only on the changelog: the same history renders to the same bytes, with
//! no clock, network or key involved.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::changelog::{Changelog, Entry, Style};
use crate::commit::RemoteRepository;
use crate::commit::unambiguous_prefixes;
use crate::error::{Error, Result};

/// Output formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Markdown for humans.
    #[default]
    Markdown,
    /// The structured changelog as JSON.
    Json,
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "markdown" | "md" => Ok(Self::Markdown),
            "json" => Ok(Self::Json),
            _ => Err(Error::UnknownName {
                what: "format",
                name: name.to_owned(),
                expected: "markdown, json",
            }),
        }
    }
}

/// Renders a changelog in the given format. The text ends with a newline.
pub fn render(changelog: &Changelog, format: Format) -> Result<String> {
    match format {
        Format::Markdown => Ok(markdown(changelog)),
        Format::Json => json(changelog),
    }
}

/// Renders a changelog into a writer, without holding the whole text in memory for JSON (a
/// long history's JSON runs to megabytes). Give it a buffered writer.
pub fn write(changelog: &Changelog, format: Format, mut out: impl io::Write) -> io::Result<()> {
    match format {
        Format::Markdown => out.write_all(markdown(changelog).as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, changelog)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}

/// The changelog as pretty-printed JSON (see the crate docs for its shape).
pub fn json(changelog: &Changelog) -> Result<String> {
    let mut out = serde_json::to_string_pretty(changelog)?;
    out.push('\n');
    Ok(out)
}

/// The changelog as Markdown.
///
/// Every entry ends with the short ids of the commits it cites, linked to the commit pages when
/// the repository is on GitHub or GitLab. Breaking changes have their own section in the
/// `conventional` style and a **BREAKING** mark in `keep-a-changelog`, with the explanation of
/// their `BREAKING CHANGE` footer beneath.
#[must_use]
pub fn markdown(changelog: &Changelog) -> String {
    let short = short_ids(changelog);
    let links = changelog.repository.as_ref();
    let mut out = String::with_capacity(256 + 160 * changelog.stats.entries);
    if !changelog.title.is_empty() {
        let _ = writeln!(out, "# {}\n", changelog.title);
    }
    let version = changelog.version.as_deref();
    match changelog.style {
        Style::Conventional | Style::ReleaseNotes | Style::Technical | Style::Social => {
            out.push_str("## ");
            out.push_str(version.unwrap_or("Unreleased"));
            if let Some(date) = changelog.date {
                let _ = write!(out, " ({date})");
            }
        }
        Style::KeepAChangelog => {
            let _ = write!(out, "## [{}]", version.unwrap_or("Unreleased"));
            if let Some(date) = changelog.date {
                let _ = write!(out, " - {date}");
            }
        }
    }
    out.push_str("\n\n");

    if changelog.sections.is_empty() {
        out.push_str("No notable changes.\n");
        return out;
    }
    for section in &changelog.sections {
        let marker = if section.title == "Breaking Changes" {
            "⚠ "
        } else {
            ""
        };
        let _ = writeln!(out, "### {marker}{}\n", section.title);
        for entry in &section.entries {
            let mark = changelog.style == Style::KeepAChangelog && entry.breaking;
            write_entry(&mut out, entry, mark, &short, links);
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn write_entry(
    out: &mut String,
    entry: &Entry,
    mark_breaking: bool,
    short: &HashMap<&str, &str>,
    links: Option<&RemoteRepository>,
) {
    out.push_str("- ");
    if mark_breaking {
        out.push_str("**BREAKING:** ");
    }
    if let Some(scope) = &entry.scope {
        let _ = write!(out, "**{scope}:** ");
    }
    out.push_str(&single_line(&entry.text));
    if !entry.refs.is_empty() {
        out.push_str(" (");
        for (i, reference) in entry.refs.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match links.and_then(|l| l.reference_url(reference)) {
                Some(url) => {
                    let _ = write!(out, "[{reference}]({url})");
                }
                None => out.push_str(reference),
            }
        }
        out.push(')');
    }
    out.push_str(" (");
    for (i, id) in entry.commits.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let shown = short.get(id.as_str()).copied().unwrap_or(id);
        match links {
            Some(l) => {
                let _ = write!(out, "[{shown}]({})", l.commit_url(id));
            }
            None => out.push_str(shown),
        }
    }
    out.push_str(")\n");
    for note in &entry.breaking_notes {
        let _ = writeln!(out, "  - {}", single_line(note));
    }
}

/// Collapses line breaks so that a value stays one Markdown list item.
fn single_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Shortest unambiguous prefix (at least 7 digits) of every commit the changelog cites.
fn short_ids(changelog: &Changelog) -> HashMap<&str, &str> {
    let mut ids: Vec<&str> = changelog
        .entries()
        .flat_map(|e| e.commits.iter().map(String::as_str))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let lengths = unambiguous_prefixes(&ids, 7);
    ids.iter()
        .zip(lengths)
        .map(|(id, n)| (*id, &id[..n]))
        .collect()
}
