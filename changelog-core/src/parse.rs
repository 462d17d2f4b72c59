//! Understanding commit messages: Conventional Commits 1.0, trailers, references, reverts,
//! co-authors, and a heuristic for messages that follow no convention.
//!
//! Everything here is a pure function of the [`Commit`]; nothing reads the repository.
//!
//! # The heuristic for plain messages
//!
//! A summary that is not `type(scope)!: description` is classified by its verb, lowercased and
//! with a trailing `s`, `ed` or `ing` ignored (`Adds`, `added`, `adding` all read as `add`):
//!
//! | verb | kind |
//! |---|---|
//! | add, implement, introduce, support, create, allow, enable, provide, new, initial, teach, accept, permit, let | [`Kind::Feature`] |
//! | improve, enhance, extend, expose, better, polish, increase, relax | [`Kind::Improvement`] |
//! | fix, resolve, correct, repair, prevent, patch, hotfix, bugfix, avoid, ensure, handle, guard, work around, do not, don't, never, restore, stop, address, mitigate, protect, reject, check, validate, respect, honour, preserve, catch, unbreak | [`Kind::Fix`] |
//! | optimize, optimise, speed, reduce, cache, accelerate, perf, faster | [`Kind::Performance`] |
//! | refactor, restructure, simplify, clean, cleanup, rename, move, extract, reorganize, rework, rewrite, split, inline, unify, consolidate, tidy, dedupe, factor, migrate, convert | [`Kind::Refactor`] |
//! | document, doc, docs, readme, clarify, explain | [`Kind::Documentation`] |
//! | test | [`Kind::Test`] |
//! | format, reformat, lint, fmt, rustfmt, style | [`Kind::Style`] |
//! | remove, delete, drop | [`Kind::Removal`] |
//! | deprecate | [`Kind::Deprecation`] |
//! | revert | [`Kind::Revert`] |
//! | update, upgrade, change, bump, replace, switch, use, make, tweak, adjust, set, default, prefer, limit, downgrade | [`Kind::Change`] |
//! | anything else | [`Kind::Other`] (a leading noun: `typo`, `docs` → documentation, `tests` → tests) |
//!
//! The object then decides where the verb cannot: a summary that names documentation (`docs`,
//! `readme`, `typo`, `comment`, `example`, ...) is [`Kind::Documentation`] (`fix typo in docs`),
//! one that names tests (`test`, `tests`, `flaky`, `benchmark`, ...) is [`Kind::Test`] (`enable
//! tests for ...`, `add test for ...`), one that names CI (`ci`, `workflow`, `actions`) is
//! [`Kind::Ci`]; `update dependencies` and `bump X from a to b` are [`Kind::Build`]; removing
//! `unused`, `dead` or `obsolete` things is a [`Kind::Refactor`]. Removals, deprecations and
//! reverts keep their kind.
//!
//! A summary in the `area: description` or `area/sub: description` form whose prefix is not a
//! known type (`net: fix leak`) takes the prefix as its scope and classifies the description
//! the same way; `area: revert "..."` is a revert. A `CVE-` or `GHSA-` identifier anywhere in
//! the summary or the trailers makes the commit [`Kind::Security`] (a leading `CVE-...:` stays in
//! the text, it is no scope), as does a fix or change that mentions `security` or a
//! vulnerability.
//!
//! # Files
//!
//! Where the words leave the kind open (no Conventional Commits type) and the source could see
//! the commit's changes, a commit whose every changed file is a test, or documentation, or CI
//! configuration, or a lock file is [`Kind::Test`], [`Kind::Documentation`], [`Kind::Ci`] or
//! [`Kind::Build`] (the table is in [`crate::files`]), unless it is breaking, or its words
//! already make it a revert, a security fix, a deprecation, documentation, tests, CI or a
//! dependency change.
//!
//! # Noise
//!
//! `fixup!`, `squash!` and `amend!` commits, release bumps (`chore(release): 1.2.0`,
//! `Bump version to 1.2.0`, `v1.2.0`, `chore: prepare tokio v1.52.2 (#7000)`, `Release
//! tokio-1.52.0`), merge commits and empty messages are kept out of the
//! changelog; [`ParsedCommit::noise`] says why.

use serde::{Deserialize, Serialize};

pub use crate::commit::trailers;
use crate::commit::{Author, Commit};
use crate::files::Files;

/// What a commit changes, as far as a reader of the changelog is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A new capability (`feat`).
    Feature,
    /// A better existing capability (plain messages such as "Improve ...").
    Improvement,
    /// A bug fix (`fix`).
    Fix,
    /// A fix of a vulnerability (`security`, or a fix naming a CVE).
    Security,
    /// A speed or memory improvement (`perf`).
    Performance,
    /// A change of code that is neither a fix nor a feature (`refactor`).
    Refactor,
    /// Documentation only (`docs`).
    Documentation,
    /// Formatting only (`style`).
    Style,
    /// Tests only (`test`).
    Test,
    /// Build system or dependencies (`build`).
    Build,
    /// Continuous integration (`ci`).
    Ci,
    /// Maintenance (`chore`).
    Chore,
    /// Undoes an earlier commit (`revert`, or git's `Revert "..."`).
    Revert,
    /// Marks something as deprecated.
    Deprecation,
    /// Removes something.
    Removal,
    /// A change that fits no other kind ("Update ...", "Switch to ...").
    Change,
    /// Unclassified.
    Other,
}

impl Kind {
    /// Maps a Conventional Commits type (case-insensitive) to a kind; `None` for unknown types.
    #[must_use]
    pub fn from_type(commit_type: &str) -> Option<Self> {
        Some(match commit_type.to_ascii_lowercase().as_str() {
            "feat" | "feature" | "features" => Self::Feature,
            "fix" | "fixes" | "bugfix" | "hotfix" => Self::Fix,
            "perf" | "performance" => Self::Performance,
            "refactor" | "refactoring" => Self::Refactor,
            "docs" | "doc" | "documentation" => Self::Documentation,
            "style" | "format" => Self::Style,
            "test" | "tests" => Self::Test,
            "build" | "deps" => Self::Build,
            "ci" => Self::Ci,
            "chore" | "release" => Self::Chore,
            "revert" => Self::Revert,
            "security" | "sec" => Self::Security,
            "deprecate" | "deprecation" => Self::Deprecation,
            "remove" | "removal" => Self::Removal,
            "improvement" | "enhancement" | "improve" => Self::Improvement,
            _ => return None,
        })
    }

