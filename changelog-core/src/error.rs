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

    /// A request whose field cannot be used as given (see [`crate::request::Request::check`]).
    #[error("invalid {field}: {reason}")]
    InvalidRequest {
        /// The request's field (`temperature`, `style`, `content`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
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

    /// The model's answer kept no entry although the range has user-facing commits: an empty
    /// answer, or one whose every bullet was dropped. Such an answer is not cached.
    #[error(
        "model `{model}` gave no usable entry for {commits} user-facing commits: {came_back}; ask again, try another model, or pass --on-empty deterministic for the changelog written without a model"
    )]
    EmptyAnswer {
        /// The model that answered.
        model: String,
        /// The user-facing commits the answer should have covered.
        commits: usize,
        /// What came back (an empty answer, or bullets and why they were dropped).
        came_back: String,
    },

    /// A configuration file (`changelog.toml`) that cannot be read or used: malformed TOML, an
    /// unknown key, a value of the wrong type, a bad regular expression or template. The
    /// message names the file, the line when there is one, and the key.
    #[error("{}", config_message(path, *line, message))]
    Config {
        /// The file.
        path: PathBuf,
        /// The line (1-based) the problem is on, when it is on one.
        line: Option<usize>,
        /// What is wrong (for an unknown key, toml's message naming it).
        message: String,
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

    /// Grafts (`.git/info/grafts`) or replacements make a commit its own ancestor, so the
    /// history has no order and no range of it can be read whole.
    #[cfg(feature = "git")]
    #[error(
        "the history of `{}` is a cycle through commit {commit}: a graft (`.git/info/grafts`) or a replacement (`refs/replace/`) makes it its own ancestor; remove it to read this range",
        path.display()
    )]
    HistoryCycle {
        /// The repository's path.
        path: PathBuf,
        /// A commit on the cycle.
        commit: String,
    },

    /// A shallow clone whose history stops inside the range.
    #[cfg(feature = "git")]
    #[error(
        "the history of `{}` is shallow and stops inside the range, at commit {commit}: the \
         commits before it are not in this clone, so the changelog would miss them; fetch them \
         (`git fetch --unshallow`), or accept a partial changelog with --allow-shallow",
        path.display()
    )]
    ShallowHistory {
        /// The repository's path.
        path: PathBuf,
        /// The commit whose parents the clone does not have.
        commit: String,
    },

    /// A stored object cannot be read: its compressed data is cut short or damaged.
    #[cfg(feature = "git")]
    #[error("object {id} of the repository at `{}` is corrupt (`{}`): {reason}", repository.display(), file.display())]
    CorruptObject {
        /// The repository's path.
        repository: PathBuf,
        /// The object's id.
        id: String,
        /// The file that holds it.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A file cannot be read or written (a changelog file given to write into).
    #[error("cannot write into `{}`", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What the file system said, or what is wrong with the file.
        #[source]
        source: std::io::Error,
    },

    /// Serialising a changelog failed.
    #[error("cannot serialise the changelog")]
    Serialize(#[from] serde_json::Error),

    /// A background task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
}

fn config_message(path: &std::path::Path, line: Option<usize>, message: &str) -> String {
    match line {
        Some(line) => format!("`{}`, line {line}: {message}", path.display()),
        None => format!("`{}`: {message}", path.display()),
    }
}

