//! The core of the changelog engine: commit history in, structured changelog out.
//!
//! ```text
//! CommitSource ──commits──> parse ──ParsedCommit──> build ──Changelog──> render (Markdown, JSON)
//! ```
//!
//! Modules form layers; each depends only on those above it in this list:
//!
//! - [`error`]: the crate's error and its [`ErrorKind`], which front ends map once.
//! - [`commit`]: commits, ranges and histories as a source reads them (plain data).
//! - [`source`]: where commits come from ([`source::CommitSource`]; the local git source on
//!   libgit2 behind the `git` feature).
//! - [`parse`]: what a message says: Conventional Commits 1.0, trailers, references, reverts,
//!   co-authors, and a documented heuristic for plain messages.
//! - [`changelog`]: the structured document (sections of entries, each entry citing its
//!   commits), its styles, and the usage and verification reports of the LLM path (plain data).
//! - [`version`]: versions and release tags: which tags are releases, and the next version.
//! - [`build`]: the deterministic grouping of parsed commits into a changelog.
//! - [`config`]: `changelog.toml`, a repository's settings (style, sections, skip rules, tags,
//!   bumps, link templates), read and checked into a [`Config`].
//! - [`render`]: Markdown and JSON, byte-for-byte reproducible, offline; git text is escaped
//!   so that it never becomes markup or a link.
//! - [`document`]: changelog files that exist (ours, keep-a-changelog, conventional-changelog,
//!   git-cliff) read into releases and entries, and releases written into them in place,
//!   keeping hand edits ([`document::prepend`]).
//! - The LLM path on top: [`budget`], [`prompt`], [`llm`], [`verify`], [`pipeline`].
//! - [`store`]: what the server and the bindings persist, as traits.
//! - [`redact`]: credentials taken out of URLs and text before they are shown or stored.
//! - [`source::git::obtain`] (feature `git`): the one way a repository is obtained (a local
//!   path or a clone), under a [`source::git::RepoPolicy`].
//!
//! [`file`] (atomic writes of a file) and [`text`] (control and bidirectional-control
//! characters removed from git-derived text) are leaves every layer may use.
//!
//! The crates of the workspace depend on each other in one direction:
//!
//! ```text
//! changelog-http (server + `changelog` binary) ──> changelog-store (sqlx) ──> changelog-core
//! bindings-python (PyO3) ──────────────────────────> changelog-store (sqlx) ──> changelog-core
//! ```
//!
//! The core knows nothing of HTTP, SQL or Python.
//!
//! # Example
//!
//! ```no_run
//! # async fn example() -> changelog_core::Result<()> {
//! use changelog_core::{BuildOptions, RangeQuery, source::git::GitSource};
//!
//! let source = GitSource::open(".")?;
//! let query = RangeQuery { range: Some("v0.1.0..v0.2.0".into()), ..RangeQuery::default() };
//! let changelog = changelog_core::generate(&source, &query, &BuildOptions::default()).await?;
//! print!("{}", changelog_core::render::markdown(&changelog));
//! # Ok(()) }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod budget;
pub mod build;
pub mod changelog;
pub mod commit;
pub mod config;
pub mod document;
pub mod error;
pub mod file;
pub mod files;
pub mod llm;
pub mod parse;
pub mod pipeline;
pub mod prompt;
/// Pull requests named by commit messages, in every common merge style.
pub mod pull_request;
pub mod redact;
pub mod render;
#[cfg(feature = "git")]
pub mod request;
pub mod source;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod verify;
pub mod version;

pub use build::{BuildOptions, build};
pub use changelog::{Author, Changelog, Entry, Section, Stats, Style};
pub use commit::{
    Commit, LinkTemplates, Range, RangeEnd, RangeQuery, ReleaseSelection, RemoteRepository,
    Signature, Trailer,
};
pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use parse::{Kind, ParsedCommit, parse_commit};
pub use render::Format;
pub use source::{CommitSource, History};

/// Reads a range from a source and builds its changelog, deterministically.
pub async fn generate(
    source: &dyn CommitSource,
    query: &RangeQuery,
    options: &BuildOptions,
) -> Result<Changelog> {
    let history = source.history(query).await?;
    Ok(build(history, options))
}