    /// Whether users of the software notice this kind of change. Documentation, style, tests,
    /// build, CI and chores are for the people who work on the project.
    #[must_use]
    pub fn is_user_facing(self) -> bool {
        !matches!(
            self,
            Self::Documentation | Self::Style | Self::Test | Self::Build | Self::Ci | Self::Chore
        )
    }
}

/// Why a commit is kept out of the changelog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Noise {
    /// `fixup!`, `squash!` or `amend!`: meant to be squashed away.
    Fixup,
    /// A release or version bump.
    ReleaseBump,
    /// A merge commit: its changes are the commits it merged.
    Merge,
    /// No message.
    Empty,
}

/// A commit together with what its message says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedCommit {
    /// The commit itself.
    pub commit: Commit,
    /// What it changes.
    pub kind: Kind,
    /// The Conventional Commits type as written, lowercased (`feat`), if the summary has one.
    pub commit_type: Option<String>,
    /// The scope (`api` in `feat(api): ...`, or the `subsystem` of `subsystem: ...`).
    pub scope: Option<String>,
    /// The description: the summary without type, scope and squash reference.
    pub description: String,
    /// Whether this breaks compatibility (`!` or a `BREAKING CHANGE` footer).
    pub breaking: bool,
    /// Texts of the `BREAKING CHANGE:` / `BREAKING-CHANGE:` footers.
    pub breaking_notes: Vec<String>,
    /// Issue references (`Fixes #12`, `Refs: owner/repo#3`), in order of appearance; pull
    /// requests are in [`ParsedCommit::pull_requests`].
    pub refs: Vec<String>,
    /// The pull or merge requests that brought this commit in (`#12`, `!7`, `D123`): its own
    /// squash reference or review trailer first, then those of the merges that merged it, the
    /// innermost first.
    #[serde(default)]
    pub pull_requests: Vec<String>,
    /// The title of the first of [`ParsedCommit::pull_requests`], when a merge named it.
    #[serde(default)]
    pub pull_request_title: Option<String>,
    /// The author, then the co-authors named by `Co-authored-by`, without duplicates.
    pub authors: Vec<Author>,
    /// Ids (full or abbreviated) of the commits this one reverts.
    pub reverts: Vec<String>,
    /// Set when the commit is kept out of the changelog.
    pub noise: Option<Noise>,
}

/// Parses one commit.
#[must_use]
pub fn parse_commit(commit: Commit) -> ParsedCommit {
    let summary = commit.summary.trim();
    let noise = noise_of(&commit, summary);

    let breaking_footers: Vec<&str> = commit
        .trailers
        .iter()
        .filter(|t| t.key == "BREAKING CHANGE" || t.key == "BREAKING-CHANGE")
        .map(|t| t.value.trim())
        .collect();
    let has_breaking_footer = !breaking_footers.is_empty();
    let breaking_notes: Vec<String> = breaking_footers
        .into_iter()
        .filter(|note| !note.is_empty())
        .map(str::to_owned)
        .collect();

    let title = parse_title(summary);
    let reverts = reverted_ids(&commit, title.kind == Kind::Revert);

    let mut refs = Vec::new();
    for trailer in &commit.trailers {
        if is_reference_key(&trailer.key) {
            collect_references(&trailer.value, &mut refs);
        }
    }
    let mut pull_requests: Vec<String> = title.pull_request.clone().into_iter().collect();
    pull_requests.extend(crate::pull_request::review_trailer(&commit.body));
    pull_requests.extend(commit.merge_refs.iter().cloned());
    dedup_in_order(&mut pull_requests);
    refs.retain(|r| !pull_requests.contains(r));
    dedup_in_order(&mut refs);

    let authors = authors_of(&commit);
    let advisory_trailer = commit
        .trailers
        .iter()
        .any(|t| mentions_advisory(&t.key) || mentions_advisory(&t.value));
    let breaking = title.breaking || has_breaking_footer;
    let kind = if advisory_trailer && title.kind != Kind::Revert {
        Kind::Security
    } else {
        match commit.files {
            // The words leave the kind open and every changed file is of one sort.
            Some(files) if !breaking && files_decide(&title) => files_kind(files),
            _ => title.kind,
        }
    };
    ParsedCommit {
        kind,
        commit_type: title.commit_type,
        scope: title.scope,
        description: title.description,
        breaking,
        breaking_notes,
        refs,
        pull_requests,
        pull_request_title: commit.merge_title.clone(),
        authors,
        reverts,
        noise,
        commit,
    }
}

/// Whether a commit's changed files may decide its kind: its summary has no Conventional
/// Commits type (a plain message, or `area: ...`) and its words leave the kind open. Sources
/// look at the files of those commits only, and set [`Commit::files`].
#[must_use]
pub fn files_may_decide(summary: &str) -> bool {
    files_decide(&parse_title(summary))
}

/// Whether files decide over a title: it has no type, and its words did not already name what
/// files would (documentation, tests, CI, dependencies) or what files cannot tell (a revert, a
/// security fix, a deprecation).
fn files_decide(title: &Title) -> bool {
    title.commit_type.is_none()
        && !matches!(
            title.kind,
            Kind::Revert
                | Kind::Security
                | Kind::Deprecation
                | Kind::Documentation
                | Kind::Test
                | Kind::Ci
                | Kind::Build
        )
}

/// The kind of a commit that changes only files of one sort.
fn files_kind(files: Files) -> Kind {
    match files {
        Files::Tests => Kind::Test,
        Files::Documentation => Kind::Documentation,
        Files::Ci => Kind::Ci,
        Files::Lockfiles => Kind::Build,
    }
}

