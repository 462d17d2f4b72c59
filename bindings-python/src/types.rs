//! The Python classes of results: `Changelog` (with its `Section`s, `Entry`s and `Author`s),
//! `Usage`, `Verification`, `Stats` and `Estimate`. Each holds the core's value and converts a
//! field when Python reads it.

use std::fmt::Write as _;
use std::sync::OnceLock;

use changelog_core::pipeline::{Estimate, UsageReport};
use changelog_core::request::{Generated, manual_document};
use changelog_core::store::{ChangelogRecord, ChangelogSource};
use changelog_core::verify::Verification;
use changelog_core::{Author, Changelog, Entry, Section, Stats, Style};
use chrono::{DateTime, NaiveDate, Utc};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use uuid::Uuid;

use crate::errors::{Failure, IntoPyResult as _};

/// `json.loads`, looked up once.
fn json_loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    LOADS.import(py, "json", "loads")?.call1((text,))
}

/// A value serialised as the CLI's JSON and read back with `json.loads`.
fn to_python<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(changelog_core::Error::from)
        .into_py_result(py)?;
    json_loads(py, &text)
}

/// The name a value serialises to (`"feature"` for `Kind::Feature`).
fn serde_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// A string as Python's `repr` writes it (single quotes).
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// An optional string as Python's `repr` writes it.
pub(crate) fn quote_option(text: Option<&str>) -> String {
    text.map_or_else(|| "None".to_owned(), quote)
}

/// Where a stored changelog is, for changelogs read from or saved to a [`crate::store`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stored {
    pub(crate) id: Uuid,
    pub(crate) owner_id: Uuid,
    pub(crate) revision: i64,
    pub(crate) is_public: bool,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// A changelog: generated from commits, written by hand (`source="manual"`), or read from a
/// store.
#[pyclass(name = "Changelog", module = "changelog", frozen)]
#[derive(Debug, Clone)]
pub(crate) struct PyChangelog {
    /// The structured document (sections empty for a manual changelog).
    pub(crate) document: Changelog,
    /// The Markdown: given (manual, stored) or rendered from the document on first use.
    pub(crate) content: OnceLock<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) source: ChangelogSource,
    pub(crate) commit_range: Option<String>,
    pub(crate) repository: Option<String>,
    pub(crate) stored: Option<Stored>,
}

impl PyChangelog {
    /// A changelog the core's entry point made: generated from commits, or written by hand.
    pub(crate) fn from_generated(generated: Generated) -> Self {
        let Generated {
            changelog,
            content,
            source,
            tags,
            commit_range,
            repository,
        } = generated;
        Self {
            document: changelog,
            content: content.map_or_else(OnceLock::new, OnceLock::from),
            tags,
            source,
            commit_range,
            repository,
            stored: None,
        }
    }

    /// A changelog as a store holds it. The stored title and version win over the document's
    /// (an update may have changed them); a record without a document gets an empty one.
    pub(crate) fn from_record(record: ChangelogRecord) -> Self {
        let mut document = record.document.unwrap_or_else(|| {
            manual_document(
                record.title.clone(),
                record.version.clone(),
                Style::default(),
            )
        });
        document.title = record.title;
        document.version = record.version;
        Self {
            document,
            content: OnceLock::from(record.content),
            tags: record.tags,
            source: record.source,
            commit_range: record.commit_range,
            repository: record.repository,
            stored: Some(Stored {
                id: record.id,
                owner_id: record.owner_id,
                revision: record.revision,
                is_public: record.is_public,
                created_at: record.created_at,
                updated_at: record.updated_at,
            }),
        }
    }

    /// The Markdown.
    pub(crate) fn markdown(&self) -> &str {
        self.content
            .get_or_init(|| changelog_core::render::markdown(&self.document))
    }

    /// The document as the CLI's `--format json` prints it.
    pub(crate) fn json(&self) -> Result<String, Failure> {
        Ok(changelog_core::render::json(&self.document)?)
    }
}

#[pymethods]
impl PyChangelog {
    /// The document's title (`Changelog` unless given).
    #[getter]
    fn title(&self) -> &str {
        &self.document.title
    }

    /// The release's version: given, or the tag at the end of the range.
    #[getter]
    fn version(&self) -> Option<&str> {
        self.document.version.as_deref()
    }

    /// The date of the release: the commit date of the range's end.
    #[getter]
    fn date(&self) -> Option<NaiveDate> {
        self.document.date
    }

