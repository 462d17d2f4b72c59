//! Checking a model's answer against the range: only entries that cite real commits of the
//! range survive, and what the answer left out is reported.
//!
//! The answer is read as Markdown: headings open sections, bullets (and paragraphs) are
//! candidate entries, and bracketed lists of hexadecimal ids (`[abc1234]`,
//! `[abc1234, def5678]`, or a link `[abc1234](url)`) are citations, as are pull-request
//! references among them (`[#34]`, `[!12]`, `[#34, abc1234]`), which cite every commit of the
//! range that came through that pull request. An entry is kept when it cites at least one
//! commit and every id it cites names exactly one commit of the range (every reference, a pull
//! request of the range); an id that matches no commit is invented, and one that matches
//! several is ambiguous. Kept
//! entries are built from the cited commits (breaking flag, references, authors, kind), so
//! they are structured exactly as the deterministic path's.
//!
//! The model's headings are advice, not structure: a heading is kept when the style knows it
//! (case aside) and it agrees with the entry (only breaking entries under a breaking heading,
//! when the style has one); otherwise the entry goes where the engine puts its commits.
//! Whether an entry breaks compatibility is read from its commits alone, never from a heading
//! or a `**BREAKING:**` marker the model wrote.

use std::collections::{BTreeSet, HashSet};

use crate::changelog::{Author, Entry, Section, Style};
pub use crate::changelog::{DroppedEntry, Verification};
use crate::parse::{Kind, ParsedCommit};

/// Shortest id a citation may use.
const MIN_ID_LEN: usize = 4;

/// Resolves abbreviated ids against the commits of a range.
#[derive(Debug)]
pub struct CommitIndex<'a> {
    commits: &'a [ParsedCommit],
    /// (full id, position), sorted by id.
    sorted: Vec<(&'a str, usize)>,
}

/// What an abbreviated id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Exactly one commit (its position).
    Unique(usize),
    /// Several commits.
    Ambiguous,
    /// No commit of the range.
    Missing,
}

impl<'a> CommitIndex<'a> {
    /// An index over the range's commits.
    #[must_use]
    pub fn new(commits: &'a [ParsedCommit]) -> Self {
        let mut sorted: Vec<(&str, usize)> = commits
            .iter()
            .enumerate()
            .map(|(i, c)| (c.commit.id.as_str(), i))
            .collect();
        sorted.sort_unstable();
        Self { commits, sorted }
    }

    /// What an id (full or abbreviated, any case) names.
    #[must_use]
    pub fn resolve(&self, id: &str) -> Resolution {
        let id = id.to_ascii_lowercase();
        let start = self.sorted.partition_point(|(full, _)| *full < id.as_str());
        let mut matches = self.sorted[start..]
            .iter()
            .take_while(|(full, _)| full.starts_with(id.as_str()));
        match (matches.next(), matches.next()) {
            (None, _) => Resolution::Missing,
            (Some(&(_, position)), None) => Resolution::Unique(position),
            (Some(_), Some(_)) => Resolution::Ambiguous,
        }
    }

    /// Positions of the commits that came through a pull request (`#34`, `!12`), oldest first.
    #[must_use]
    pub fn pull_request(&self, reference: &str) -> Vec<usize> {
        self.commits
            .iter()
            .enumerate()
            .filter(|(_, c)| c.pull_requests.iter().any(|r| r == reference))
            .map(|(i, _)| i)
            .collect()
    }

    /// The commit at a position.
    #[must_use]
    pub fn commit(&self, position: usize) -> &'a ParsedCommit {
        &self.commits[position]
    }
}

/// A bullet or paragraph of an answer, before verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The section heading it is under (`None` before any heading).
    pub section: Option<String>,
    /// Its text without citations.
    pub text: String,
    /// The ids it cites, as written.
    pub citations: Vec<String>,
}