/// What a summary (a commit's first line, or a pull request's title) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title {
    /// What it changes.
    pub kind: Kind,
    /// The Conventional Commits type, lowercased, when the summary has a known one.
    pub commit_type: Option<String>,
    /// The scope (`api` of `feat(api): ...`, `net` of `net: ...`).
    pub scope: Option<String>,
    /// The text without type, scope and pull request reference.
    pub description: String,
    /// `!` before the colon.
    pub breaking: bool,
    /// The pull request the summary names (`(#12)`, `Merged PR 12: ...`).
    pub pull_request: Option<String>,
}

/// Parses a summary: Conventional Commits header, `area: text`, git's `Revert "..."` and
/// `Reapply "..."`, a squash reference, or a plain message classified by its words.
#[must_use]
pub fn parse_title(summary: &str) -> Title {
    let mut summary = summary.trim();
    let mut pull_request = None;
    if let Some((number, title)) = crate::pull_request::azure_title(summary) {
        pull_request = Some(format!("!{number}"));
        summary = title;
    }
    let header = conventional_header(summary).filter(|h| !mentions_advisory(h.commit_type));
    let (kind, commit_type, scope, text, bang) = match header {
        Some(h) => match Kind::from_type(h.commit_type) {
            Some(kind) => (
                kind,
                Some(h.commit_type.to_ascii_lowercase()),
                h.scope.map(str::to_owned),
                h.description,
                h.breaking,
            ),
            // `subsystem: description`: the prefix is a scope, the description decides.
            None => (
                if git_revert(h.description).is_some()
                    || h.description.to_ascii_lowercase().starts_with("revert \"")
                {
                    Kind::Revert
                } else {
                    area_kind(h.commit_type).unwrap_or_else(|| classify_plain(h.description))
                },
                None,
                Some(h.scope.map_or(h.commit_type, |s| s).to_owned()),
                h.description,
                h.breaking,
            ),
        },
        None => {
            if git_revert(summary).is_some() {
                // The whole `Revert "..."` summary: in any section it says what happened.
                (Kind::Revert, None, None, summary, false)
            } else if let Some(reapplied) = git_reapply(summary) {
                // git's revert of a revert: the original change, again.
                match conventional_header(reapplied) {
                    Some(h) => (
                        Kind::from_type(h.commit_type)
                            .unwrap_or_else(|| classify_plain(h.description)),
                        Kind::from_type(h.commit_type).map(|_| h.commit_type.to_ascii_lowercase()),
                        h.scope.map(str::to_owned),
                        h.description,
                        h.breaking,
                    ),
                    None => (classify_plain(reapplied), None, None, reapplied, false),
                }
            } else {
                (classify_plain(summary), None, None, summary, false)
            }
        }
    };
    let (description, squash_ref) = match crate::pull_request::squash_reference(text) {
        Some((description, reference)) => (description, Some(reference)),
        None => (text.trim_end(), None),
    };
    let mut kind = kind;
    if mentions_advisory(description)
        || (matches!(kind, Kind::Fix | Kind::Change | Kind::Other)
            && mentions_security(description))
    {
        kind = Kind::Security;
    }
    Title {
        kind,
        commit_type,
        scope: scope.filter(|s| !s.is_empty()),
        description: description.to_owned(),
        breaking: bang,
        pull_request: pull_request.or(squash_ref.map(str::to_owned)),
    }
}

/// The parts of a Conventional Commits header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// `feat`, as written.
    pub commit_type: &'a str,
    /// `api` in `feat(api): ...`.
    pub scope: Option<&'a str>,
    /// `!` before the colon.
    pub breaking: bool,
    /// Text after `: `.
    pub description: &'a str,
}

/// Parses `type(scope)!: description`; `None` when the summary does not have that shape.
#[must_use]
pub fn conventional_header(summary: &str) -> Option<Header<'_>> {
    let bytes = summary.as_bytes();
    let type_end = bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b'.')))?;
    if type_end == 0 || !bytes[0].is_ascii_alphabetic() {
        return None;
    }
    let commit_type = &summary[..type_end];
    let mut rest = &summary[type_end..];
    let mut scope = None;
    if let Some(after) = rest.strip_prefix('(') {
        let close = after.find(')')?;
        let inner = after[..close].trim();
        if inner.is_empty() || inner.contains('(') {
            return None;
        }
        scope = Some(inner);
        rest = &after[close + 1..];
    }
    let breaking = rest.starts_with('!');
    if breaking {
        rest = &rest[1..];
    }
    let description = rest.strip_prefix(':')?;
    // The specification asks for `: `; tolerate extra spaces but not a missing one, so that
    // `http://...` or `12:30` are not read as headers.
    if !description.starts_with([' ', '\t']) {
        return None;
    }
    let description = description.trim();
    if description.is_empty() {
        return None;
    }
    Some(Header {
        commit_type,
        scope,
        breaking,
        description,
    })
}

fn noise_of(commit: &Commit, summary: &str) -> Option<Noise> {
    let starts_with = |prefix: &str| starts_with_ignore_case(summary.as_bytes(), prefix.as_bytes());
    if summary.is_empty() {
        Some(Noise::Empty)
    } else if commit.is_merge()
        || starts_with("merge pull request ")
        || starts_with("merge branch ")
        || starts_with("merge remote-tracking branch ")
    {
        Some(Noise::Merge)
    } else if ["fixup!", "squash!", "amend!"]
        .iter()
        .any(|p| starts_with(p))
    {
        Some(Noise::Fixup)
    } else if is_release_bump(summary) {
        Some(Noise::ReleaseBump)
    } else {
        None
    }
}

