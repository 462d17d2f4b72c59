//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the core. Each variant names the input it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The given path does not exist.
    #[error("`{}` does not exist", path.display())]
    PathNotFound {
        /// The path as given.
        path: PathBuf,
    },

    /// The given path exists but is not inside a git repository.
    #[cfg(feature = "git")]
    #[error("`{}` is not a git repository", path.display())]
    NotARepository {
        /// The path as given.
        path: PathBuf,
        /// What libgit2 said.
        #[source]
        source: git2::Error,
    },

    /// The repository has no commit yet, so there is no history to read.
    #[error("the repository at `{}` has no commits yet (HEAD is unborn)", path.display())]
    UnbornHead {
        /// The repository's path.
        path: PathBuf,
    },

    /// A tag, branch or commit named in a range does not exist.
    #[error("unknown revision `{rev}`: no tag, branch or commit of that name")]
    UnknownRevision {
        /// The revision as named.
        rev: String,
    },

    /// A revision that names a tree or a blob rather than a commit.
    #[error("`{rev}` does not point to a commit")]
    NotACommit {
        /// The revision as named.
        rev: String,
    },

    /// A range specification that cannot be read.
    #[error("invalid range `{spec}`: {reason}")]
    InvalidRange {
        /// The range as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A date that cannot be read.
    #[error("invalid date `{input}`: expected YYYY-MM-DD or an RFC 3339 timestamp")]
    InvalidDate {
        /// The date as given.
        input: String,
    },

    /// A path filter that is not relative to the repository root.
    #[error("invalid path filter `{path}`: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A style or format name that is not known.
    #[error("unknown {what} `{name}`: expected one of {expected}")]
    UnknownName {
        /// What was being named (`style`, `format`).
        what: &'static str,
        /// The name as given.
        name: String,
        /// The known names.
        expected: &'static str,
    },

    /// A prompt template that cannot be compiled or rendered.
    #[error("invalid prompt template: {message}")]
    Template {
        /// What the template engine said.
        message: String,
    },

    /// A token budget too small for the request's fixed parts.
    #[error(
        "a budget of {budget} input tokens cannot hold {what} ({needed} tokens); raise --max-input-tokens"
    )]
    Budget {
        /// The budget.
        budget: usize,
        /// What did not fit.
        what: &'static str,
        /// Its size.
        needed: usize,
    },

    /// A repository location that the repository policy does not allow (a scheme, a host, an
    /// address or a local path), refused before any connection is made or any file opened.
    #[error("repository `{location}` refused: {reason}")]
    RepositoryRefused {
        /// The location, without credentials.
        location: String,
        /// Why it is refused.
        reason: String,
    },

    /// Cloning a repository failed.
    #[error("cannot clone `{location}`: {reason}")]
    CloneFailed {
        /// The location, without credentials.
        location: String,
        /// What failed (git's message, without credentials).
        reason: String,
    },

    /// A clone ran past the policy's time limit and was stopped.
    #[error("cloning `{location}` took longer than {seconds} s and was stopped")]
    CloneTimedOut {
        /// The location, without credentials.
        location: String,
        /// The time limit, in seconds.
        seconds: f64,
    },

    /// A clone grew past the policy's size cap and was stopped.
    #[error("cloning `{location}` was stopped: the repository is larger than {limit} bytes")]
    CloneTooLarge {
        /// The location, without credentials.
        location: String,
        /// The cap, in bytes.
        limit: u64,
    },

    /// A language model request failed.
    #[error(transparent)]
    Llm(#[from] crate::llm::LlmError),

    /// libgit2 failed while reading the repository.
    #[cfg(feature = "git")]
    #[error("{context}")]
    Git {
        /// What was being done.
        context: String,
        /// What libgit2 said.
        #[source]
        source: git2::Error,
    },

    /// Serialising a changelog failed.
    #[error("cannot serialise the changelog")]
    Serialize(#[from] serde_json::Error),

    /// A background task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
}

impl Error {
    /// Whether the error is about how the input was written (a malformed range, date, path or
    /// style), as opposed to what it refers to or the environment. Command-line front ends use
    /// it to choose their exit status.
    #[must_use]
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::InvalidRange { .. }
                | Self::InvalidDate { .. }
                | Self::InvalidPath { .. }
                | Self::UnknownName { .. }
                | Self::Template { .. }
        )
    }
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
