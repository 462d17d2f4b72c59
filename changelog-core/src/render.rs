//! Deterministic rendering of a [`Changelog`] to Markdown or JSON.
//!
//! The output depends only on the changelog: the same history renders to the same bytes, with
//! no clock, network or key involved.
//!
//! Everything in a changelog that comes from a repository (entry text, scopes, breaking notes,
//! references, tag and version names, the title) is written by whoever made the commits, so the
//! Markdown escapes it: it can never become HTML, a link, an image, a heading, a list, a quote,
//! a table cell or emphasis. Balanced code spans (`` `like this` ``) stay code spans, which are
//! inert. The only links are the ones the renderer makes (commit and reference pages). The JSON
//! keeps the text as it is.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::changelog::{Changelog, Entry, Style};
use crate::commit::{LinkTemplates, RemoteRepository, unambiguous_prefixes};
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
pub fn write(changelog: &Changelog, format: Format, out: impl io::Write) -> io::Result<()> {
    write_document(format, out, changelog, || markdown(changelog))
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
/// the repository is on GitHub or GitLab, or when [`Changelog::links`] has templates (which
/// replace the host's URL shapes). Breaking changes have their own section in the
/// `conventional` style and a **BREAKING** mark in `keep-a-changelog`, with the explanation of
/// their `BREAKING CHANGE` footer beneath.
#[must_use]
pub fn markdown(changelog: &Changelog) -> String {
    markdown_with(changelog, true)
}

/// One release's section as [`markdown`] writes it, without the document's title: what
/// [`crate::document::prepend`] writes into an existing file.
#[must_use]
pub fn markdown_section(changelog: &Changelog) -> String {
    markdown_with(changelog, false)
}

/// A document title as [`markdown`] writes it (`# Changelog`), with its line ending.
#[must_use]
pub fn markdown_title(title: &str) -> String {
    let mut out = String::from("# ");
    push_escaped(&mut out, &single_line(title), Place::Heading);
    out.push('\n');
    out
}

/// What a release with no entry says.
pub const NO_CHANGES: &str = "No notable changes.";

/// Several releases (newest first) as one document: the first one's title, then each release's
/// section. An empty list gives an empty text.
#[must_use]
pub fn markdown_releases(changelogs: &[Changelog]) -> String {
    let mut out = String::new();
    for (i, changelog) in changelogs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&markdown_with(changelog, i == 0));
    }
    out
}

/// Several releases (newest first) into a writer: Markdown as [`markdown_releases`], JSON as a
/// list of documents.
pub fn write_releases(
    changelogs: &[Changelog],
    format: Format,
    out: impl io::Write,
) -> io::Result<()> {
    write_document(format, out, changelogs, || markdown_releases(changelogs))
}

/// Writes `document` as pretty JSON, or the Markdown `markdown` makes, then flushes.
fn write_document<T: serde::Serialize + ?Sized>(
    format: Format,
    mut out: impl io::Write,
    document: &T,
    markdown: impl FnOnce() -> String,
) -> io::Result<()> {
    match format {
        Format::Markdown => out.write_all(markdown().as_bytes())?,
        Format::Json => {
            // The serializer writes a document in many small pieces (a key, a quote, each
            // level of indentation): into a buffer of its own they are copies the compiler
            // sees, rather than calls through whatever `out` is (`&mut dyn Write`, a file).
            let mut buffered = io::BufWriter::with_capacity(1 << 16, &mut out);
            serde_json::to_writer_pretty(&mut buffered, document)?;
            io::Write::write_all(&mut buffered, b"\n")?;
            io::Write::flush(&mut buffered)?;
        }
    }
    out.flush()
}