/// `chore(release): 1.2.0`, `chore: release v1.2.0`, `Bump version to 1.2.0`, `Release 1.2`,
/// `v1.2.0`. A dependency bump (`chore(deps): bump serde from 1.0 to 1.1`) is not one.
fn is_release_bump(summary: &str) -> bool {
    if !may_be_release_bump(summary) {
        return false;
    }
    let summary = crate::pull_request::squash_reference(summary).map_or(summary, |(text, _)| text);
    let text = match conventional_header(summary) {
        Some(h) => {
            let t = h.commit_type.to_ascii_lowercase();
            // `tokio: prepare Tokio v1.52.2`: an area, not a type, decides nothing.
            if Kind::from_type(&t).is_some() && !matches!(t.as_str(), "chore" | "release" | "build")
            {
                return false;
            }
            if matches!(
                h.scope.map(str::to_ascii_lowercase).as_deref(),
                Some("release" | "version")
            ) {
                return true;
            }
            h.description
        }
        None => summary,
    };
    let lower = text.to_ascii_lowercase();
    let mut words = lower
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| c == '.' || c == ',' || c == '`' || c == '\''))
        .skip_while(|w| {
            matches!(
                *w,
                "release"
                    | "released"
                    | "releasing"
                    | "bump"
                    | "bumped"
                    | "bumping"
                    | "version"
                    | "to"
                    | "prepare"
                    | "preparing"
                    | "for"
                    | "cut"
                    | "new"
                    | "the"
            )
        });
    let leading_words_skipped = lower.split_whitespace().next().is_some_and(|w| {
        matches!(
            w,
            "release" | "released" | "releasing" | "bump" | "bumped" | "version" | "prepare"
        )
    });
    match (words.next(), words.next(), words.next()) {
        (None, _, _) => leading_words_skipped,
        (Some(version), None, _) => looks_like_version(version),
        // `prepare tokio v1.52.2`, `1.2.0 release`
        (Some(name), Some(version), None) => {
            (leading_words_skipped
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && looks_like_version(version))
                || (looks_like_version(name) && version == "release")
        }
        _ => false,
    }
}

/// Whether a summary has what every release bump [`is_release_bump`] knows has: a version
/// (a digit, a dot and a digit) or one of its words (`release`, `bump`, `version`, `prepare`).
/// Most subjects have neither, and are told so without being parsed again.
fn may_be_release_bump(summary: &str) -> bool {
    let bytes = summary.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        let rest = &bytes[i..];
        match b.to_ascii_lowercase() {
            b'0'..=b'9' => rest.len() > 2 && rest[1] == b'.' && rest[2].is_ascii_digit(),
            b'r' | b'b' | b'v' | b'p' => [&b"releas"[..], b"bump", b"version", b"prepar"]
                .iter()
                .any(|word| starts_with_ignore_case(rest, word)),
            _ => false,
        }
    })
}

fn looks_like_version(word: &str) -> bool {
    // `tokio-1.52.0`, `pkg@1.2.0`: a monorepo's tag.
    let word = match word.find(|c: char| c.is_ascii_digit()) {
        Some(digit) if digit > 1 && matches!(word.as_bytes()[digit - 1], b'-' | b'@' | b'v') => {
            &word[digit..]
        }
        _ => word,
    };
    let word = word.strip_prefix('v').unwrap_or(word);
    let core = word.split(['-', '+']).next().unwrap_or_default();
    let mut parts = core.split('.');
    let count = core.split('.').count();
    count >= 2 && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The summary quoted by git's `Revert "..."`.
fn git_revert(summary: &str) -> Option<&str> {
    let inner = summary.strip_prefix("Revert \"")?.strip_suffix('"')?;
    (!inner.is_empty()).then_some(inner)
}

/// `Reapply "..."`: git's summary for the revert of a revert.
fn git_reapply(summary: &str) -> Option<&str> {
    let inner = summary.strip_prefix("Reapply \"")?.strip_suffix('"')?;
    (!inner.is_empty()).then_some(inner)
}

/// Ids named by `This reverts commit <id>.`, and for a `revert:` commit by a `Refs:` footer of
/// hexadecimal ids.
fn reverted_ids(commit: &Commit, is_revert: bool) -> Vec<String> {
    let mut ids = Vec::new();
    for line in commit.body.lines() {
        if let Some(rest) = line.trim().strip_prefix("This reverts commit ") {
            let id: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
            if id.len() >= 4 {
                ids.push(id.to_ascii_lowercase());
            }
        }
    }
    for trailer in commit.trailers.iter().filter(|_| is_revert) {
        if trailer.key.eq_ignore_ascii_case("refs") {
            for word in trailer.value.split([',', ' ', '\n']) {
                let word = word.trim();
                if word.len() >= 7 && word.bytes().all(|b| b.is_ascii_hexdigit()) {
                    ids.push(word.to_ascii_lowercase());
                }
            }
        }
    }
    dedup_in_order(&mut ids);
    ids
}

fn is_short_reference(text: &str) -> bool {
    text.len() > 1
        && (text.starts_with('#') || text.starts_with('!'))
        && text[1..].bytes().all(|b| b.is_ascii_digit())
}

fn is_reference_key(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "closes"
            | "close"
            | "closed"
            | "fixes"
            | "fix"
            | "fixed"
            | "resolves"
            | "resolve"
            | "resolved"
            | "refs"
            | "ref"
            | "references"
            | "see"
            | "part-of"
            | "related"
            | "related-to"
            | "issue"
            | "issues"
    )
}

/// Collects `#12`, `!7` and `owner/repo#3` references from a trailer value.
fn collect_references(value: &str, refs: &mut Vec<String>) {
    for word in value.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
        let word = word.trim_matches(|c: char| c == '.' || c == ')' || c == '(');
        if is_short_reference(word) {
            refs.push(word.to_owned());
        } else if let Some((repo, number)) = word.split_once('#')
            && repo.contains('/')
            && !repo.contains(':')
            && !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
        {
            refs.push(word.to_owned());
        }
    }
}

fn mentions_security(text: &str) -> bool {
    contains_ignore_case(text, b"security")
        || contains_ignore_case(text, b"vulnerab")
        || text.contains("CVE-")
}

fn authors_of(commit: &Commit) -> Vec<Author> {
    let mut authors = vec![Author {
        name: commit.author.name.clone(),
        email: commit.author.email.clone(),
    }];
    for trailer in &commit.trailers {
        if trailer.key.eq_ignore_ascii_case("co-authored-by")
            && let Some(author) = parse_person(&trailer.value)
            && !authors
                .iter()
                .any(|a| a.email.eq_ignore_ascii_case(&author.email))
        {
            authors.push(author);
        }
    }
    authors
}