/// Reads an answer's sections, bullets and citations.
#[must_use]
pub fn candidates(answer: &str) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut section: Option<String> = None;
    // Whether the last candidate may take continuation lines.
    let mut open = false;
    for line in answer.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            open = false;
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("---") {
            open = false;
            continue;
        }
        if let Some(heading) = heading(trimmed) {
            section = Some(heading.to_owned());
            open = false;
            continue;
        }
        let indented = line.starts_with("  ") || line.starts_with('\t');
        if let Some(item) = bullet(trimmed) {
            out.push(Candidate {
                section: section.clone(),
                text: item.to_owned(),
                citations: Vec::new(),
            });
            open = true;
        } else if open && (indented || !out.is_empty()) {
            if let Some(last) = out.last_mut() {
                last.text.push(' ');
                last.text.push_str(trimmed);
            }
        } else {
            out.push(Candidate {
                section: section.clone(),
                text: trimmed.to_owned(),
                citations: Vec::new(),
            });
            open = true;
        }
    }
    for candidate in &mut out {
        let (text, citations) = split_citations(&candidate.text);
        candidate.text = text;
        candidate.citations = citations;
    }
    out
}

fn heading(line: &str) -> Option<&str> {
    let hashes = line.bytes().take_while(|b| *b == b'#').count();
    if hashes == 0 || hashes > 6 {
        return None;
    }
    let rest = &line[hashes..];
    rest.starts_with(' ')
        .then(|| rest.trim().trim_matches('#').trim())
}

fn bullet(line: &str) -> Option<&str> {
    for marker in ["- ", "* ", "+ ", "• "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return Some(rest.trim());
        }
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        let rest = &line[digits..];
        if let Some(item) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(item.trim());
        }
    }
    None
}

/// `#34` or `!12`: a pull or merge request reference.
fn is_pull_request(token: &str) -> bool {
    token
        .strip_prefix(['#', '!'])
        .is_some_and(|n| !n.is_empty() && n.len() <= 12 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes the citation groups from a text and returns them.
fn split_citations(text: &str) -> (String, Vec<String>) {
    let mut kept = String::with_capacity(text.len());
    let mut citations = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        let inner = &rest[open + 1..close];
        let ids: Vec<&str> = inner
            .split([',', ' ', ';'])
            .map(|s| s.trim().trim_matches('`'))
            .filter(|s| !s.is_empty())
            .collect();
        let is_citation = !ids.is_empty()
            && ids.iter().all(|id| {
                is_pull_request(id)
                    || (id.len() >= MIN_ID_LEN
                        && id.len() <= 64
                        && id.bytes().all(|b| b.is_ascii_hexdigit()))
            });
        if is_citation {
            kept.push_str(&rest[..open]);
            citations.extend(ids.iter().map(|id| id.to_ascii_lowercase()));
            let mut after = &rest[close + 1..];
            // A link: [abc1234](https://...).
            if after.starts_with('(')
                && let Some(end) = after.find(')')
            {
                after = &after[end + 1..];
            }
            rest = after;
        } else {
            kept.push_str(&rest[..=close]);
            rest = &rest[close + 1..];
        }
    }
    kept.push_str(rest);
    // Wrappers the citations leave empty: `()`, ``` `` ```, `(``)`.
    let kept = kept.replace("``", "").replace("()", "");
    let text = kept
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" .", ".")
        .replace(" ,", ",")
        .trim_end_matches([',', ';', ':', '-', '–', ' '])
        .to_owned();
    (text, citations)
}

/// Keeps the candidates that cite only commits of the range; builds their entries and puts
/// them in the style's sections (see the [module](self)).
#[must_use]
pub fn verify(answer: &str, index: &CommitIndex<'_>, style: Style) -> (Vec<Section>, Verification) {
    let mut sections: Vec<Section> = Vec::new();
    let mut verification = Verification::default();
    for candidate in candidates(answer) {
        match check(&candidate, index) {
            Ok(positions) => {
                let entry = entry_for(&candidate, &positions, index);
                let commits: Vec<&ParsedCommit> =
                    positions.iter().map(|&p| index.commit(p)).collect();
                let title = section_for(candidate.section.as_deref(), &entry, &commits, style);
                match sections.iter_mut().find(|s| s.title == title) {
                    Some(section) => section.entries.push(entry),
                    None => sections.push(Section {
                        title,
                        entries: vec![entry],
                    }),
                }
            }
            Err(reason) => {
                verification.dropped_entries += 1;
                verification.dropped.push(DroppedEntry {
                    text: candidate.text,
                    reason,
                });
            }
        }
    }
    (sections, verification)
}

