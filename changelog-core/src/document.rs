//! Reading changelog files that exist already (ours, keep-a-changelog's, conventional-changelog's
//! and git-cliff's default) into releases, sections and entries, and writing new releases into
//! them ([`prepend`]).
//!
//! | heading | release |
//! |---|---|
//! | `## v1.2.0 (2024-05-01)`, `## 1.2.0` | `v1.2.0`, `1.2.0` |
//! | `## [1.2.0] - 2024-05-01`, `## [1.2.0](https://...) (2024-05-01)` | `1.2.0` |
//! | `# [1.2.0](https://...) (2024-05-01)`, `### [1.2.1](https://...)` (conventional-changelog) | `1.2.0`, `1.2.1` |
//! | `## [Unreleased]`, `## Unreleased` | `Unreleased` |
//!
//! A [`Document`] is the header (everything before the first release heading), the releases,
//! and a footer of link reference definitions (`[1.2.0]: https://...`, keep-a-changelog's)
//! after the last release. A release holds sections (`### Features`) and each section blocks:
//! entries (list items `- ...`, `* ...`, with their continuation lines and nested notes) and
//! other text. Every part keeps its byte span, so text nobody changes is copied as it was.
//!
//! An entry cites the commits whose short ids (7 to 40 hex digits) it shows as a link's text
//! (`[a1b2c3d](https://...)`) or in a trailing parenthesis (`(a1b2c3d, 9f8e7d6)`), as our
//! renderer, conventional-changelog and git-cliff's templates write them.
//!
//! Headings inside fenced code blocks are text, not releases.

use std::borrow::Cow;
use std::ops::Range;

use chrono::NaiveDate;

mod prepend;

pub use prepend::{Action, Outcome, Prepended, PrependedFile, prepend, prepend_file};

/// A release section of an existing changelog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseHeading {
    /// The release as the heading names it (`1.2.0`, `v1.2.0`, `Unreleased`).
    pub version: String,
    /// The heading's line, 0-based.
    pub line: usize,
}

/// The release headings of a changelog file, in the order they appear.
#[must_use]
pub fn release_headings(text: &str) -> Vec<ReleaseHeading> {
    Document::parse(text)
        .releases
        .into_iter()
        .map(|r| ReleaseHeading {
            version: r.version,
            line: r.line,
        })
        .collect()
}

/// How a file ends its lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LineEnding {
    /// `\n`.
    #[default]
    Lf,
    /// `\r\n` (Windows).
    CrLf,
}

impl LineEnding {
    /// The ending of a text's first line (`\n` for a text of one line or none).
    #[must_use]
    pub fn of(text: &str) -> Self {
        match text.find('\n') {
            Some(i) if text[..i].ends_with('\r') => Self::CrLf,
            _ => Self::Lf,
        }
    }

    /// The ending itself.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lf => "\n",
            Self::CrLf => "\r\n",
        }
    }

    /// A text written with `\n` endings, with this ending instead.
    #[must_use]
    pub fn apply(self, text: &str) -> Cow<'_, str> {
        match self {
            Self::Lf => Cow::Borrowed(text),
            Self::CrLf => Cow::Owned(text.replace('\n', "\r\n")),
        }
    }
}

/// A changelog file read into its parts. Spans are byte ranges of [`Document::text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document<'a> {
    /// The text read.
    pub text: &'a str,
    /// How its lines end.
    pub line_ending: LineEnding,
    /// Everything before the first release heading (title, introduction); the whole text when
    /// there is no release.
    pub header: Range<usize>,
    /// The releases, in the order they appear (newest first, as changelogs are written).
    pub releases: Vec<Release>,
    /// Link reference definitions after the last release (`[1.2.0]: https://...`), with the
    /// text after them; empty when there are none.
    pub footer: Range<usize>,
}