/// `Name <email>`.
fn parse_person(value: &str) -> Option<Author> {
    let (name, rest) = value.split_once('<')?;
    let email = rest.split_once('>')?.0.trim();
    let name = name.trim();
    (!name.is_empty() && !email.is_empty()).then(|| Author {
        name: name.to_owned(),
        email: email.to_owned(),
    })
}

/// Classifies a message that follows no convention by its verb, then its object (see the
/// module docs).
#[must_use]
pub fn classify_plain(summary: &str) -> Kind {
    let lower = summary.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == '/' || c == ',')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\''))
        .filter(|w| !w.is_empty())
        .collect();
    let first = words.first().copied().unwrap_or_default();
    let second = words.get(1).copied().unwrap_or_default();
    let verb = match (first, second) {
        ("do" | "does" | "did", "not") | ("don't" | "doesn't" | "never", _) => Some(Kind::Fix),
        ("work" | "works" | "worked" | "working", "around") => Some(Kind::Fix),
        _ => verb_kind(first),
    };
    let has = |list: &[&str]| words.iter().skip(1).any(|w| list.contains(w));
    let kind = match verb {
        Some(kind) => object_kind(kind, first, &words, &has),
        // A noun first: `typo in ...`, `docs for ...`, `tests for ...`.
        None => match first {
            "typo" | "typos" | "docs" | "doc" | "documentation" | "readme" | "changelog" => {
                Kind::Documentation
            }
            "tests" | "test" | "testing" => Kind::Test,
            "ci" => Kind::Ci,
            "deps" | "dependencies" => Kind::Build,
            _ => Kind::Other,
        },
    };
    if mentions_advisory(summary)
        || (matches!(kind, Kind::Fix | Kind::Change | Kind::Other) && mentions_security(summary))
    {
        Kind::Security
    } else {
        kind
    }
}

/// The verb's kind refined by its object: documentation, tests, CI and dependencies are what
/// they are whatever was done to them; removing dead code is a clean-up.
fn object_kind(kind: Kind, verb: &str, words: &[&str], has: &dyn Fn(&[&str]) -> bool) -> Kind {
    if matches!(kind, Kind::Removal | Kind::Deprecation | Kind::Revert) {
        if kind == Kind::Removal
            && has(&[
                "unused",
                "dead",
                "redundant",
                "obsolete",
                "leftover",
                "stale",
            ])
        {
            return Kind::Refactor;
        }
        return kind;
    }
    if has(&[
        "docs",
        "doc",
        "documentation",
        "readme",
        "docstring",
        "docstrings",
        "comment",
        "comments",
        "changelog",
        "rustdoc",
        "javadoc",
        "godoc",
        "example",
        "examples",
    ]) {
        return Kind::Documentation;
    }
    if has(&[
        "test",
        "tests",
        "testing",
        "testcase",
        "testcases",
        "benchmark",
        "benchmarks",
        "bench",
        "benches",
        "flaky",
        "fuzzer",
        "fuzzing",
    ]) {
        return Kind::Test;
    }
    if has(&[
        "ci",
        "workflow",
        "workflows",
        "actions",
        "appveyor",
        "travis",
        "circleci",
        "codecov",
    ]) {
        return Kind::Ci;
    }
    let dependency_verb = matches!(kind, Kind::Change) || verb.starts_with("bump");
    let from_to = words.windows(2).any(|w| w[0] == "from") && words.contains(&"to");
    if dependency_verb
        && (has(&[
            "dependencies",
            "dependency",
            "deps",
            "dep",
            "lockfile",
            "msrv",
            "toolchain",
        ]) || (verb.starts_with("bump") && from_to))
    {
        return Kind::Build;
    }
    kind
}

/// The verb's kind, its inflections included (`adds`, `added`, `adding`; `dropped`).
fn verb_kind(word: &str) -> Option<Kind> {
    classify_verb(word).or_else(|| {
        ["ing", "ed", "es", "s", "d"]
            .iter()
            .filter_map(|suffix| word.strip_suffix(suffix))
            .find_map(|stem| {
                classify_verb(stem)
                    .or_else(|| classify_verb(&format!("{stem}e")))
                    // dropped, dropping -> drop
                    .or_else(|| {
                        let mut chars = stem.chars().rev();
                        match (chars.next(), chars.next()) {
                            (Some(a), Some(b)) if a == b => classify_verb(&stem[..stem.len() - 1]),
                            _ => None,
                        }
                    })
            })
    })
}

fn classify_verb(word: &str) -> Option<Kind> {
    Some(match word {
        "add" | "implement" | "introduce" | "support" | "create" | "allow" | "enable"
        | "provide" | "new" | "initial" | "teach" | "accept" | "permit" | "let" => Kind::Feature,
        "improve" | "enhance" | "extend" | "expose" | "better" | "polish" | "increase"
        | "relax" => Kind::Improvement,
        "fix" | "resolve" | "correct" | "repair" | "prevent" | "patch" | "hotfix" | "bugfix"
        | "avoid" | "ensure" | "handle" | "guard" | "workaround" | "restore" | "stop"
        | "address" | "mitigate" | "protect" | "reject" | "check" | "validate" | "respect"
        | "honor" | "honour" | "preserve" | "properly" | "catch" | "unbreak" | "prohibit"
        | "forbid" | "disallow" => Kind::Fix,
        "optimize" | "optimise" | "speed" | "speedup" | "accelerate" | "reduce" | "perf"
        | "cache" | "faster" => Kind::Performance,
        "refactor" | "restructure" | "simplify" | "clean" | "cleanup" | "rename" | "move"
        | "extract" | "reorganize" | "reorganise" | "rework" | "rewrite" | "split" | "inline"
        | "unify" | "consolidate" | "tidy" | "dedupe" | "deduplicate" | "factor" | "migrate"
        | "convert" | "internal" => Kind::Refactor,
        "document" | "doc" | "docs" | "readme" | "clarify" | "explain" => Kind::Documentation,
        "test" => Kind::Test,
        "format" | "reformat" | "lint" | "fmt" | "rustfmt" | "style" => Kind::Style,
        "remove" | "delete" | "drop" => Kind::Removal,
        "deprecate" => Kind::Deprecation,
        "revert" => Kind::Revert,
        "update" | "upgrade" | "change" | "bump" | "replace" | "switch" | "use" | "make"
        | "tweak" | "adjust" | "set" | "default" | "prefer" | "limit" | "downgrade" => Kind::Change,
        _ => return None,
    })
}