fn check(candidate: &Candidate, index: &CommitIndex<'_>) -> Result<Vec<usize>, String> {
    if candidate.citations.is_empty() {
        return Err("cites no commit".to_owned());
    }
    let mut positions = Vec::new();
    // A number that is no pull request of the range may be an issue the text links to
    // (`closes [#12](...)`): it cites nothing, and the entry stands on its other citations.
    let mut unknown = None;
    for id in &candidate.citations {
        if is_pull_request(id) {
            let merged = index.pull_request(id);
            if merged.is_empty() {
                unknown.get_or_insert(id);
                continue;
            }
            for position in merged {
                if !positions.contains(&position) {
                    positions.push(position);
                }
            }
            continue;
        }
        match index.resolve(id) {
            Resolution::Unique(position) => {
                if !positions.contains(&position) {
                    positions.push(position);
                }
            }
            Resolution::Ambiguous => return Err(format!("`{id}` names several commits")),
            Resolution::Missing => return Err(format!("`{id}` is not a commit of the range")),
        }
    }
    match unknown {
        Some(id) if positions.is_empty() => {
            Err(format!("`{id}` is not a pull request of the range"))
        }
        _ => Ok(positions),
    }
}

fn entry_for(candidate: &Candidate, positions: &[usize], index: &CommitIndex<'_>) -> Entry {
    let mut text = candidate.text.as_str();
    // The model's marker is dropped; whether the change breaks is the commits' to say.
    for marker in ["**BREAKING:**", "**BREAKING**", "BREAKING:"] {
        if let Some(rest) = text.strip_prefix(marker) {
            text = rest.trim_start();
        }
    }
    let mut scope = None;
    if let Some(rest) = text.strip_prefix("**")
        && let Some((name, after)) = rest.split_once(":**")
        && !name.is_empty()
        && !name.contains(' ')
    {
        scope = Some(name.to_owned());
        text = after.trim_start();
    }
    let commits: Vec<&ParsedCommit> = positions.iter().map(|&p| index.commit(p)).collect();
    let mut refs: Vec<String> = Vec::new();
    let mut pull_requests: Vec<String> = Vec::new();
    let mut authors: Vec<Author> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for c in &commits {
        for r in &c.refs {
            if !refs.contains(r) {
                refs.push(r.clone());
            }
        }
        for r in &c.pull_requests {
            if !pull_requests.contains(r) {
                pull_requests.push(r.clone());
            }
        }
        for a in &c.authors {
            if !authors.iter().any(|b| b.email == a.email) {
                authors.push(a.clone());
            }
        }
        for n in &c.breaking_notes {
            if !notes.contains(n) {
                notes.push(n.clone());
            }
        }
    }
    // The renderer adds the references; the model's own copies would repeat them.
    let mut text = text.to_owned();
    for r in refs.iter().chain(&pull_requests) {
        for kept in [format!("({r})"), format!("[{r}]")] {
            if text.contains(&kept) {
                text = text.replace(&kept, "");
            }
        }
    }
    let text = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" .", ".")
        .replace(" ,", ",");
    Entry {
        text,
        commits: commits.iter().map(|c| c.commit.id.clone()).collect(),
        breaking: commits.iter().any(|c| c.breaking),
        scope: scope.or_else(|| commits.iter().find_map(|c| c.scope.clone())),
        refs,
        pull_requests,
        authors,
        kind: commits.first().map_or(Kind::Other, |c| c.kind),
        breaking_notes: notes,
    }
}

/// The headings the model is asked to use in a style, besides the engine's own sections.
const RELEASE_NOTES_SECTIONS: &[&str] =
    &["Breaking Changes", "Highlights", "New", "Improved", "Fixed"];

/// Whether a heading announces breaking changes.
fn is_breaking_heading(title: &str) -> bool {
    title.to_lowercase().contains("breaking")
}