/// One release of a [`Document`]: its heading and what follows up to the next release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The release as the heading names it (`1.2.0`, `v1.2.0`, `Unreleased`), unescaped.
    pub version: String,
    /// The first date (`YYYY-MM-DD`) the heading shows.
    pub date: Option<NaiveDate>,
    /// The heading's line, 0-based.
    pub line: usize,
    /// The heading line, without its line ending.
    pub heading: Range<usize>,
    /// From the heading to the end of the release's last non-blank line (its line ending
    /// included): the blank lines before the next release are not part of it.
    pub span: Range<usize>,
    /// Where the next release, the footer or the text starts.
    pub end: usize,
    /// Blocks before the first section heading.
    pub blocks: Vec<Block>,
    /// The sections (`### Features`), in order.
    pub sections: Vec<Section>,
}

/// A `###` section of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The heading's text (`Features`, `⚠ Breaking Changes`), unescaped.
    pub title: String,
    /// The heading line, without its line ending.
    pub heading: Range<usize>,
    /// The blocks under the heading, in order.
    pub blocks: Vec<Block>,
}

/// What a block of a release is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// A list item: an entry, with its continuation lines and nested items.
    Entry,
    /// Anything else: a paragraph, a fenced code block, a deeper heading.
    Text,
}

/// An entry or a piece of text of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Entry or text.
    pub kind: BlockKind,
    /// Its lines, the last line's ending included (when the text has one).
    pub span: Range<usize>,
    /// The short ids (lowercase hex) of the commits an entry cites; empty for text.
    pub commits: Vec<String>,
}

impl Document<'_> {
    /// Reads a changelog. Any text is a document: one without release headings is all header.
    #[must_use]
    pub fn parse(text: &str) -> Document<'_> {
        let lines = Line::split(text);
        let mut releases = Vec::new();
        let mut starts = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.fence == Fence::None
                && let Some(version) = release_of_line(line.content(text))
            {
                starts.push((i, version));
            }
        }
        let header_end = starts.first().map_or(text.len(), |&(i, _)| lines[i].start);
        let footer_line = starts.last().map_or(lines.len(), |&(last, _)| {
            footer_start(text, &lines, last + 1)
        });
        let footer_start = lines.get(footer_line).map_or(text.len(), |l| l.start);
        for (n, (first, version)) in starts.iter().enumerate() {
            let stop = starts.get(n + 1).map_or(footer_line, |&(next, _)| next);
            releases.push(parse_release(text, &lines, *first, stop, version.clone()));
        }
        if let Some(last) = releases.last_mut() {
            last.end = footer_start;
        }
        Document {
            text,
            line_ending: LineEnding::of(text),
            header: 0..header_end,
            releases,
            footer: footer_start..text.len(),
        }
    }
}

impl<'a> Document<'a> {
    /// The text of a span.
    #[must_use]
    pub fn slice(&self, span: &Range<usize>) -> &'a str {
        &self.text[span.clone()]
    }
}

/// Whether a line is in a fenced code block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fence {
    /// Outside any fence.
    None,
    /// The line opening a fence, which ends at the given line (the closing one, or the last).
    Opens(usize),
    /// Inside a fence, or its closing line.
    Inside,
}

/// One line of a text.
#[derive(Debug, Clone, Copy)]
struct Line {
    /// Its first byte.
    start: usize,
    /// Its end, before `\r\n` or `\n`.
    end: usize,
    /// The next line's first byte.
    next: usize,
    fence: Fence,
}