    /// Tags, as given (a store normalises them: lowercased, sorted, without duplicates).
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.tags.clone()
    }

    /// The changelog in Markdown (for a manual changelog, the content as given).
    #[getter]
    fn content(&self) -> &str {
        self.markdown()
    }

    /// Sections in the style's order, each with its entries (empty for a manual changelog).
    #[getter]
    fn sections(&self) -> Vec<PySection> {
        self.document
            .sections
            .iter()
            .cloned()
            .map(|section| PySection { section })
            .collect()
    }

    /// The layout the sections follow: `conventional` or `keep-a-changelog`.
    #[getter]
    fn style(&self) -> &'static str {
        self.document.style.name()
    }

    /// What went in and what was left out.
    #[getter]
    fn stats(&self) -> PyStats {
        PyStats::from(&self.document.stats)
    }

    /// The model that wrote the entries (LLM path only).
    #[getter]
    fn model(&self) -> Option<&str> {
        self.document.model.as_deref()
    }

    /// Tokens, requests and cost (LLM path only).
    #[getter]
    fn usage(&self) -> Option<PyUsage> {
        self.document.usage.as_ref().map(PyUsage::from)
    }

    /// What checking the model's answer found (LLM path only).
    #[getter]
    fn verification(&self) -> Option<PyVerification> {
        self.document
            .verification
            .as_ref()
            .map(PyVerification::from)
    }

    /// `git` (generated from commits) or `manual` (written by hand).
    #[getter]
    fn source(&self) -> &'static str {
        self.source.as_str()
    }

    /// The range read, as resolved (`v1.0.0..v1.1.0`), or as given for a manual changelog.
    #[getter]
    fn commit_range(&self) -> Option<&str> {
        self.commit_range.as_deref()
    }

    /// The repository's web URL when `origin` is on GitHub or GitLab, else `repo_url` as given
    /// (credentials removed).
    #[getter]
    fn repository(&self) -> Option<&str> {
        self.repository.as_deref()
    }

    /// The id in the store; `None` until saved.
    #[getter]
    fn id(&self) -> Option<String> {
        self.stored.as_ref().map(|s| s.id.to_string())
    }

    /// The revision in the store (1 when created, one more per update); `None` until saved.
    #[getter]
    fn revision(&self) -> Option<i64> {
        self.stored.as_ref().map(|s| s.revision)
    }

    /// Whether anyone may read it (stored changelogs); `False` until saved.
    #[getter]
    fn is_public(&self) -> bool {
        self.stored.as_ref().is_some_and(|s| s.is_public)
    }

    /// The owner's id in the store; `None` until saved.
    #[getter]
    fn owner_id(&self) -> Option<String> {
        self.stored.as_ref().map(|s| s.owner_id.to_string())
    }

    /// When it was stored; `None` until saved.
    #[getter]
    fn created_at(&self) -> Option<DateTime<Utc>> {
        self.stored.as_ref().map(|s| s.created_at)
    }

    /// When it last changed in the store; `None` until saved.
    #[getter]
    fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.stored.as_ref().map(|s| s.updated_at)
    }

    /// The document as a dict: exactly what `changelog generate --format json` prints.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = self.json().into_py_result(py)?;
        json_loads(py, &text)
    }

    /// The document as JSON, byte for byte what `changelog generate --format json` prints.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        self.json().into_py_result(py)
    }

    /// The changelog in Markdown, as `changelog generate` prints it (a manual changelog's
    /// content as given).
    fn to_markdown(&self) -> &str {
        self.markdown()
    }

    fn __repr__(&self) -> String {
        let mut repr = format!(
            "Changelog(title={}, version={}, source={}, sections={}, entries={}",
            quote(&self.document.title),
            quote_option(self.document.version.as_deref()),
            quote(self.source.as_str()),
            self.document.sections.len(),
            self.document.entries().count(),
        );
        if let Some(stored) = &self.stored {
            let _ = write!(
                repr,
                ", id={}, revision={}",
                quote(&stored.id.to_string()),
                stored.revision
            );
        }
        repr.push(')');
        repr
    }
}

/// A titled group of entries (`Features`, `Bug Fixes`, `Added`...).
#[pyclass(name = "Section", module = "changelog", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PySection {
    section: Section,
}

#[pymethods]
impl PySection {
    /// The heading.
    #[getter]
    fn title(&self) -> &str {
        &self.section.title
    }

