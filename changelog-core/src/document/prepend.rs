//! Writing releases into an existing changelog: a new release goes under the file's header,
//! above the newest release; a release the file already has is replaced where it stands, and
//! what a person wrote into it survives.
//!
//! Replacing a release merges its entries with the new ones by the commits they cite:
//!
//! - a new entry whose commits an old entry cites takes the old entry's text, byte for byte
//!   (an entry edited by hand keeps its edit; an unedited one is the same text anyway);
//! - a new entry that no old entry matches is added;
//! - an old entry whose commits are all gone from the range is dropped;
//! - an entry or paragraph that cites no commit (written by hand) stays after the entry it
//!   followed, in its section; a section of such text alone stays too.
//!
//! A release of the file none of whose entries cites a commit (written by hand, or by a tool
//! that shows no ids) is left as it is ([`Action::Kept`]), except an `Unreleased` section.
//!
//! Every other byte of the file is kept, and new text is written with the file's line endings:
//! regenerating a release that nobody edited gives the file back unchanged.

use std::collections::HashMap;
use std::fmt;

use super::{Block, BlockKind, Document, Release, same_release};
use crate::changelog::Changelog;
use crate::render;

/// The header of a new changelog file, after its title.
const INTRODUCTION: &str = "All notable changes to this project are documented in this file.\n";

/// What [`prepend_file`] did to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrependedFile {
    /// What happened to each release written, in the order given.
    pub releases: Vec<Outcome>,
    /// How the file was written; `None` when it came out the same and was left alone.
    pub written: Option<crate::file::Written>,
}

/// Writes releases into the changelog file at `path` as [`prepend`] does, creating it when
/// missing; the file is replaced atomically (see [`crate::file::write_atomically`]; a read-only
/// one only when `force`), and not written at all when it comes out the same.
///
/// # Errors
///
/// [`crate::Error::File`] naming the file when it cannot be read (or is not UTF-8 text) or
/// written.
pub fn prepend_file(
    path: &std::path::Path,
    changelogs: &[Changelog],
    force: bool,
) -> crate::Result<PrependedFile> {
    let failed = |source: std::io::Error| crate::Error::File {
        path: path.to_owned(),
        source,
    };
    let existing = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            failed(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "it is not UTF-8 text, so not a Markdown changelog",
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        // A directory, say: the writer names the problem.
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => String::new(),
        Err(e) => return Err(failed(e)),
    };
    if changelogs.is_empty() {
        return Ok(PrependedFile {
            releases: Vec::new(),
            written: None,
        });
    }
    let prepended = prepend(&existing, changelogs);
    let written = if prepended.text != existing || existing.is_empty() {
        Some(
            crate::file::write_atomically(path, force, |file| {
                std::io::Write::write_all(file, prepended.text.as_bytes())?;
                std::io::Write::flush(file)
            })
            .map_err(failed)?,
        )
    } else {
        None
    };
    Ok(PrependedFile {
        releases: prepended.releases,
        written,
    })
}

/// What [`prepend`] made of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepended {
    /// The whole new text of the file.
    pub text: String,
    /// What happened to each release written, in the order given.
    pub releases: Vec<Outcome>,
}

/// What happened to one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The release written (`1.3.0`, `Unreleased`).
    pub version: String,
    /// Added or replaced.
    pub action: Action,
}