impl Line {
    fn split(text: &str) -> Vec<Self> {
        let mut lines = Vec::new();
        let mut start = 0;
        for piece in text.split_inclusive('\n') {
            let content = piece.strip_suffix('\n').unwrap_or(piece);
            let content = content.strip_suffix('\r').unwrap_or(content);
            lines.push(Self {
                start,
                end: start + content.len(),
                next: start + piece.len(),
                fence: Fence::None,
            });
            start += piece.len();
        }
        let mut open: Option<(usize, char, usize)> = None;
        for i in 0..lines.len() {
            let trimmed = lines[i].content(text).trim_start();
            if let Some((first, marker, length)) = open {
                lines[i].fence = Fence::Inside;
                let run = trimmed.chars().take_while(|&c| c == marker).count();
                if run >= length && trimmed[run..].trim().is_empty() {
                    lines[first].fence = Fence::Opens(i);
                    open = None;
                }
                continue;
            }
            for marker in ['`', '~'] {
                let run = trimmed.chars().take_while(|&c| c == marker).count();
                if run >= 3 {
                    open = Some((i, marker, run));
                    lines[i].fence = Fence::Opens(lines.len() - 1);
                    break;
                }
            }
        }
        lines
    }

    fn content(self, text: &str) -> &str {
        &text[self.start..self.end]
    }

    fn is_blank(self, text: &str) -> bool {
        self.fence == Fence::None && self.content(text).trim().is_empty()
    }

    /// Columns of indentation (a tab counts four).
    fn indent(self, text: &str) -> usize {
        self.content(text)
            .chars()
            .take_while(|c| c.is_whitespace())
            .map(|c| if c == '\t' { 4 } else { 1 })
            .sum()
    }
}

/// The level and text of an ATX heading (`## text`), indented by three spaces at most.
fn heading_of(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let level = trimmed.chars().take_while(|&c| c == '#').count();
    let rest = &trimmed[level..];
    if !(1..=6).contains(&level) || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    Some((level, rest.trim()))
}

/// The release a line's heading names: any level-2 heading's first word (out of its brackets
/// or link), or a level-1 or level-3 heading that is a bracketed version (conventional-changelog
/// writes `# [1.2.0](...)` and `### [1.2.1](...)`).
fn release_of_line(line: &str) -> Option<String> {
    let (level, heading) = heading_of(line)?;
    match level {
        2 => release_of(heading),
        1 | 3 => {
            let inner = heading.strip_prefix('[')?;
            let version = &inner[..inner.find(']')?];
            let bare = version.strip_prefix(['v', 'V']).unwrap_or(version);
            bare.starts_with(|c: char| c.is_ascii_digit())
                .then(|| unescape(version.trim()))
        }
        _ => None,
    }
}

/// The first line of the footer: the link reference definitions (and blank lines) that end
/// the text after line `from`, or the number of lines when there are none.
fn footer_start(text: &str, lines: &[Line], from: usize) -> usize {
    let mut start = lines.len();
    for i in (from..lines.len()).rev() {
        let line = lines[i];
        if line.is_blank(text) {
            continue;
        }
        if line.fence == Fence::None && is_link_definition(line.content(text)) {
            start = i;
        } else {
            break;
        }
    }
    start
}

/// `[label]: destination`, indented by three spaces at most.
fn is_link_definition(line: &str) -> bool {
    let trimmed = line.trim_start_matches(' ');
    line.len() - trimmed.len() <= 3
        && trimmed.starts_with('[')
        && trimmed
            .find("]:")
            .is_some_and(|i| i > 1 && !trimmed[i + 2..].trim().is_empty())
}

/// The list marker an entry starts with (`- `, `* `, `+ `), indented by three spaces at most:
/// the column its text starts at.
fn item_start(line: &str) -> Option<usize> {
    let trimmed = line.trim_start_matches(' ');
    let indent = line.len() - trimmed.len();
    if indent > 3 {
        return None;
    }
    let mut chars = trimmed.chars();
    let marker = chars.next()?;
    if !matches!(marker, '-' | '*' | '+') {
        return None;
    }
    let rest = chars.as_str();
    // `---`, `* * *`: thematic breaks, not items.
    let is_break = trimmed
        .chars()
        .filter(|c| !c.is_whitespace())
        .all(|c| c == marker)
        && trimmed.chars().filter(|&c| c == marker).count() >= 3;
    if is_break {
        return None;
    }
    (rest.is_empty() || rest.starts_with([' ', '\t'])).then_some(indent + 2)
}