fn markdown_with(changelog: &Changelog, title: bool) -> String {
    let short = short_ids(changelog);
    let links = Links {
        host: changelog.repository.as_ref(),
        templates: changelog.links.as_ref(),
    };
    let mut out = String::with_capacity(256 + 160 * changelog.stats.entries);
    if title && !changelog.title.is_empty() {
        out.push_str(&markdown_title(&changelog.title));
        out.push('\n');
    }
    let version = changelog.version.as_deref();
    match changelog.style {
        Style::Conventional | Style::ReleaseNotes | Style::Technical | Style::Social => {
            out.push_str("## ");
            push_escaped(
                &mut out,
                &single_line(version.unwrap_or("Unreleased")),
                Place::Heading,
            );
            if let Some(date) = changelog.date {
                let _ = write!(out, " ({date})");
            }
        }
        Style::KeepAChangelog => {
            out.push_str("## [");
            push_escaped(
                &mut out,
                &single_line(version.unwrap_or("Unreleased")),
                Place::Heading,
            );
            out.push(']');
            if let Some(date) = changelog.date {
                let _ = write!(out, " - {date}");
            }
        }
    }
    out.push_str("\n\n");

    if changelog.sections.is_empty() {
        out.push_str(NO_CHANGES);
        out.push('\n');
        return out;
    }
    for section in &changelog.sections {
        let marker = if section.title == "Breaking Changes" {
            "⚠ "
        } else {
            ""
        };
        out.push_str("### ");
        out.push_str(marker);
        push_escaped(&mut out, &single_line(&section.title), Place::Heading);
        out.push_str("\n\n");
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

/// Where the renderer's links point: the configured templates first, then the host.
#[derive(Debug, Clone, Copy)]
struct Links<'a> {
    host: Option<&'a RemoteRepository>,
    templates: Option<&'a LinkTemplates>,
}

impl Links<'_> {
    fn commit_url(self, id: &str) -> Option<String> {
        self.templates
            .and_then(|t| t.commit_url(id))
            .or_else(|| self.host.map(|h| h.commit_url(id)))
    }

    fn reference_url(self, reference: &str, pull_request: bool) -> Option<String> {
        self.templates
            .and_then(|t| t.reference_url(reference, pull_request))
            .or_else(|| self.host.and_then(|h| h.reference_url(reference)))
    }
}

fn write_entry(
    out: &mut String,
    entry: &Entry,
    mark_breaking: bool,
    short: &HashMap<&str, &str>,
    links: Links<'_>,
) {
    out.push_str("- ");
    if mark_breaking {
        out.push_str("**BREAKING:** ");
    }
    if let Some(scope) = &entry.scope {
        out.push_str("**");
        push_escaped(out, &single_line(scope), Place::Inline);
        out.push_str(":** ");
    }
    push_escaped(out, &single_line(&entry.text), Place::LineStart);
    if !entry.refs.is_empty() || !entry.pull_requests.is_empty() {
        out.push_str(" (");
        let pull_requests = entry.pull_requests.iter().map(|r| (r, true));
        let issues = entry.refs.iter().map(|r| (r, false));
        for (i, (reference, pull_request)) in pull_requests.chain(issues).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&reference_link(
                reference,
                links.reference_url(reference, pull_request),
            ));
        }
        out.push(')');
    }
    out.push_str(" (");
    for (i, id) in entry.commits.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let shown = short.get(id.as_str()).copied().unwrap_or(id);
        match links.commit_url(id) {
            Some(url) => {
                out.push('[');
                push_escaped(out, shown, Place::Inline);
                out.push_str("](");
                push_destination(out, &url);
                out.push(')');
            }
            None => push_escaped(out, shown, Place::Inline),
        }
    }
    out.push_str(")\n");
    for note in &entry.breaking_notes {
        out.push_str("  - ");
        push_escaped(out, &single_line(note), Place::LineStart);
        out.push('\n');
    }
}

/// A reference (`#12`, `!7`), linked to its page when there is one.
fn reference_link(reference: &str, url: Option<String>) -> String {
    let mut out = String::with_capacity(reference.len() + 64);
    match url {
        Some(url) => {
            out.push('[');
            push_escaped(&mut out, reference, Place::Inline);
            out.push_str("](");
            push_destination(&mut out, &url);
            out.push(')');
        }
        None => push_escaped(&mut out, reference, Place::Inline),
    }
    out
}

/// Where escaped text is placed, which decides what a character can start there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The start of a list item's text: `#`, `-`, `+`, `1.` would open a heading or a list.
    LineStart,
    /// A heading's text: a `#` anywhere could close it.
    Heading,
    /// Within a line, after text of the renderer's own.
    Inline,
}