/// What kind of failure an error is, for front ends that map failures to something of their
/// own: the CLI to an exit status, the Python module to an exception class, the server to an HTTP
/// status. Each front end maps this one value once instead of classifying messages.
///
/// | kind | CLI exit | Python | HTTP |
/// |---|---|---|---|
/// | `InvalidInput` | 2 | `InvalidArgumentError` | 422 |
/// | `NotFound` | 1 | `SourceError` / `NotFoundError` | 404 (422 in a request body) |
/// | `Source` | 1 | `SourceError` | 422 |
/// | `Conflict` | 1 | `ConflictError` | 409 |
/// | `Provider` | 1 | `ProviderError` | 502 |
/// | `Budget` | 1 | `BudgetError` | 422 |
/// | `Internal` | 1 | `ChangelogError` / `StoreError` | 500 |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An input that is not valid as written: a malformed range, date, path filter, style name,
    /// template, configuration file or argument.
    InvalidInput,
    /// Something the input names does not exist: a path, a revision, a record.
    NotFound,
    /// The history cannot be had: not a repository, no commits yet, a repository that cannot be
    /// read or cloned, or one that the repository policy refuses.
    Source,
    /// The request conflicts with the current state: a stale revision, a value already taken.
    Conflict,
    /// The language model provider failed.
    Provider,
    /// The token budget cannot hold the request.
    Budget,
    /// A failure of the machine or the program: I/O, a background task, serialisation.
    Internal,
}

impl Error {
    /// The kind of failure (see [`ErrorKind`] for how each front end maps it).
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidRange { .. }
            | Self::InvalidDate { .. }
            | Self::InvalidPath { .. }
            | Self::UnknownName { .. }
            | Self::Template { .. }
            | Self::Config { .. }
            | Self::InvalidRequest { .. } => ErrorKind::InvalidInput,
            Self::PathNotFound { .. } | Self::UnknownRevision { .. } => ErrorKind::NotFound,
            #[cfg(feature = "git")]
            Self::NotARepository { .. } | Self::Git { .. } => ErrorKind::Source,
            #[cfg(feature = "git")]
            Self::HistoryCycle { .. }
            | Self::CorruptObject { .. }
            | Self::ShallowHistory { .. } => ErrorKind::Source,
            Self::RepositoryRefused { .. }
            | Self::CloneFailed { .. }
            | Self::CloneTimedOut { .. }
            | Self::CloneTooLarge { .. } => ErrorKind::Source,
            Self::UnbornHead { .. } | Self::NotACommit { .. } => ErrorKind::Source,
            Self::Budget { .. } => ErrorKind::Budget,
            Self::Llm(_) | Self::EmptyAnswer { .. } => ErrorKind::Provider,
            Self::File { .. } | Self::Serialize(_) | Self::Task(_) => ErrorKind::Internal,
        }
    }

    /// Whether the error is about how the input was written (a malformed range, date, path or
    /// style), as opposed to what it refers to or the environment. Command-line front ends use
    /// it to choose their exit status.
    #[must_use]
    pub fn is_usage(&self) -> bool {
        self.kind() == ErrorKind::InvalidInput
    }
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_core_and_store_errors() {
        let range = Error::InvalidRange {
            spec: "a..b..c".into(),
            reason: "two `..`".into(),
        };
        assert_eq!(range.kind(), ErrorKind::InvalidInput);
        assert!(range.is_usage());
        let revision = Error::UnknownRevision { rev: "v9".into() };
        assert_eq!(revision.kind(), ErrorKind::NotFound);
        assert!(!revision.is_usage());
        let budget = Error::Budget {
            budget: 10,
            what: "the instructions",
            needed: 900,
        };
        assert_eq!(budget.kind(), ErrorKind::Budget);
        let provider = Error::Llm(crate::llm::LlmError::Timeout {
            provider: "openai".into(),
            seconds: 120,
        });
        assert_eq!(provider.kind(), ErrorKind::Provider);

        use crate::store::StoreError;
        let stale = StoreError::Conflict {
            expected: 1,
            actual: 2,
        };
        assert_eq!(stale.kind(), ErrorKind::Conflict);
        let taken = StoreError::Duplicate {
            field: "email".into(),
        };
        assert_eq!(taken.kind(), ErrorKind::Conflict);
        let missing = StoreError::NotFound {
            entity: "changelog",
            id: "x".into(),
        };
        assert_eq!(missing.kind(), ErrorKind::NotFound);
    }
}