/// Whether a line starts a block of its own (so it cannot continue an item's paragraph).
fn starts_block(line: Line, text: &str) -> bool {
    let content = line.content(text);
    matches!(line.fence, Fence::Opens(_))
        || heading_of(content).is_some()
        || item_start(content).is_some()
        || content.trim_start().starts_with('>')
}

fn parse_release(
    text: &str,
    lines: &[Line],
    first: usize,
    stop: usize,
    version: String,
) -> Release {
    let heading = lines[first].start..lines[first].end;
    let date = date_in(&text[heading.clone()]);
    let mut blocks = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    let mut last_end = lines[first].next;
    let mut i = first + 1;
    while i < stop {
        let line = lines[i];
        if line.is_blank(text) {
            i += 1;
            continue;
        }
        let content = line.content(text);
        let (block, next) = if line.fence == Fence::None
            && let Some((3, title)) = heading_of(content)
        {
            sections.push(Section {
                title: unescape(title.trim_end_matches('#').trim_end()),
                heading: line.start..line.end,
                blocks: Vec::new(),
            });
            last_end = line.next;
            i += 1;
            continue;
        } else if let Fence::Opens(close) = line.fence {
            let close = close.min(stop - 1);
            (
                Block {
                    kind: BlockKind::Text,
                    span: line.start..lines[close].next,
                    commits: Vec::new(),
                },
                close + 1,
            )
        } else if let Some(column) = item_start(content) {
            entry(text, lines, i, stop, column)
        } else {
            let mut j = i + 1;
            while j < stop && !lines[j].is_blank(text) && !starts_block(lines[j], text) {
                j += 1;
            }
            (
                Block {
                    kind: BlockKind::Text,
                    span: line.start..lines[j - 1].next,
                    commits: Vec::new(),
                },
                j,
            )
        };
        last_end = block.span.end;
        match sections.last_mut() {
            Some(section) => section.blocks.push(block),
            None => blocks.push(block),
        }
        i = next;
    }
    let end = lines.get(stop).map_or(text.len(), |l| l.start);
    Release {
        version,
        date,
        line: first,
        heading: heading.clone(),
        span: heading.start..last_end,
        end,
        blocks,
        sections,
    }
}

/// The entry starting at line `first`, whose text starts at `column`, and the line after it.
fn entry(text: &str, lines: &[Line], first: usize, stop: usize, column: usize) -> (Block, usize) {
    let mut own =
        vec![&lines[first].content(text)[column.min(lines[first].end - lines[first].start)..]];
    let mut in_own_paragraph = true;
    let mut last = first;
    let mut j = first + 1;
    while j < stop {
        let line = lines[j];
        if line.is_blank(text) {
            // A blank line continues the item when an indented line follows it.
            let next = (j..stop).find(|&k| !lines[k].is_blank(text));
            match next {
                Some(k) if lines[k].indent(text) >= column => {
                    in_own_paragraph = false;
                    j = k;
                    continue;
                }
                _ => break,
            }
        }
        let content = line.content(text);
        let indented = line.indent(text) >= column;
        // A lazy continuation line: the paragraph goes on unindented.
        let lazy = !indented && j == last + 1 && in_own_paragraph && !starts_block(line, text);
        if !indented && !lazy {
            break;
        }
        if let Fence::Opens(close) = line.fence {
            in_own_paragraph = false;
            last = close.min(stop - 1);
            j = last + 1;
            continue;
        }
        if indented && item_start(content.trim_start()).is_some() {
            in_own_paragraph = false;
        }
        if in_own_paragraph {
            own.push(content.trim());
        }
        last = j;
        j += 1;
    }
    let block = Block {
        kind: BlockKind::Entry,
        span: lines[first].start..lines[last].next,
        commits: cited_commits(&own.join(" ")),
    };
    (block, last + 1)
}