/// Characters that can mean something to Markdown or HTML outside a code span; text without any
/// is copied as it is.
fn is_special(b: u8) -> bool {
    matches!(
        b,
        b'\\'
            | b'`'
            | b'*'
            | b'_'
            | b'['
            | b']'
            | b'<'
            | b'>'
            | b'&'
            | b'|'
            | b'~'
            | b'@'
            | b':'
            | b'.'
            | b'#'
    )
}

/// Appends one line of repository text so that Markdown shows it as plain text.
///
/// - `<`, `>` and `&` become entities: no HTML, no autolink (`<http://...>`), no entity tricks.
/// - `\`, `*`, `_`, `[`, `]`, `|`, `~` and `@` are backslash-escaped: no emphasis, links,
///   images (`![` needs its `[`), table cells, strikethrough or e-mail autolinks.
/// - The `:` of `://` and the `.` of `www.` are escaped, so that extended autolinks (GitHub
///   Flavored Markdown links bare URLs) do not fire either.
/// - A balanced code span is kept as it is: nothing inside one is interpreted. An unbalanced
///   backtick is escaped.
/// - At the start of a list item's text, a block marker (`#`, `-`, `+`, `=`, `1.`, `1)`) is
///   escaped; in a heading every `#` is.
fn push_escaped(out: &mut String, text: &str, place: Place) {
    let bytes = text.as_bytes();
    let starts_block = place == Place::LineStart;
    let block_marker = starts_block && bytes.first().is_some_and(|b| b"#-+=0123456789".contains(b));
    if !block_marker && !bytes.iter().any(|&b| is_special(b)) {
        out.push_str(text);
        return;
    }
    let mut i = 0;
    if starts_block {
        match bytes.first() {
            Some(b'-' | b'+' | b'=') => out.push('\\'),
            Some(b'0'..=b'9') => {
                let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
                if matches!(bytes.get(digits), Some(b'.' | b')')) {
                    out.push_str(&text[..digits]);
                    out.push('\\');
                    i = digits;
                }
            }
            _ => {}
        }
    }
    // Start of the text not yet copied.
    let mut copied = i;
    while i < bytes.len() {
        let b = bytes[i];
        let replacement: Option<&str> = match b {
            b'<' => Some("&lt;"),
            b'>' => Some("&gt;"),
            b'&' => Some("&amp;"),
            b'\\' => Some("\\\\"),
            b'*' => Some("\\*"),
            b'_' => Some("\\_"),
            b'[' => Some("\\["),
            b']' => Some("\\]"),
            b'|' => Some("\\|"),
            b'~' => Some("\\~"),
            b'@' => Some("\\@"),
            b':' if bytes[i + 1..].starts_with(b"//") => Some("\\:"),
            b'.' if i >= 3 && bytes[i - 3..i].eq_ignore_ascii_case(b"www") => Some("\\."),
            b'#' if place == Place::Heading || (i == 0 && starts_block) => Some("\\#"),
            b'`' => {
                let run = bytes[i..].iter().take_while(|&&c| c == b'`').count();
                match closing_backticks(bytes, i + run, run) {
                    Some(end) => {
                        // A code span: copied as it is.
                        i = end;
                        continue;
                    }
                    None => {
                        out.push_str(&text[copied..i]);
                        for _ in 0..run {
                            out.push_str("\\`");
                        }
                        i += run;
                        copied = i;
                        continue;
                    }
                }
            }
            _ => None,
        };
        if let Some(replacement) = replacement {
            out.push_str(&text[copied..i]);
            out.push_str(replacement);
            copied = i + 1;
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
}

/// The end of the run of exactly `run` backticks that closes a code span opened before `from`.
fn closing_backticks(bytes: &[u8], from: usize, run: usize) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let length = bytes[i..].iter().take_while(|&&c| c == b'`').count();
            if length == run {
                return Some(i + length);
            }
            i += length;
        } else {
            i += 1;
        }
    }
    None
}

/// Appends a link destination the renderer made, percent-encoding what could end the link or
/// start markup (spaces, parentheses, angle brackets, quotes, backslashes, controls).
fn push_destination(out: &mut String, url: &str) {
    for &b in url.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/?#@!$&*+,;=%".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
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