/// The section of a verified entry: the model's heading when the style knows it and it agrees
/// with the entry, the engine's section for the cited commits otherwise.
fn section_for(
    heading: Option<&str>,
    entry: &Entry,
    commits: &[&ParsedCommit],
    style: Style,
) -> String {
    let known: Vec<&str> = match style {
        Style::ReleaseNotes => RELEASE_NOTES_SECTIONS.to_vec(),
        Style::Technical => {
            let mut known = vec!["Breaking Changes"];
            known.extend(entry.scope.as_deref());
            known.extend(commits.iter().filter_map(|c| c.scope.as_deref()));
            known
        }
        _ => style.sections().to_vec(),
    };
    let has_breaking_section = known.iter().any(|t| is_breaking_heading(t));
    if let Some(heading) = heading.map(str::trim)
        && let Some(title) = known.iter().find(|t| t.eq_ignore_ascii_case(heading))
        && (!has_breaking_section || is_breaking_heading(title) == entry.breaking)
    {
        return (*title).to_owned();
    }
    if entry.breaking && has_breaking_section {
        return "Breaking Changes".to_owned();
    }
    match style {
        Style::ReleaseNotes => match entry.kind {
            Kind::Feature => "New",
            Kind::Fix | Kind::Security => "Fixed",
            _ => "Improved",
        }
        .to_owned(),
        Style::Technical if entry.scope.is_some() => entry.scope.clone().unwrap_or_default(),
        _ => {
            // A change keep-a-changelog would hide, cited all the same, goes under "Changed"
            // (the conventional grouping hides nothing).
            let position = style.section_of(entry.kind, entry.breaking).unwrap_or(1);
            style.sections()[position].to_owned()
        }
    }
}