/// The short commit ids an entry's text cites: a link's text (`[a1b2c3d](...)`) or the
/// comma-separated items of a trailing parenthesis (`(a1b2c3d, 9f8e7d6)`), lowercase, each once.
fn cited_commits(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let mut push = |candidate: &str| {
        let candidate = candidate.trim().trim_matches('`');
        if is_short_id(candidate) {
            let id = candidate.to_ascii_lowercase();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    };
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        if after[close + 1..].starts_with('(') {
            push(&after[..close]);
        }
        rest = &after[close..];
    }
    let trimmed = text.trim_end();
    if trimmed.ends_with(')') {
        let mut depth = 0usize;
        for (i, c) in trimmed.char_indices().rev() {
            match c {
                ')' => depth += 1,
                '(' => {
                    depth -= 1;
                    if depth == 0 {
                        trimmed[i + 1..trimmed.len() - 1]
                            .split(',')
                            .for_each(&mut push);
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    ids
}

/// 7 to 40 hex digits: a short or full commit id.
fn is_short_id(text: &str) -> bool {
    (7..=40).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The first `YYYY-MM-DD` date in a text.
fn date_in(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(9)).find_map(|i| {
        let window = bytes.get(i..i + 10)?;
        let shape = window.iter().enumerate().all(|(k, b)| {
            if k == 4 || k == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
        let bounded = i == 0 || !bytes[i - 1].is_ascii_digit();
        if !shape || !bounded || bytes.get(i + 10).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        NaiveDate::parse_from_str(std::str::from_utf8(window).ok()?, "%Y-%m-%d").ok()
    })
}

/// The release a level-2 heading's text names: its first word, out of its brackets or link.
fn release_of(heading: &str) -> Option<String> {
    let version = match heading.strip_prefix('[') {
        Some(rest) => &rest[..rest.find(']')?],
        None => heading.split_whitespace().next()?,
    };
    let version = version.trim();
    (!version.is_empty()).then(|| unescape(version))
}

/// Markdown's backslash escapes undone (`pkg\@1.2.0` is `pkg@1.2.0`), as the renderer writes
/// them.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&next) if c == '\\' && next.is_ascii_punctuation() => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// Whether two release names are the same release (`v1.2.0` and `1.2.0` are).
#[must_use]
pub fn same_release(a: &str, b: &str) -> bool {
    let bare = |v: &str| {
        v.strip_prefix(['v', 'V'])
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            .unwrap_or(v)
            .to_ascii_lowercase()
    };
    bare(a) == bare(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_heading_names_its_release() {
        let text = "# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2024-05-01\n### Added\n## [1.1.0](https://github.com/o/r/compare/v1.0.0...v1.1.0) (2024-04-01)\n## v1.0.0 (2024-03-01)\n   ## 0.9.0\n    ## not a heading (code)\n```md\n## 0.8.0 in a fence\n```\n~~~\n## 0.7.0 in a fence\n~~~\n## 0.1.0\n## pkg\\@1.0.0 (2024-01-01)\n";
        let found = release_headings(text);
        let versions: Vec<&str> = found.iter().map(|h| h.version.as_str()).collect();
        assert_eq!(
            versions,
            [
                "Unreleased",
                "1.2.0",
                "1.1.0",
                "v1.0.0",
                "0.9.0",
                "0.1.0",
                "pkg@1.0.0"
            ]
        );
        assert_eq!(found[1].line, 4);
    }

    #[test]
    fn a_leading_v_names_the_same_release() {
        assert!(same_release("v1.2.0", "1.2.0"));
        assert!(same_release("Unreleased", "unreleased"));
        assert!(!same_release("1.2.0", "1.2.1"));
        assert!(!same_release("very", "ery"));
    }

    /// Each release's version and date, each section's title, and each block as (kind,
    /// text, cited ids).
    type Shape<'t> = Vec<(
        String,
        Option<String>,
        Vec<(String, Vec<(BlockKind, &'t str, Vec<String>)>)>,
    )>;

    fn shape<'t>(doc: &Document<'t>) -> Shape<'t> {
        let blocks = |blocks: &[Block]| {
            blocks
                .iter()
                .map(|b| (b.kind, doc.slice(&b.span), b.commits.clone()))
                .collect::<Vec<_>>()
        };
        doc.releases
            .iter()
            .map(|r| {
                let mut sections = vec![(String::new(), blocks(&r.blocks))];
                sections.extend(
                    r.sections
                        .iter()
                        .map(|s| (s.title.clone(), blocks(&s.blocks))),
                );
                sections.retain(|(title, blocks)| !title.is_empty() || !blocks.is_empty());
                (r.version.clone(), r.date.map(|d| d.to_string()), sections)
            })
            .collect()
    }

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    use BlockKind::{Entry, Text};

    #[test]
    fn our_own_format_reads_back_with_the_commits_each_entry_cites() {
        let text = "# Changelog\n\n## v0.2.0 (2024-05-01)\n\n### \u{26a0} Breaking Changes\n\n- drop the v1 format (3f2a9c1)\n- **config:** new loader (77b0e42, 9abcdef)\n  - `include` paths are now relative\n\n### Features\n\n- **auth:** log in (#34) ([a1c9e07](https://github.com/o/r/commit/a1c9e07aaaa), [B2C3D4E5](https://github.com/o/r/commit/b2c3d4e5))\n\n## v0.1.0 (2024-04-01)\n\nNo notable changes.\n";
        let doc = Document::parse(text);
        assert_eq!(doc.slice(&doc.header), "# Changelog\n\n");
        assert_eq!(doc.line_ending, LineEnding::Lf);
        assert_eq!(
            shape(&doc),
            vec![
                (
                    "v0.2.0".to_owned(),
                    Some("2024-05-01".to_owned()),
                    vec![
                        (
                            "\u{26a0} Breaking Changes".to_owned(),
                            vec![
                                (Entry, "- drop the v1 format (3f2a9c1)\n", ids(&["3f2a9c1"])),
                                (
                                    Entry,
                                    "- **config:** new loader (77b0e42, 9abcdef)\n  - `include` paths are now relative\n",
                                    ids(&["77b0e42", "9abcdef"])
                                ),
                            ]
                        ),
                        (
                            "Features".to_owned(),
                            vec![(
                                Entry,
                                "- **auth:** log in (#34) ([a1c9e07](https://github.com/o/r/commit/a1c9e07aaaa), [B2C3D4E5](https://github.com/o/r/commit/b2c3d4e5))\n",
                                ids(&["a1c9e07", "b2c3d4e5"])
                            )]
                        ),
                    ]
                ),
                (
                    "v0.1.0".to_owned(),
                    Some("2024-04-01".to_owned()),
                    vec![(String::new(), vec![(Text, "No notable changes.\n", vec![])])]
                ),
            ]
        );
        let first = &doc.releases[0];
        assert_eq!(doc.slice(&first.heading), "## v0.2.0 (2024-05-01)");
        // The blank line before the next release is not part of the release.
        assert!(doc.slice(&first.span).ends_with("b2c3d4e5))\n"));
        assert_eq!(first.end, doc.releases[1].span.start);
        assert_eq!(doc.releases[1].span.end, text.len());
        assert!(doc.footer.is_empty());
    }

    #[test]
    fn keep_a_changelog_with_its_link_definitions() {
        let text = "# Changelog\nAll notable changes to this project will be documented in this file.\n\n## [Unreleased]\n\n## [1.1.0] - 2019-02-15\n### Added\n- Danish translation.\n- A long entry that wraps\nonto a second line.\n\n### Fixed\n- Typo in the README.\n\n[unreleased]: https://github.com/o/r/compare/v1.1.0...HEAD\n[1.1.0]: https://github.com/o/r/compare/v1.0.0...v1.1.0\n";
        let doc = Document::parse(text);
        assert_eq!(
            shape(&doc),
            vec![
                ("Unreleased".to_owned(), None, vec![]),
                (
                    "1.1.0".to_owned(),
                    Some("2019-02-15".to_owned()),
                    vec![
                        (
                            "Added".to_owned(),
                            vec![
                                (Entry, "- Danish translation.\n", vec![]),
                                (
                                    Entry,
                                    "- A long entry that wraps\nonto a second line.\n",
                                    vec![]
                                ),
                            ]
                        ),
                        (
                            "Fixed".to_owned(),
                            vec![(Entry, "- Typo in the README.\n", vec![])]
                        ),
                    ]
                ),
            ]
        );
        assert_eq!(
            doc.slice(&doc.footer),
            "[unreleased]: https://github.com/o/r/compare/v1.1.0...HEAD\n[1.1.0]: https://github.com/o/r/compare/v1.0.0...v1.1.0\n"
        );
        assert_eq!(doc.releases[1].end, doc.footer.start);
        assert!(doc.slice(&doc.releases[1].span).ends_with("README.\n"));
    }

    #[test]
    fn conventional_changelog_headings_of_every_level_and_star_items() {
        let text = "# Changelog\n\n# [1.2.0](https://github.com/o/r/compare/v1.1.1...v1.2.0) (2024-05-01)\n\n\n### Features\n\n* **api:** paging ([#12](https://github.com/o/r/issues/12)) ([a1b2c3d](https://github.com/o/r/commit/a1b2c3d4e5f6)), closes [#11](https://github.com/o/r/issues/11)\n\n### [1.1.1](https://github.com/o/r/compare/v1.1.0...v1.1.1) (2024-04-02)\n\n### Bug Fixes\n\n* crash on start ([0f1e2d3](https://github.com/o/r/commit/0f1e2d3c))\n";
        let doc = Document::parse(text);
        assert_eq!(
            shape(&doc),
            vec![
                (
                    "1.2.0".to_owned(),
                    Some("2024-05-01".to_owned()),
                    vec![(
                        "Features".to_owned(),
                        vec![(
                            Entry,
                            "* **api:** paging ([#12](https://github.com/o/r/issues/12)) ([a1b2c3d](https://github.com/o/r/commit/a1b2c3d4e5f6)), closes [#11](https://github.com/o/r/issues/11)\n",
                            ids(&["a1b2c3d"])
                        )]
                    )]
                ),
                (
                    "1.1.1".to_owned(),
                    Some("2024-04-02".to_owned()),
                    vec![(
                        "Bug Fixes".to_owned(),
                        vec![(
                            Entry,
                            "* crash on start ([0f1e2d3](https://github.com/o/r/commit/0f1e2d3c))\n",
                            ids(&["0f1e2d3"])
                        )]
                    )]
                ),
            ]
        );
    }

    #[test]
    fn git_cliff_default_and_its_templates_with_ids() {
        let text = "# Changelog\n\nAll notable changes to this project will be documented in this file.\n\n## [unreleased]\n\n### \u{1f680} Features\n\n- *(cli)* Add a flag\n- [**breaking**] Drop the old API\n\n## [0.1.0] - 2024-01-02\n\n### \u{1f41b} Bug Fixes\n\n- Fix the parser - ([`9f8e7d6`](https://github.com/o/r/commit/9f8e7d6c5b4a))\n- Handle deadbeef values in input\n";
        let doc = Document::parse(text);
        assert_eq!(
            shape(&doc),
            vec![
                (
                    "unreleased".to_owned(),
                    None,
                    vec![(
                        "\u{1f680} Features".to_owned(),
                        vec![
                            (Entry, "- *(cli)* Add a flag\n", vec![]),
                            (Entry, "- [**breaking**] Drop the old API\n", vec![]),
                        ]
                    )]
                ),
                (
                    "0.1.0".to_owned(),
                    Some("2024-01-02".to_owned()),
                    vec![(
                        "\u{1f41b} Bug Fixes".to_owned(),
                        vec![
                            (
                                Entry,
                                "- Fix the parser - ([`9f8e7d6`](https://github.com/o/r/commit/9f8e7d6c5b4a))\n",
                                ids(&["9f8e7d6"])
                            ),
                            // Hex in the text is not a citation.
                            (Entry, "- Handle deadbeef values in input\n", vec![]),
                        ]
                    )]
                ),
            ]
        );
    }

    #[test]
    fn crlf_lines_keep_their_endings_in_spans() {
        let text = "# Changelog\r\n\r\n## 1.0.0 (2024-01-01)\r\n\r\n### Features\r\n\r\n- one (a1b2c3d)\r\n  - a note\r\n- two (b2c3d4e)\r\n";
        let doc = Document::parse(text);
        assert_eq!(doc.line_ending, LineEnding::CrLf);
        let release = &doc.releases[0];
        assert_eq!(doc.slice(&release.heading), "## 1.0.0 (2024-01-01)");
        let blocks = &release.sections[0].blocks;
        assert_eq!(
            doc.slice(&blocks[0].span),
            "- one (a1b2c3d)\r\n  - a note\r\n"
        );
        assert_eq!(blocks[0].commits, ids(&["a1b2c3d"]));
        assert_eq!(blocks[1].commits, ids(&["b2c3d4e"]));
        assert_eq!(release.span.end, text.len());
        assert_eq!(LineEnding::CrLf.apply("a\nb\n"), "a\r\nb\r\n");
    }

    #[test]
    fn fenced_code_is_text_wherever_it_stands() {
        let text = "## 1.0.0\n\n### Notes\n\n```md\n## 0.9.0\n\n- not an entry (a1b2c3d)\n```\n\n- an entry (b2c3d4e)\n\n  ```sh\n  cargo run\n\n  ```\n- next (c3d4e5f)\nlazy line\n\n  still the next entry\n\nA paragraph.\n";
        let doc = Document::parse(text);
        assert_eq!(
            shape(&doc),
            vec![(
                "1.0.0".to_owned(),
                None,
                vec![(
                    "Notes".to_owned(),
                    vec![
                        (
                            Text,
                            "```md\n## 0.9.0\n\n- not an entry (a1b2c3d)\n```\n",
                            vec![]
                        ),
                        (
                            Entry,
                            "- an entry (b2c3d4e)\n\n  ```sh\n  cargo run\n\n  ```\n",
                            ids(&["b2c3d4e"])
                        ),
                        (
                            Entry,
                            "- next (c3d4e5f)\nlazy line\n\n  still the next entry\n",
                            vec![]
                        ),
                        (Text, "A paragraph.\n", vec![]),
                    ]
                )]
            )]
        );
    }

    #[test]
    fn citations_are_link_texts_and_a_trailing_parenthesis() {
        assert_eq!(
            cited_commits("text (a1b2c3d, 0123456789abcdef)"),
            ids(&["a1b2c3d", "0123456789abcdef"])
        );
        assert_eq!(cited_commits("text (#12) (a1b2c3d)"), ids(&["a1b2c3d"]));
        assert_eq!(
            cited_commits("cafebabe in the middle (see docs)"),
            Vec::<String>::new()
        );
        assert_eq!(cited_commits("too short (abc123)"), Vec::<String>::new());
        assert_eq!(
            cited_commits("[a1b2c3d](u) and [a1b2c3d](u)"),
            ids(&["a1b2c3d"])
        );
    }

    #[test]
    fn a_text_without_releases_is_all_header() {
        let text = "# Changelog\n\nNothing yet.\n";
        let doc = Document::parse(text);
        assert!(doc.releases.is_empty());
        assert_eq!(doc.header, 0..text.len());
        assert!(doc.footer.is_empty());
    }
}