/// An area that says what the change is about whatever its verb (`Documentation: fix typos`).
fn area_kind(area: &str) -> Option<Kind> {
    match area.to_ascii_lowercase().as_str() {
        "documentation" | "readme" | "man" => Some(Kind::Documentation),
        "selftests" | "testing" | "testdata" => Some(Kind::Test),
        _ => None,
    }
}

/// Whether a text names a security advisory: `CVE-` or `GHSA-`, in any case.
fn mentions_advisory(text: &str) -> bool {
    // Every commit's subject and trailers are asked: the text is not copied, and only its
    // hyphens, which are few, are looked behind.
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'-'
            && ((i >= 3 && bytes[i - 3..i].eq_ignore_ascii_case(b"cve"))
                || (i >= 4 && bytes[i - 4..i].eq_ignore_ascii_case(b"ghsa")))
    })
}

/// Whether `text` contains `needle` (lower case ASCII) in any case, without copying the text.
fn contains_ignore_case(text: &str, needle: &[u8]) -> bool {
    let bytes = text.as_bytes();
    let Some(&first) = needle.first() else {
        return true;
    };
    (0..bytes.len()).any(|i| {
        bytes[i].to_ascii_lowercase() == first && starts_with_ignore_case(&bytes[i..], needle)
    })
}

/// Whether `bytes` start with `prefix`, ASCII letters in any case.
fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes
        .get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// Leaves the first of each item, in order.
fn dedup_in_order(items: &mut Vec<String>) {
    // A commit's references are a handful: comparing each with those kept costs less than a
    // set (an allocation and a copy of each item) would.
    if items.len() > 32 {
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        items.retain(|item| seen.insert(item.clone()));
        return;
    }
    let mut kept = 0;
    for i in 0..items.len() {
        if !items[..kept].contains(&items[i]) {
            items.swap(kept, i);
            kept += 1;
        }
    }
    items.truncate(kept);
}

#[cfg(test)]
mod tests {
    use crate::commit::Trailer;
    use chrono::DateTime;
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::commit::Signature;

    fn commit(message: &str) -> Commit {
        commit_with_parents(message, 1)
    }

    fn commit_with_parents(message: &str, parents: usize) -> Commit {
        let sig = Signature {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            time: DateTime::parse_from_rfc3339("2024-05-01T10:00:00+02:00").unwrap(),
        };
        Commit::from_message(
            "a".repeat(40),
            sig.clone(),
            sig,
            message,
            vec!["b".repeat(40); parents],
        )
    }

    fn parse(message: &str) -> ParsedCommit {
        parse_commit(commit(message))
    }

    // The examples of https://www.conventionalcommits.org/en/v1.0.0/#examples, one by one.

    #[test]
    fn spec_description_and_breaking_change_footer() {
        let p = parse(
            "feat: allow provided config object to extend other configs\n\nBREAKING CHANGE: `extends` key in config file is now used for extending other config files",
        );
        assert_eq!(p.kind, Kind::Feature);
        assert_eq!(p.commit_type.as_deref(), Some("feat"));
        assert!(p.breaking);
        assert_eq!(
            p.description,
            "allow provided config object to extend other configs"
        );
        assert_eq!(
            p.breaking_notes,
            ["`extends` key in config file is now used for extending other config files"]
        );
    }

    #[test]
    fn spec_bang_draws_attention_to_breaking_change() {
        let p = parse("feat!: send an email to the customer when a product is shipped");
        assert!(p.breaking);
        assert_eq!(p.kind, Kind::Feature);
        assert_eq!(p.scope, None);
        assert!(p.breaking_notes.is_empty());
    }

    #[test]
    fn spec_scope_and_bang() {
        let p = parse("feat(api)!: send an email to the customer when a product is shipped");
        assert!(p.breaking);
        assert_eq!(p.scope.as_deref(), Some("api"));
        assert_eq!(
            p.description,
            "send an email to the customer when a product is shipped"
        );
    }

    #[test]
    fn spec_bang_and_breaking_change_footer() {
        let p = parse(
            "chore!: drop support for Node 6\n\nBREAKING CHANGE: use JavaScript features not available in Node 6.",
        );
        assert!(p.breaking);
        assert_eq!(p.kind, Kind::Chore);
        assert_eq!(
            p.breaking_notes,
            ["use JavaScript features not available in Node 6."]
        );
        assert_eq!(p.noise, None, "a breaking chore is not noise");
    }

    #[test]
    fn spec_no_body() {
        let p = parse("docs: correct spelling of CHANGELOG");
        assert_eq!(p.kind, Kind::Documentation);
        assert!(!p.breaking);
    }

    #[test]
    fn spec_scope() {
        let p = parse("feat(lang): add Polish language");
        assert_eq!(p.kind, Kind::Feature);
        assert_eq!(p.scope.as_deref(), Some("lang"));
        assert_eq!(p.description, "add Polish language");
    }

    #[test]
    fn spec_multi_paragraph_body_and_multiple_footers() {
        let c = commit(
            "fix: prevent racing of requests\n\nIntroduce a request id and a reference to latest request. Dismiss\nincoming responses other than from latest request.\n\nRemove timeouts which were used to mitigate the racing issue but are\nobsolete now.\n\nReviewed-by: Z\nRefs: #123",
        );
        assert_eq!(
            c.trailers,
            [
                Trailer {
                    key: "Reviewed-by".into(),
                    value: "Z".into()
                },
                Trailer {
                    key: "Refs".into(),
                    value: "#123".into()
                },
            ]
        );
        let p = parse_commit(c);
        assert_eq!(p.kind, Kind::Fix);
        assert_eq!(p.refs, ["#123"]);
        assert!(!p.breaking);
    }