/// How a release went into the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A new section, above the newest release (or where its neighbours put it).
    Added,
    /// A section of the file was replaced.
    Replaced {
        /// The release the replaced section named: the same release, or `Unreleased` when
        /// its commits have just been released.
        previous: String,
        /// Entries whose text, edited by hand, was kept instead of the new text.
        kept_edited: usize,
        /// Entries and paragraphs citing no commit that were kept.
        kept_added: usize,
        /// Whether the section came out exactly as it was.
        unchanged: bool,
    },
    /// The file's section for this release was left as it is: its entries cite no commit
    /// (written by hand, or by a tool that shows no ids), so none could be matched and
    /// replacing it would write every change twice.
    Kept,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match &self.action {
            Action::Added => write!(f, "added {}", self.version),
            Action::Kept => write!(
                f,
                "kept {} as it is (no entry of it cites a commit)",
                self.version
            ),
            Action::Replaced {
                unchanged: true, ..
            } => write!(f, "{} unchanged", self.version),
            Action::Replaced {
                previous,
                kept_edited,
                kept_added,
                unchanged: false,
            } => {
                write!(f, "replaced {previous}")?;
                if previous != &self.version {
                    write!(f, " with {}", self.version)?;
                }
                if *kept_edited > 0 {
                    write!(
                        f,
                        ", kept {kept_edited} edited entr{}",
                        if *kept_edited == 1 { "y" } else { "ies" }
                    )?;
                }
                if *kept_added > 0 {
                    write!(
                        f,
                        ", kept {kept_added} hand-written block{}",
                        plural(*kept_added)
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Writes releases (newest first, as [`render::markdown_releases`] takes them) into the text
/// of an existing changelog file, empty when there is none (a new file gets a title, the
/// first changelog's, and an introduction).
///
/// A release the file has (by [`same_release`]: `v1.2.0` is `1.2.0`) is replaced in place,
/// with the hand edits described in the [module docs](self) carried over. When the file has an
/// `Unreleased` section and the releases written have none, that section is the one the
/// newest version replaces: its commits have just been released. Other releases are added
/// above the next older release of the list that the file has, or above the newest release of
/// the file, under its title and introduction.
#[must_use]
pub fn prepend(existing: &str, changelogs: &[Changelog]) -> Prepended {
    if existing.trim().is_empty() {
        return new_file(changelogs);
    }
    let doc = Document::parse(existing);
    let ending = doc.line_ending;
    let targets = targets(&doc, changelogs);

    // Edits of `existing`: (position, replaced length, text), applied in position order;
    // insertions before replacements at the same position.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut outcomes = Vec::with_capacity(changelogs.len());
    let mut inserts: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, changelog) in changelogs.iter().enumerate() {
        let version = changelog
            .version
            .as_deref()
            .unwrap_or("Unreleased")
            .to_owned();
        if let Some(r) = targets[i] {
            let release = &doc.releases[r];
            if cites_nothing(release) {
                outcomes.push(Outcome {
                    version,
                    action: Action::Kept,
                });
                continue;
            }
            let (text, action) = merge(&doc, release, changelog);
            edits.push((release.span.start, release.span.len(), text));
            outcomes.push(Outcome { version, action });
            continue;
        }
        let section = ending
            .apply(&render::markdown_section(changelog))
            .into_owned();
        // Above the next older release of the list the file has; else below the newest one
        // of the list it has; else above the file's newest release.
        let at = targets[i + 1..]
            .iter()
            .flatten()
            .next()
            .map(|&r| doc.releases[r].span.start)
            .or_else(|| {
                targets[..i]
                    .iter()
                    .flatten()
                    .last()
                    .map(|&r| doc.releases[r].end)
            })
            .or_else(|| doc.releases.first().map(|r| r.span.start))
            .unwrap_or(doc.header.end);
        match inserts.iter_mut().find(|(p, _)| *p == at) {
            Some((_, sections)) => sections.push(section),
            None => inserts.push((at, vec![section])),
        }
        outcomes.push(Outcome {
            version,
            action: Action::Added,
        });
    }
    for (at, sections) in inserts {
        let before = &existing[..at];
        let mut text = String::new();
        if !before.is_empty() {
            if !before.ends_with('\n') {
                text.push_str(ending.as_str());
            }
            if !ends_with_blank_line(&format!("{before}{text}")) {
                text.push_str(ending.as_str());
            }
        }
        text.push_str(&sections.join(ending.as_str()));
        if at < existing.len() {
            text.push_str(ending.as_str());
        }
        edits.push((at, 0, text));
    }
    edits.sort_by_key(|&(at, length, _)| (at, length > 0));
    let mut text =
        String::with_capacity(existing.len() + edits.iter().map(|e| e.2.len()).sum::<usize>());
    let mut copied = 0;
    for (at, length, replacement) in edits {
        text.push_str(&existing[copied..at]);
        text.push_str(&replacement);
        copied = at + length;
    }
    text.push_str(&existing[copied..]);
    Prepended {
        text,
        releases: outcomes,
    }
}

/// A new file: the title, the introduction, then the releases.
fn new_file(changelogs: &[Changelog]) -> Prepended {
    let title = changelogs
        .first()
        .map(|c| c.title.as_str())
        .filter(|t| !t.trim().is_empty())
        .unwrap_or("Changelog");
    let mut text = render::markdown_title(title);
    text.push('\n');
    text.push_str(INTRODUCTION);
    let mut outcomes = Vec::new();
    for changelog in changelogs {
        text.push('\n');
        text.push_str(&render::markdown_section(changelog));
        outcomes.push(Outcome {
            version: changelog
                .version
                .as_deref()
                .unwrap_or("Unreleased")
                .to_owned(),
            action: Action::Added,
        });
    }
    Prepended {
        text,
        releases: outcomes,
    }
}

fn ends_with_blank_line(text: &str) -> bool {
    let trimmed = text.trim_end_matches([' ', '\t', '\r', '\n']);
    trimmed.is_empty() || text[trimmed.len()..].matches('\n').count() >= 2
}

/// The release of the file each changelog replaces, if any.
///
/// The file's `Unreleased` section goes to the newest version written when that version is
/// newer than every release of the file and no unreleased commits are written with it (an
/// empty `Unreleased`, as right after tagging, is written above it instead): the commits it
/// listed have just been released, and what was edited there is carried into the release.
fn targets(doc: &Document<'_>, changelogs: &[Changelog]) -> Vec<Option<usize>> {
    let empty_unreleased =
        |c: &Changelog| is_unreleased(c.version.as_deref()) && c.entries().next().is_none();
    let mut claimed = vec![false; doc.releases.len()];
    let mut targets: Vec<Option<usize>> = changelogs
        .iter()
        .map(|changelog| {
            let version = changelog.version.as_deref().unwrap_or("Unreleased");
            let found = (0..doc.releases.len()).find(|&r| {
                !claimed[r]
                    && same_release(&doc.releases[r].version, version)
                    && !(empty_unreleased(changelog)
                        && changelogs
                            .iter()
                            .any(|c| !is_unreleased(c.version.as_deref())))
            })?;
            claimed[found] = true;
            Some(found)
        })
        .collect();
    let writes_unreleased = changelogs
        .iter()
        .any(|c| is_unreleased(c.version.as_deref()) && !empty_unreleased(c));
    let newer_than_the_file = |version: Option<&str>| {
        let Some(new) = version.and_then(crate::version::Version::parse) else {
            return true; // not a version: nothing to compare with
        };
        doc.releases
            .iter()
            .filter_map(|r| crate::version::Version::parse(&r.version))
            .all(|old| old < new)
    };
    if !writes_unreleased
        && let Some(newest) = changelogs
            .iter()
            .position(|c| !is_unreleased(c.version.as_deref()))
        && targets[newest].is_none()
        && newer_than_the_file(changelogs[newest].version.as_deref())
        && let Some(r) = (0..doc.releases.len())
            .find(|&r| !claimed[r] && is_unreleased(Some(&doc.releases[r].version)))
    {
        targets[newest] = Some(r);
    }
    targets
}

/// Whether a release of the file has entries and none cites a commit (an `Unreleased`
/// section excepted: its notes are carried into the release).
fn cites_nothing(release: &Release) -> bool {
    let mut entries = release
        .blocks
        .iter()
        .chain(release.sections.iter().flat_map(|s| &s.blocks))
        .filter(|b| b.kind == BlockKind::Entry)
        .peekable();
    !is_unreleased(Some(&release.version))
        && entries.peek().is_some()
        && entries.all(|b| b.commits.is_empty())
}

fn is_unreleased(version: Option<&str>) -> bool {
    version.is_none_or(|v| same_release(v, "Unreleased"))
}

/// Where an old block goes in the merged release.
#[derive(Debug, Clone, Copy)]
enum Piece {
    /// A new entry, by its index among the new release's entries.
    New(usize),
    /// An old block, by its index among the old release's blocks.
    Old(usize),
}

/// One block of the old release with the section it was in (`None`: before any section).
struct OldBlock<'b> {
    section: Option<usize>,
    block: &'b Block,
}

/// A section of the merged release.
struct Merged {
    heading: String,
    pieces: Vec<Piece>,
}

/// The release `old` of `doc`, replaced by `changelog` with its hand edits carried over, in the
/// file's line endings; and what was kept.
fn merge(doc: &Document<'_>, old: &Release, changelog: &Changelog) -> (String, Action) {
    let ending = doc.line_ending;
    let rendered = render::markdown_section(changelog);
    let new_doc = Document::parse(&rendered);
    let Some(new) = new_doc.releases.first() else {
        // A heading the parser does not read back (never the renderer's): write it as it is.
        let text = ending.apply(&rendered).into_owned();
        return (text, replaced(old, 0, 0, false));
    };

    // The new entries, each with the full ids of the commits it cites: the renderer writes one
    // list item per entry, in order.
    let new_entries: Vec<(usize, &Block)> = new
        .sections
        .iter()
        .enumerate()
        .flat_map(|(s, section)| section.blocks.iter().map(move |b| (s, b)))
        .filter(|(_, b)| b.kind == BlockKind::Entry)
        .collect();
    let entries: Vec<_> = changelog.entries().collect();
    let full_ids: Vec<Vec<String>> = if entries.len() == new_entries.len() {
        entries
            .iter()
            .map(|e| e.commits.iter().map(|c| c.to_ascii_lowercase()).collect())
            .collect()
    } else {
        new_entries.iter().map(|(_, b)| b.commits.clone()).collect()
    };

    let old_blocks: Vec<OldBlock<'_>> = old
        .blocks
        .iter()
        .map(|block| OldBlock {
            section: None,
            block,
        })
        .chain(old.sections.iter().enumerate().flat_map(|(s, section)| {
            section.blocks.iter().map(move |block| OldBlock {
                section: Some(s),
                block,
            })
        }))
        .collect();

    // Each new entry's place: the old entries citing its commits, or itself.
    let mut used = vec![false; old_blocks.len()];
    let mut places: Vec<Vec<Piece>> = Vec::with_capacity(new_entries.len());
    let mut kept_edited = 0;
    for (n, ids) in full_ids.iter().enumerate() {
        let matches: Vec<usize> = (0..old_blocks.len())
            .filter(|&o| {
                let cited = &old_blocks[o].block.commits;
                old_blocks[o].block.kind == BlockKind::Entry
                    && cited.iter().any(|short| {
                        ids.iter().any(|id| {
                            id.starts_with(short.as_str()) || short.starts_with(id.as_str())
                        })
                    })
            })
            .collect();
        if matches.is_empty() {
            places.push(vec![Piece::New(n)]);
            continue;
        }
        let mut place = Vec::new();
        for o in matches {
            if used[o] {
                continue;
            }
            used[o] = true;
            let old_text = doc.slice(&old_blocks[o].block.span).replace("\r\n", "\n");
            let new_text = new_doc.slice(&new_entries[n].1.span);
            if old_text.trim_end() != new_text.trim_end() {
                kept_edited += 1;
            }
            place.push(Piece::Old(o));
        }
        // An entry whose old entries an earlier entry took (two entries merged by hand) is
        // covered by them.
        places.push(place);
    }

    // Blocks citing no commit: after the old entry they followed, or at the top of their
    // section.
    let mut after: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut section_top: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    let mut anchor: Option<usize> = None;
    let mut kept_added = 0;
    for (o, old_block) in old_blocks.iter().enumerate() {
        if o == 0 || old_blocks[o - 1].section != old_block.section {
            anchor = None;
        }
        let block = old_block.block;
        if !block.commits.is_empty() {
            if used[o] {
                anchor = Some(o);
            }
            continue;
        }
        if block.kind == BlockKind::Text && doc.slice(&block.span).trim() == render::NO_CHANGES {
            continue;
        }
        kept_added += 1;
        match anchor {
            Some(a) => after.entry(a).or_default().push(o),
            None => section_top.entry(old_block.section).or_default().push(o),
        }
    }

    // The sections: the new ones in the renderer's order, each under the old heading of the
    // same title when there is one, and the old ones of hand-written text alone after the
    // section they followed.
    let key = |title: &str| {
        title
            .trim_start_matches(|c: char| !c.is_alphanumeric())
            .trim()
            .to_lowercase()
    };
    let mut sections: Vec<Merged> = Vec::new();
    let mut old_placed = vec![false; old.sections.len()];
    let mut by_new_section: Vec<Vec<Piece>> = vec![Vec::new(); new.sections.len()];
    for ((s, _), place) in new_entries.iter().zip(&places) {
        by_new_section[*s].extend_from_slice(place);
    }
    for (s, section) in new.sections.iter().enumerate() {
        let old_section = old
            .sections
            .iter()
            .position(|o| key(&o.title) == key(&section.title));
        let mut pieces = Vec::new();
        let heading = match old_section {
            Some(o) => {
                old_placed[o] = true;
                pieces.extend(
                    section_top
                        .get(&Some(o))
                        .into_iter()
                        .flatten()
                        .map(|&b| Piece::Old(b)),
                );
                doc.slice(&old.sections[o].heading).to_owned()
            }
            None => ending.apply(new_doc.slice(&section.heading)).into_owned(),
        };
        pieces.extend(by_new_section[s].iter().copied());
        sections.push(Merged { heading, pieces });
    }
    // Old sections that are hand-written text alone, after the section they followed.
    for (o, section) in old.sections.iter().enumerate() {
        if old_placed[o] {
            continue;
        }
        let Some(top) = section_top.get(&Some(o)) else {
            continue;
        };
        let follows = old.sections[..o].iter().rev().find_map(|p| {
            sections
                .iter()
                .position(|m| m.heading == doc.slice(&p.heading))
        });
        let merged = Merged {
            heading: doc.slice(&section.heading).to_owned(),
            pieces: top.iter().map(|&b| Piece::Old(b)).collect(),
        };
        match follows {
            Some(at) => sections.insert(at + 1, merged),
            None => sections.insert(0, merged),
        }
    }

    // Written out as the renderer writes a release: the heading, a blank line, then sections
    // separated by blank lines, entries one after another.
    let nl = ending.as_str();
    let mut out = String::with_capacity(old.span.len() + rendered.len());
    out.push_str(&ending.apply(new_doc.slice(&new.heading)));
    out.push_str(nl);
    let write_pieces = |out: &mut String, pieces: &[Piece]| {
        let mut previous_entry: Option<bool> = None;
        let mut write_block = |out: &mut String, text: &str, is_entry: bool| {
            if let Some(was_entry) = previous_entry
                && !(was_entry && is_entry)
            {
                out.push_str(nl);
            }
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push_str(nl);
            }
            previous_entry = Some(is_entry);
        };
        for piece in pieces {
            match *piece {
                Piece::New(n) => {
                    write_block(
                        out,
                        &ending.apply(new_doc.slice(&new_entries[n].1.span)),
                        true,
                    );
                }
                Piece::Old(o) => {
                    let block = old_blocks[o].block;
                    write_block(out, doc.slice(&block.span), block.kind == BlockKind::Entry);
                    for &b in after.get(&o).into_iter().flatten() {
                        let block = old_blocks[b].block;
                        write_block(out, doc.slice(&block.span), block.kind == BlockKind::Entry);
                    }
                }
            }
        }
    };
    let preamble: Vec<Piece> = section_top
        .get(&None)
        .into_iter()
        .flatten()
        .map(|&b| Piece::Old(b))
        .collect();
    let mut wrote_any = false;
    if !preamble.is_empty() {
        out.push_str(nl);
        write_pieces(&mut out, &preamble);
        wrote_any = true;
    }
    for section in sections.iter().filter(|s| !s.pieces.is_empty()) {
        out.push_str(nl);
        out.push_str(&section.heading);
        out.push_str(nl);
        out.push_str(nl);
        write_pieces(&mut out, &section.pieces);
        wrote_any = true;
    }
    if !wrote_any {
        out.push_str(nl);
        out.push_str(render::NO_CHANGES);
        out.push_str(nl);
    }
    // A release that ended the file without a line ending still does.
    if !doc.slice(&old.span).ends_with('\n') {
        out.truncate(out.trim_end_matches(['\r', '\n']).len());
    }
    let unchanged = out == doc.slice(&old.span);
    (out, replaced(old, kept_edited, kept_added, unchanged))
}

fn replaced(old: &Release, kept_edited: usize, kept_added: usize, unchanged: bool) -> Action {
    Action::Replaced {
        previous: old.version.clone(),
        kept_edited,
        kept_added,
        unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changelog::{Entry, Section, Stats, Style};
    use crate::parse::Kind;

    /// A release `version` with sections of (text, the letter its one commit's id repeats).
    fn release(version: &str, sections: &[(&str, &[(&str, char)])]) -> Changelog {
        Changelog {
            title: "Changelog".to_owned(),
            version: Some(version.to_owned()),
            date: None,
            range: None,
            repository: None,
            links: None,
            style: Style::Conventional,
            sections: sections
                .iter()
                .map(|(title, entries)| Section {
                    title: (*title).to_owned(),
                    entries: entries
                        .iter()
                        .map(|(text, id)| Entry {
                            text: (*text).to_owned(),
                            commits: vec![id.to_string().repeat(40)],
                            breaking: false,
                            scope: None,
                            refs: Vec::new(),
                            pull_requests: Vec::new(),
                            authors: Vec::new(),
                            kind: Kind::Feature,
                            breaking_notes: Vec::new(),
                        })
                        .collect(),
                })
                .collect(),
            hidden: Vec::new(),
            stats: Stats::default(),
            model: None,
            usage: None,
            verification: None,
        }
    }

    #[test]
    fn a_release_written_after_tagging_carries_the_unreleased_edits() {
        // `--unreleased --latest` right after tagging 1.1.0: an empty Unreleased and 1.1.0,
        // whose commit the file's Unreleased lists, edited by hand.
        let old = "# Changelog\n\n## Unreleased\n\n### Features\n\n- a, reworded by hand (aaaaaaa)\n\n## 1.0.0\n\n- old (eeeeeee)\n";
        let unreleased = Changelog {
            version: None,
            ..release("x", &[])
        };
        let tagged = release("1.1.0", &[("Features", &[("a", 'a')])]);
        let result = prepend(old, &[unreleased, tagged]);
        assert_eq!(
            result.text,
            "# Changelog\n\n## Unreleased\n\nNo notable changes.\n\n## 1.1.0\n\n### Features\n\n- a, reworded by hand (aaaaaaa)\n\n## 1.0.0\n\n- old (eeeeeee)\n"
        );
        // An older release written into a file with newer ones leaves Unreleased alone.
        let old = "## Unreleased\n\n- b (bbbbbbb)\n\n## 1.2.0\n\n- c (ccccccc)\n";
        let older = release("1.1.0", &[("Features", &[("a", 'a')])]);
        let result = prepend(old, &[older]);
        assert!(
            result.text.contains("## Unreleased\n\n- b (bbbbbbb)"),
            "{}",
            result.text
        );
        assert!(result.text.contains("## 1.1.0"), "{}", result.text);
    }

    #[test]
    fn entries_merged_by_hand_stay_one() {
        let old = "## 1.0.0\n\n### Features\n\n- a and b, together (aaaaaaa, bbbbbbb)\n";
        let new = release("1.0.0", &[("Features", &[("a", 'a'), ("b", 'b')])]);
        let result = prepend(old, &[new]);
        assert_eq!(result.text, old);
        assert_eq!(result.releases[0].to_string(), "1.0.0 unchanged");
    }

    #[test]
    fn hand_written_sections_and_paragraphs_stay_in_place() {
        let old = "# Changelog\n\n## 1.0.0\n\nA release about speed.\n\n### Features\n\n- a (aaaaaaa)\n- thanks, Ada\n\n### Thanks\n\n- to everyone\n\n### Bug Fixes\n\n- gone (ccccccc)\n\n## 0.9.0\n\n- older (eeeeeee)\n";
        let new = release("1.0.0", &[("Features", &[("d", 'd'), ("a", 'a')])]);
        let result = prepend(old, &[new]);
        assert_eq!(
            result.text,
            "# Changelog\n\n## 1.0.0\n\nA release about speed.\n\n### Features\n\n- d (ddddddd)\n- a (aaaaaaa)\n- thanks, Ada\n\n### Thanks\n\n- to everyone\n\n## 0.9.0\n\n- older (eeeeeee)\n"
        );
        assert_eq!(
            result.releases[0].to_string(),
            "replaced 1.0.0, kept 3 hand-written blocks"
        );
    }

    #[test]
    fn a_file_without_a_final_line_ending_stays_so() {
        let old = "# Changelog\n\n## 1.0.0\n\n### Features\n\n- a (aaaaaaa)";
        let new = release("1.0.0", &[("Features", &[("a", 'a')])]);
        assert_eq!(prepend(old, std::slice::from_ref(&new)).text, old);
        let newer = release("1.1.0", &[("Features", &[("b", 'b')])]);
        assert_eq!(
            prepend(old, &[newer]).text,
            "# Changelog\n\n## 1.1.0\n\n### Features\n\n- b (bbbbbbb)\n\n## 1.0.0\n\n### Features\n\n- a (aaaaaaa)"
        );
    }

    #[test]
    fn an_empty_release_says_so_and_is_replaced_when_it_gets_entries() {
        let empty = release("1.0.0", &[]);
        let full = release("1.0.0", &[("Features", &[("a", 'a')])]);
        let old = "## 1.0.0\n\n### Features\n\n- a (aaaaaaa)\n";
        let emptied = prepend(old, std::slice::from_ref(&empty));
        assert_eq!(emptied.text, "## 1.0.0\n\nNo notable changes.\n");
        assert_eq!(prepend(&emptied.text, &[full]).text, old);
    }

    #[test]
    fn a_file_of_blank_lines_or_a_title_alone_gets_the_releases() {
        let new = release("1.0.0", &[("Features", &[("a", 'a')])]);
        let section = "## 1.0.0\n\n### Features\n\n- a (aaaaaaa)\n";
        assert_eq!(
            prepend("\n\n", std::slice::from_ref(&new)).text,
            format!("# Changelog\n\n{INTRODUCTION}\n{section}")
        );
        assert_eq!(
            prepend("# My project", std::slice::from_ref(&new)).text,
            format!("# My project\n\n{section}")
        );
    }
}