    /// The entries, oldest change first.
    #[getter]
    fn entries(&self) -> Vec<PyEntry> {
        self.section
            .entries
            .iter()
            .cloned()
            .map(|entry| PyEntry { entry })
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "Section(title={}, entries={})",
            quote(&self.section.title),
            self.section.entries.len()
        )
    }
}

/// One line of a changelog, citing the commits it summarises.
#[pyclass(name = "Entry", module = "changelog", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyEntry {
    entry: Entry,
}

#[pymethods]
impl PyEntry {
    /// What changed.
    #[getter]
    fn text(&self) -> &str {
        &self.entry.text
    }

    /// Full ids of the commits it summarises; never empty.
    #[getter]
    fn commits(&self) -> Vec<String> {
        self.entry.commits.clone()
    }

    /// Whether it breaks compatibility.
    #[getter]
    fn breaking(&self) -> bool {
        self.entry.breaking
    }

    /// The Conventional Commits scope (`api`), if any.
    #[getter]
    fn scope(&self) -> Option<&str> {
        self.entry.scope.as_deref()
    }

    /// Issue and pull request references (`#12`, `group/project!34`).
    #[getter]
    fn refs(&self) -> Vec<String> {
        self.entry.refs.clone()
    }

    /// Who made the change.
    #[getter]
    fn authors(&self) -> Vec<PyAuthor> {
        self.entry.authors.iter().map(PyAuthor::from).collect()
    }

    /// The kind of change (`feature`, `fix`, `performance`, ...).
    #[getter]
    fn kind(&self) -> String {
        serde_name(&self.entry.kind)
    }

    /// Explanations of the breaking change (from `BREAKING CHANGE:` footers).
    #[getter]
    fn breaking_notes(&self) -> Vec<String> {
        self.entry.breaking_notes.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "Entry(text={}, commits={}, breaking={})",
            quote(&self.entry.text),
            self.entry.commits.len(),
            if self.entry.breaking { "True" } else { "False" }
        )
    }
}

/// A person credited for an entry.
#[pyclass(name = "Author", module = "changelog", frozen, eq, get_all)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyAuthor {
    /// Display name.
    name: String,
    /// E-mail address.
    email: String,
}

impl From<&Author> for PyAuthor {
    fn from(author: &Author) -> Self {
        Self {
            name: author.name.clone(),
            email: author.email.clone(),
        }
    }
}

#[pymethods]
impl PyAuthor {
    fn __repr__(&self) -> String {
        format!(
            "Author(name={}, email={})",
            quote(&self.name),
            quote(&self.email)
        )
    }
}

/// Counts of what went into a changelog and what was left out.
#[pyclass(name = "Stats", module = "changelog", frozen, eq, get_all)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyStats {
    /// Commits read from the range (merges included).
    commits: usize,
    /// Entries written.
    entries: usize,
    /// Merge commits.
    merges: usize,
    /// `fixup!`, `squash!` and `amend!` commits.
    fixups: usize,
    /// Release and version bumps.
    release_bumps: usize,
    /// Commits with an empty message.
    empty: usize,
    /// Commits left out because both they and their revert are in the range.
    reverted: usize,
    /// Commits of kinds the style does not show.
    hidden: usize,
    /// Commits folded into an entry with the same section, scope and text.
    duplicates: usize,
}

impl From<&Stats> for PyStats {
    fn from(stats: &Stats) -> Self {
        Self {
            commits: stats.commits,
            entries: stats.entries,
            merges: stats.merges,
            fixups: stats.fixups,
            release_bumps: stats.release_bumps,
            empty: stats.empty,
            reverted: stats.reverted,
            hidden: stats.hidden,
            duplicates: stats.duplicates,
        }
    }
}

#[pymethods]
impl PyStats {
    fn __repr__(&self) -> String {
        format!(
            "Stats(commits={}, entries={}, merges={}, hidden={})",
            self.commits, self.entries, self.merges, self.hidden
        )
    }
}

/// Tokens, requests and cost of a generation with a language model.
#[pyclass(name = "Usage", module = "changelog", frozen, eq, get_all)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyUsage {
    /// Prompt tokens, as the provider counted them (cached answers excluded).
    input_tokens: u64,
    /// Answer tokens.
    output_tokens: u64,
    /// Requests sent to the provider.
    requests: usize,
    /// Requests answered from the cache.
    cached_requests: usize,
    /// Price of the tokens in US dollars; `None` when a model's price is not known.
    cost_usd: Option<f64>,
    /// Answers cut short by the output token limit.
    truncated_answers: usize,
    /// Chunks the range was split into.
    chunks: usize,
    /// Rounds of merging partial changelogs.
    merge_rounds: usize,
}