/// Fills in coverage: which user-facing, non-noise commits of the range the kept entries cite.
pub fn measure_coverage(
    commits: &[ParsedCommit],
    sections: &[Section],
    verification: &mut Verification,
) {
    let cited: HashSet<&str> = sections
        .iter()
        .flat_map(|s| s.entries.iter())
        .flat_map(|e| e.commits.iter().map(String::as_str))
        .collect();
    let facing: BTreeSet<&str> = commits
        .iter()
        .filter(|c| c.noise.is_none() && (c.kind.is_user_facing() || c.breaking))
        .map(|c| c.commit.id.as_str())
        .collect();
    verification.uncited_commits = commits
        .iter()
        .filter(|c| facing.contains(c.commit.id.as_str()) && !cited.contains(c.commit.id.as_str()))
        .map(|c| c.commit.id.clone())
        .collect();
    verification.coverage = if facing.is_empty() {
        1.0
    } else {
        #[expect(
            clippy::cast_precision_loss,
            reason = "commit counts are far below 2^52"
        )]
        let share =
            (facing.len() - verification.uncited_commits.len()) as f64 / facing.len() as f64;
        share
    };
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::commit::{Commit, Signature};
    use crate::parse::parse_commit;

    fn commit(id: &str, message: &str) -> ParsedCommit {
        let sig = Signature {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            time: chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap(),
        };
        parse_commit(Commit::from_message(
            id.into(),
            sig.clone(),
            sig,
            message,
            vec![],
        ))
    }

    fn range() -> Vec<ParsedCommit> {
        vec![
            commit(
                "aaaa111000000000000000000000000000000000",
                "feat(api): paging (#4)",
            ),
            commit("aaaa222000000000000000000000000000000000", "fix: crash"),
            commit(
                "bbbb333000000000000000000000000000000000",
                "feat!: new config",
            ),
            commit("cccc444000000000000000000000000000000000", "docs: readme"),
            commit("dddd555000000000000000000000000000000000", "perf: faster"),
        ]
    }

    #[test]
    fn a_pull_request_number_cites_its_commits() {
        let mut commits = range();
        // `fix: crash` came through #4 too (a merge brought it in).
        commits[1].pull_requests.push("#4".into());
        let index = CommitIndex::new(&commits);
        let answer = "### Features\n- paging [#4]\n- paging again [#4, dddd555]\n- invented [#99]\n- prose about [issue 4] [bbbb333]\n- closes [#12](https://x/issues/12) [cccc444]";
        let (sections, verification) = verify(answer, &index, Style::Conventional);
        let reasons: Vec<&str> = verification
            .dropped
            .iter()
            .map(|d| d.reason.as_str())
            .collect();
        assert_eq!(reasons, ["`#99` is not a pull request of the range"]);
        let entries: Vec<(&str, Vec<&str>)> = sections
            .iter()
            .flat_map(|s| &s.entries)
            .map(|e| (e.text.as_str(), e.commits.iter().map(|c| &c[..7]).collect()))
            .collect();
        assert_eq!(
            entries,
            [
                ("paging", vec!["aaaa111", "aaaa222"]),
                ("paging again", vec!["aaaa111", "aaaa222", "dddd555"]),
                ("closes", vec!["cccc444"]),
                ("prose about [issue 4]", vec!["bbbb333"]),
            ]
        );
    }

    #[test]
    fn citations_are_read_in_every_form() {
        let answer = "## v1.0\n\n### Features\n\n- **api:** paging [aaaa111]\n- Two things [aaaa111, AAAA222].\n* linked [bbbb333](https://x/commit/bbbb333)\n1. numbered (`[dddd555]`)\n  continued line\n\nA paragraph of prose [cccc444]\n- no citation here\n- [not an id] text [aaaa111]";
        let read = candidates(answer);
        let got: Vec<(Option<&str>, &str, Vec<&str>)> = read
            .iter()
            .map(|c| {
                (
                    c.section.as_deref(),
                    c.text.as_str(),
                    c.citations.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(got.len(), 7);
        assert_eq!(
            got[0],
            (Some("Features"), "**api:** paging", vec!["aaaa111"])
        );
        assert_eq!(got[1].2, vec!["aaaa111", "aaaa222"]);
        assert_eq!(got[1].1, "Two things.");
        assert_eq!(got[2], (Some("Features"), "linked", vec!["bbbb333"]));
        assert_eq!(got[3].1, "numbered continued line");
        assert_eq!(got[3].2, vec!["dddd555"]);
        assert_eq!(
            got[4],
            (Some("Features"), "A paragraph of prose", vec!["cccc444"])
        );
        assert!(got[5].2.is_empty());
        assert_eq!(
            got[6],
            (Some("Features"), "[not an id] text", vec!["aaaa111"])
        );
    }

    #[test]
    fn invented_ambiguous_and_uncited_entries_are_dropped() {
        let commits = range();
        let index = CommitIndex::new(&commits);
        let answer = "### Features\n- paging [aaaa111]\n- invented [deadbeef]\n- ambiguous [aaaa]\n- partly invented [aaaa222, 0123456]\n- nothing cited\n### ⚠ Breaking Changes\n- new config [bbbb333]";
        let (sections, mut verification) = verify(answer, &index, Style::Conventional);
        assert_eq!(verification.dropped_entries, 4);
        let reasons: Vec<&str> = verification
            .dropped
            .iter()
            .map(|d| d.reason.as_str())
            .collect();
        assert_eq!(
            reasons,
            [
                "`deadbeef` is not a commit of the range",
                "`aaaa` names several commits",
                "`0123456` is not a commit of the range",
                "cites no commit",
            ]
        );
        assert_eq!(sections.len(), 2);
        let paging = &sections[0].entries[0];
        assert_eq!(paging.commits, ["aaaa111000000000000000000000000000000000"]);
        assert_eq!(paging.pull_requests, ["#4"]);
        assert_eq!(paging.scope.as_deref(), Some("api"));
        assert!(!paging.breaking);
        assert!(sections[1].entries[0].breaking);

        measure_coverage(&commits, &sections, &mut verification);
        // feat, fix, feat!, perf are user-facing; docs is not. Two of four are cited.
        assert_eq!(
            verification.uncited_commits,
            [
                "aaaa222000000000000000000000000000000000",
                "dddd555000000000000000000000000000000000"
            ]
        );
        assert!((verification.coverage - 0.5).abs() < 1e-9);
    }

    #[test]
    fn references_the_model_kept_are_not_repeated() {
        let commits = range();
        let index = CommitIndex::new(&commits);
        let (sections, _) = verify(
            "### Features\n- Paging (#4) [aaaa111]\n- Paging again, see [#4]. [aaaa111]",
            &index,
            Style::Conventional,
        );
        let entries = &sections[0].entries;
        assert_eq!(entries[0].text, "Paging");
        // `(#4)` in the subject is the pull request (a squash title), kept once by the renderer.
        assert_eq!(entries[0].pull_requests, ["#4"]);
        assert_eq!(entries[1].text, "Paging again, see.");
    }

    #[test]
    fn resolution() {
        let commits = range();
        let index = CommitIndex::new(&commits);
        assert_eq!(index.resolve("aaaa1"), Resolution::Unique(0));
        assert_eq!(index.resolve("AAAA2"), Resolution::Unique(1));
        assert_eq!(index.resolve("aaaa"), Resolution::Ambiguous);
        assert_eq!(index.resolve("ffff"), Resolution::Missing);
        assert_eq!(
            index.resolve("bbbb333000000000000000000000000000000000"),
            Resolution::Unique(2)
        );
    }
}