    #[test]
    fn spec_revert_with_refs_footer() {
        let p = parse(
            "revert: let us never again speak of the noodle incident\n\nRefs: 676104e, a215868",
        );
        assert_eq!(p.kind, Kind::Revert);
        assert_eq!(p.reverts, ["676104e", "a215868"]);
        assert!(p.refs.is_empty(), "commit ids are not issue references");
    }

    // The specification's rules, beyond its examples.

    #[test]
    fn breaking_change_footer_synonym_and_case() {
        let p = parse("fix(parser): accept tabs\n\nBREAKING-CHANGE: tabs are now significant");
        assert!(p.breaking);
        assert_eq!(p.breaking_notes, ["tabs are now significant"]);
        // Only the upper-case spelling is a breaking change footer.
        let p = parse("fix: accept tabs\n\nbreaking change: nothing");
        assert!(!p.breaking);
    }

    #[test]
    fn types_are_case_insensitive() {
        let p = parse("FEAT(Api): shout");
        assert_eq!(p.kind, Kind::Feature);
        assert_eq!(p.commit_type.as_deref(), Some("feat"));
        assert_eq!(p.scope.as_deref(), Some("Api"));
    }

    #[test]
    fn footer_values_span_lines_until_next_token() {
        let c = commit(
            "feat: x\n\nBREAKING CHANGE: the first line\nand the second line\nAcked-by: Y\nCloses #7",
        );
        assert_eq!(c.trailers.len(), 3);
        assert_eq!(c.trailers[0].value, "the first line\nand the second line");
        assert_eq!(c.trailers[2].key, "Closes");
        assert_eq!(c.trailers[2].value, "#7");
        assert_eq!(parse_commit(c).refs, ["#7"]);
    }