impl From<&UsageReport> for PyUsage {
    fn from(usage: &UsageReport) -> Self {
        Self {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            requests: usage.requests,
            cached_requests: usage.cached_requests,
            cost_usd: usage.cost_usd,
            truncated_answers: usage.truncated_answers,
            chunks: usage.chunks,
            merge_rounds: usage.merge_rounds,
        }
    }
}

#[pymethods]
impl PyUsage {
    fn __repr__(&self) -> String {
        format!(
            "Usage(input_tokens={}, output_tokens={}, requests={}, cost_usd={})",
            self.input_tokens,
            self.output_tokens,
            self.requests,
            price(self.cost_usd)
        )
    }
}

/// What checking a model's answer found.
#[pyclass(name = "Verification", module = "changelog", frozen, eq, get_all)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyVerification {
    /// Entries of the answer that were dropped.
    dropped_entries: usize,
    /// Each dropped entry's text and the reason it was dropped.
    dropped: Vec<(String, String)>,
    /// Full ids of user-facing commits that no kept entry cites.
    uncited_commits: Vec<String>,
    /// Share of the user-facing commits cited by a kept entry (1.0 when there are none).
    coverage: f64,
}

impl From<&Verification> for PyVerification {
    fn from(verification: &Verification) -> Self {
        Self {
            dropped_entries: verification.dropped_entries,
            dropped: verification
                .dropped
                .iter()
                .map(|d| (d.text.clone(), d.reason.clone()))
                .collect(),
            uncited_commits: verification.uncited_commits.clone(),
            coverage: verification.coverage,
        }
    }
}

#[pymethods]
impl PyVerification {
    fn __repr__(&self) -> String {
        format!(
            "Verification(dropped_entries={}, uncited_commits={}, coverage={})",
            self.dropped_entries,
            self.uncited_commits.len(),
            self.coverage
        )
    }
}

/// What a generation with a language model will cost, known before anything is sent.
#[pyclass(name = "Estimate", module = "changelog", frozen)]
#[derive(Debug, Clone)]
pub(crate) struct PyEstimate {
    pub(crate) estimate: Estimate,
}

#[pymethods]
impl PyEstimate {
    /// The model the plan is counted for.
    #[getter]
    fn model(&self) -> &str {
        &self.estimate.model
    }

    /// Prompt tokens of every request.
    #[getter]
    fn input_tokens(&self) -> u64 {
        self.estimate.input_tokens
    }

    /// The most answer tokens all requests together may use.
    #[getter]
    fn max_output_tokens(&self) -> u64 {
        self.estimate.max_output_tokens
    }

    /// Requests: one, or the chunks plus the merges.
    #[getter]
    fn requests(&self) -> usize {
        self.estimate.requests
    }

    /// Upper bound of the price in US dollars (every answer counted at its largest); `None`
    /// when the model's price is not known.
    #[getter]
    fn cost_usd(&self) -> Option<f64> {
        self.estimate.cost_usd
    }

    /// Chunks of commits (1 when the range fits one request, 0 for an empty range).
    #[getter]
    fn chunks(&self) -> usize {
        self.estimate.chunks
    }

    /// Rounds of merging.
    #[getter]
    fn merge_rounds(&self) -> usize {
        self.estimate.merge_rounds
    }

    /// How much of each commit the prompts show (`full`, `trimmed`, ...).
    #[getter]
    fn detail(&self) -> String {
        serde_name(&self.estimate.detail)
    }

    /// The estimate as a dict: what `changelog generate --estimate --format json` prints.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.estimate)
    }

    fn __repr__(&self) -> String {
        format!(
            "Estimate(model={}, requests={}, input_tokens={}, max_output_tokens={}, cost_usd={})",
            quote(&self.estimate.model),
            self.estimate.requests,
            self.estimate.input_tokens,
            self.estimate.max_output_tokens,
            price(self.estimate.cost_usd)
        )
    }
}

/// A price as Python shows it: the number, or `None` when it is not known.
fn price(cost_usd: Option<f64>) -> String {
    cost_usd.map_or_else(|| "None".to_owned(), |cost| cost.to_string())
}