    #[test]
    fn footers_in_separate_paragraphs() {
        let c = commit("feat: x\n\nSome body.\n\nRefs: #1\n\nCloses: #2, #3");
        let keys: Vec<_> = c.trailers.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["Refs", "Closes"]);
        assert_eq!(parse_commit(c).refs, ["#1", "#2", "#3"]);
    }

    #[test]
    fn a_body_paragraph_is_not_a_footer() {
        let c = commit("feat: x\n\nNote: this explains things.\n\nThe end of the body.");
        assert!(c.trailers.is_empty());
    }

    #[test]
    fn malformed_headers_are_not_conventional() {
        for summary in [
            "feat:missing space",
            "feat(): empty scope",
            "feat(a: unclosed scope",
            ": no type",
            "1feat: digit first",
            "see http://example.com",
            "feat: ",
            "feat (api): space before scope",
        ] {
            assert_eq!(conventional_header(summary), None, "{summary}");
        }
    }

    #[test]
    fn unknown_type_is_a_subsystem_scope() {
        let p = parse("net: fix a leak in the socket pool");
        assert_eq!(p.kind, Kind::Fix);
        assert_eq!(p.scope.as_deref(), Some("net"));
        assert_eq!(p.commit_type, None);
        assert_eq!(p.description, "fix a leak in the socket pool");
    }

    #[test]
    fn squash_reference_is_a_pull_request() {
        let p = parse("feat(ui): dark mode (#123)\n\nFixes #100\nCloses acme/web#5");
        assert_eq!(p.description, "dark mode");
        assert_eq!(p.pull_requests, ["#123"]);
        assert_eq!(p.refs, ["#100", "acme/web#5"]);
        let p = parse("Fix crash on start (!42)");
        assert_eq!(p.pull_requests, ["!42"]);
        assert!(p.refs.is_empty());
        assert_eq!(p.description, "Fix crash on start");
        let p = parse("Merged PR 314: feat(export): CSV files\n\nRelated work items: #7");
        assert_eq!(p.pull_requests, ["!314"]);
        assert_eq!(
            (p.kind, p.scope.as_deref()),
            (Kind::Feature, Some("export"))
        );
        assert_eq!(p.description, "CSV files");
        let p =
            parse("[X86] Fold a shuffle\n\nDifferential Revision: https://reviews.llvm.org/D4242");
        assert_eq!(p.pull_requests, ["D4242"]);
    }

    #[test]
    fn co_authors_are_authors_once() {
        let p = parse(
            "feat: pair work\n\nCo-authored-by: Grace <grace@example.com>\nco-authored-by: Ada Again <ADA@example.com>\nCo-authored-by: Linus <linus@example.com>",
        );
        let names: Vec<_> = p.authors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Ada", "Grace", "Linus"]);
    }

    #[test]
    fn git_reverts() {
        let p = parse(&format!(
            "Revert \"feat: add the thing\"\n\nThis reverts commit {}.",
            "c".repeat(40)
        ));
        assert_eq!(p.kind, Kind::Revert);
        assert_eq!(p.description, "Revert \"feat: add the thing\"");
        assert_eq!(p.reverts, ["c".repeat(40)]);
    }

    #[test]
    fn reapply_is_the_original_change() {
        let p = parse(&format!(
            "Reapply \"feat(ui): the experiment\"\n\nThis reverts commit {}.",
            "d".repeat(40)
        ));
        assert_eq!(p.kind, Kind::Feature);
        assert_eq!(p.scope.as_deref(), Some("ui"));
        assert_eq!(p.description, "the experiment");
        assert_eq!(p.reverts, ["d".repeat(40)]);
    }

    #[test]
    fn breaking_change_footer_followed_by_paragraphs() {
        let p = parse(
            "feat(api): add endpoint\n\nBody.\n\nBREAKING CHANGE: the old endpoint is gone.\n\nMigrate by calling /v2 instead.",
        );
        assert!(p.breaking);
        assert_eq!(
            p.breaking_notes,
            ["the old endpoint is gone.\nMigrate by calling /v2 instead."]
        );
    }

    #[test]
    fn crlf_messages_have_trailers() {
        let p = parse("fix: x\r\n\r\nbody\r\n\r\nRefs: #9\r\n");
        assert_eq!(p.refs, ["#9"]);
    }

    #[test]
    fn noise_is_recognised() {
        for (message, noise) in [
            ("fixup! feat: x", Noise::Fixup),
            ("squash! fix: y", Noise::Fixup),
            ("amend! fix: y", Noise::Fixup),
            ("chore(release): 1.2.0", Noise::ReleaseBump),
            (
                "chore(release): prepare for v2.0.0-rc.1",
                Noise::ReleaseBump,
            ),
            ("chore: release v1.2.0", Noise::ReleaseBump),
            ("chore: bump version to 1.2.0", Noise::ReleaseBump),
            ("Bump version to 0.3.1", Noise::ReleaseBump),
            ("Release 1.4", Noise::ReleaseBump),
            ("v1.2.3", Noise::ReleaseBump),
            ("1.2.3", Noise::ReleaseBump),
            ("Bump version", Noise::ReleaseBump),
            ("chore: prepare v1.52.2", Noise::ReleaseBump),
            ("chore: prepare Tokio v1.52.2 (#7000)", Noise::ReleaseBump),
            ("tokio: prepare Tokio v1.52.2", Noise::ReleaseBump),
            ("Release tokio-1.52.0", Noise::ReleaseBump),
            ("Release 1.2.0", Noise::ReleaseBump),
            ("bump version to 1.2.0", Noise::ReleaseBump),
            ("v2.0.0 release", Noise::ReleaseBump),
            ("Merge pull request #34 from a/b", Noise::Merge),
            ("", Noise::Empty),
        ] {
            assert_eq!(parse(message).noise, Some(noise), "{message:?}");
        }
        assert_eq!(
            parse_commit(commit_with_parents("Merge branch 'x'", 2)).noise,
            Some(Noise::Merge)
        );
        for message in [
            "chore(deps): bump serde from 1.0.1 to 1.0.2",
            "Bump serde from 1.0 to 1.1",
            "feat: release notes page",
            "Release the lock before waiting",
            "fix: v1.2.3 regression in parser",
            "Bump tokio to 1.52",
            "feat: prepare v2 API",
        ] {
            assert_eq!(parse(message).noise, None, "{message:?}");
        }
    }

    #[test]
    fn plain_messages_are_classified_by_their_first_verb() {
        for (summary, kind) in [
            ("Add support for tabs", Kind::Feature),
            ("Added a cache", Kind::Feature),
            ("Implements the thing", Kind::Feature),
            ("Fix crash when the file is empty", Kind::Fix),
            ("Fixed typo in error", Kind::Fix),
            ("Fixes #12", Kind::Fix),
            ("Remove the legacy API", Kind::Removal),
            ("Removed dead code", Kind::Refactor),
            ("Dropped support for Node 6", Kind::Removal),
            ("Dropping the cache", Kind::Removal),
            ("Improve error messages", Kind::Improvement),
            ("Improving error messages", Kind::Improvement),
            ("Optimize the walker", Kind::Performance),
            ("Refactored the parser", Kind::Refactor),
            ("Deprecate the v1 endpoint", Kind::Deprecation),
            ("Update dependencies", Kind::Build),
            ("Patch security hole in login", Kind::Security),
            ("Update openssl for CVE-2024-1234", Kind::Security),
            ("Document the config file", Kind::Documentation),
            ("WIP", Kind::Other),
            ("Something happened", Kind::Other),
            ("", Kind::Other),
        ] {
            assert_eq!(classify_plain(summary), kind, "{summary:?}");
        }
    }

    #[test]
    fn merge_refs_are_pull_requests() {
        let mut c = commit("Add a thing");
        c.merge_refs = vec!["#34".into()];
        c.merge_title = Some("The feature".into());
        let p = parse_commit(c);
        assert_eq!(p.pull_requests, ["#34"]);
        assert!(p.refs.is_empty());
        assert_eq!(p.pull_request_title.as_deref(), Some("The feature"));
    }

    #[test]
    fn text_checks_match_in_any_case_without_copying() {
        for text in [
            "CVE-2024-1",
            "fix cve-2024-1",
            "GHSA-abcd-efgh",
            "see ghsa-x",
            "xCvE-1",
        ] {
            assert!(mentions_advisory(text), "{text}");
        }
        for text in [
            "", "-", "cve", "cve 2024", "ghs-a", "é-cve", "CV-E-1", "ghsa",
        ] {
            assert!(!mentions_advisory(text), "{text}");
        }
        assert!(contains_ignore_case("A SECURITY fix", b"security"));
        assert!(contains_ignore_case("vulnerability", b"vulnerab"));
        assert!(!contains_ignore_case("secur", b"security"));
        assert!(!contains_ignore_case("sécurité", b"security"));
        assert!(contains_ignore_case("anything", b""));
    }

    #[test]
    fn only_subjects_with_a_version_or_a_release_word_are_parsed_as_bumps() {
        for subject in [
            "v1.2.0",
            "Release",
            "chore(release): 1.2.0",
            "BUMP version",
            "Preparing for the next one",
            "chore(Version): x",
        ] {
            assert!(may_be_release_bump(subject), "{subject}");
        }
        for subject in [
            "fix: handle #123",
            "Add 2 tests",
            "docs: v2 notes",
            "1.",
            ".5",
        ] {
            assert!(!may_be_release_bump(subject), "{subject}");
        }
    }

    #[test]
    fn dedup_keeps_the_first_of_each_in_order() {
        let mut items: Vec<String> = ["#3", "#1", "#3", "#2", "#1"].map(String::from).to_vec();
        dedup_in_order(&mut items);
        assert_eq!(items, ["#3", "#1", "#2"]);
        // A long list, as a set does it.
        let mut long: Vec<String> = (0..40)
            .chain(0..40)
            .map(|n| format!("#{}", n % 35))
            .collect();
        dedup_in_order(&mut long);
        assert_eq!(long, (0..35).map(|n| format!("#{n}")).collect::<Vec<_>>());
    }
}
