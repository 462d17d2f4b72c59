//! The exception hierarchy and the one conversion from the engine's errors to it.
//!
//! ```text
//! Exception
//! └── ChangelogError
//!     ├── SourceError              a repository, clone URL or range that is refused or unreadable
//!     │   └── InvalidRangeError    (also InvalidArgumentError) a malformed range, date or path
//!     ├── InvalidArgumentError     (also ValueError) an argument that is not valid as written
//!     ├── ProviderError            the language model failed; `.retryable`, `.status`
//!     ├── BudgetError              the token budget cannot hold the request
//!     └── StoreError               the store failed
//!         ├── ConflictError        a stale revision, a value already taken; `.expected`, `.actual`
//!         └── NotFoundError        (also LookupError) no such changelog
//! ```
//!
//! Exceptions with two bases cannot be declared with `create_exception!`; they are created
//! once, when the module is initialised, by calling `type(name, bases, namespace)`.

use std::fmt::Write as _;

use changelog_core::llm::LlmError;
use changelog_core::store::StoreError as CoreStoreError;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyLookupError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

create_exception!(
    changelog,
    ChangelogError,
    PyException,
    "Base class of every error the changelog engine raises."
);
create_exception!(
    changelog,
    SourceError,
    ChangelogError,
    "The commit history cannot be read: a repo_url the repository policy refuses, a path that \
     is not a repository, a clone URL that cannot be cloned in time, an unknown tag, branch \
     or commit in the range."
);
create_exception!(
    changelog,
    ProviderError,
    ChangelogError,
    "The language model provider failed. `retryable` tells whether the same request may \
     succeed later (timeouts, 429, 5xx); `status` is the HTTP status, if there was one."
);
create_exception!(
    changelog,
    BudgetError,
    ChangelogError,
    "The token budget (max_input_tokens) is too small for the request's fixed parts."
);
create_exception!(
    changelog,
    StoreError,
    ChangelogError,
    "The store failed: it cannot be opened or reached, or a row cannot be read."
);
create_exception!(
    changelog,
    ConflictError,
    StoreError,
    "An update named a revision that is no longer the current one (`expected`, `actual`), \
     or a value that must be unique is already taken."
);

static INVALID_ARGUMENT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static INVALID_RANGE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static NOT_FOUND: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Creates an exception class with several bases, as a `class` statement would.
fn new_class<'py>(
    py: Python<'py>,
    name: &str,
    doc: &str,
    bases: &[Bound<'py, PyType>],
) -> PyResult<Py<PyType>> {
    let namespace = PyDict::new(py);
    namespace.set_item("__module__", "changelog")?;
    namespace.set_item("__doc__", doc)?;
    let class = py
        .get_type::<PyType>()
        .call1((name, PyTuple::new(py, bases)?, namespace))?;
    Ok(class.cast_into::<PyType>()?.unbind())
}

/// Adds the exceptions to the module, with the class attributes the stubs declare.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let invalid_argument = INVALID_ARGUMENT.get_or_try_init(py, || {
        new_class(
            py,
            "InvalidArgumentError",
            "An argument that is not valid as written (an unknown style or provider, a \
             malformed date, a negative limit...). Also a ValueError.",
            &[
                py.get_type::<ChangelogError>(),
                py.get_type::<PyValueError>(),
            ],
        )
    })?;
    let invalid_range = INVALID_RANGE.get_or_try_init(py, || {
        new_class(
            py,
            "InvalidRangeError",
            "A range, date or path filter that cannot be read. Both a SourceError and an \
             InvalidArgumentError (so also a ValueError).",
            &[
                py.get_type::<SourceError>(),
                invalid_argument.bind(py).clone(),
            ],
        )
    })?;
    let not_found = NOT_FOUND.get_or_try_init(py, || {
        new_class(
            py,
            "NotFoundError",
            "No changelog (or revision) with that id. Also a LookupError.",
            &[py.get_type::<StoreError>(), py.get_type::<PyLookupError>()],
        )
    })?;

    let provider = py.get_type::<ProviderError>();
    provider.setattr("retryable", false)?;
    provider.setattr("status", py.None())?;
    let conflict = py.get_type::<ConflictError>();
    conflict.setattr("expected", py.None())?;
    conflict.setattr("actual", py.None())?;

    module.add("ChangelogError", py.get_type::<ChangelogError>())?;
    module.add("SourceError", py.get_type::<SourceError>())?;
    module.add("InvalidArgumentError", invalid_argument.bind(py))?;
    module.add("InvalidRangeError", invalid_range.bind(py))?;
    module.add("ProviderError", provider)?;
    module.add("BudgetError", py.get_type::<BudgetError>())?;
    module.add("StoreError", py.get_type::<StoreError>())?;
    module.add("ConflictError", conflict)?;
    module.add("NotFoundError", not_found.bind(py))?;
    Ok(())
}

/// What went wrong, before it becomes a Python exception (which needs the interpreter).
#[derive(Debug)]
pub(crate) enum Failure {
    /// An error of the core (sources, parsing, the LLM pipeline).
    Core(changelog_core::Error),
    /// An error of a store operation.
    Store(CoreStoreError),
    /// A store that cannot be opened.
    Open(changelog_store::Error),
    /// An argument that is not valid as written.
    Argument(String),
    /// A background task that panicked or was cancelled.
    Task(String),
}

impl From<changelog_core::Error> for Failure {
    fn from(error: changelog_core::Error) -> Self {
        Self::Core(error)
    }
}

impl From<LlmError> for Failure {
    fn from(error: LlmError) -> Self {
        Self::Core(error.into())
    }
}

impl From<CoreStoreError> for Failure {
    fn from(error: CoreStoreError) -> Self {
        Self::Store(error)
    }
}

impl From<changelog_store::Error> for Failure {
    fn from(error: changelog_store::Error) -> Self {
        Self::Open(error)
    }
}

/// The error's message followed by its causes: `message (caused by: a: b)`.
fn message_with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut causes = Vec::new();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        // Wrapping errors often repeat their source's text: keep each text once.
        let said = causes.last().unwrap_or(&message);
        if !said.contains(&text) {
            causes.push(text);
        }
        cause = inner.source();
    }
    if !causes.is_empty() {
        let _ = write!(message, " (caused by: {})", causes.join(": "));
    }
    message
}

fn instance(class: &Bound<'_, PyType>, message: String) -> PyErr {
    match class.call1((message,)) {
        Ok(value) => PyErr::from_value(value),
        Err(error) => error,
    }
}

/// An `InvalidArgumentError` (also a `ValueError`) with this message.
pub(crate) fn invalid_argument(py: Python<'_>, message: String) -> PyErr {
    match INVALID_ARGUMENT.get(py) {
        Some(class) => instance(class.bind(py), message),
        None => PyValueError::new_err(message),
    }
}

fn provider_error(py: Python<'_>, error: &LlmError) -> PyErr {
    let err = ProviderError::new_err(message_with_causes(error));
    let value = err.value(py);
    let status = match error {
        LlmError::Status { status, .. } => Some(*status),
        LlmError::Exhausted { last } => match last.as_ref() {
            LlmError::Status { status, .. } => Some(*status),
            _ => None,
        },
        _ => None,
    };
    let retryable = match error {
        // The last failure of a fallback chain says whether trying again may help.
        LlmError::Exhausted { last } => last.is_retryable(),
        _ => error.is_retryable(),
    };
    if let Err(e) = value
        .setattr("retryable", retryable)
        .and_then(|()| value.setattr("status", status))
    {
        return e;
    }
    err
}

impl Failure {
    /// The Python exception for this failure.
    pub(crate) fn into_pyerr(self, py: Python<'_>) -> PyErr {
        use changelog_core::Error as E;
        match self {
            Self::Core(E::Llm(error)) => provider_error(py, &error),
            Self::Core(error @ E::Budget { .. }) => BudgetError::new_err(error.to_string()),
            Self::Core(
                error @ (E::InvalidRange { .. } | E::InvalidDate { .. } | E::InvalidPath { .. }),
            ) => match INVALID_RANGE.get(py) {
                Some(class) => instance(class.bind(py), error.to_string()),
                None => SourceError::new_err(error.to_string()),
            },
            Self::Core(error) if error.is_usage() => invalid_argument(py, error.to_string()),
            Self::Core(
                error @ (E::PathNotFound { .. }
                | E::NotARepository { .. }
                | E::UnbornHead { .. }
                | E::UnknownRevision { .. }
                | E::NotACommit { .. }
                | E::HistoryCycle { .. }
                | E::CorruptObject { .. }
                | E::RepositoryRefused { .. }
                | E::CloneFailed { .. }
                | E::CloneTimedOut { .. }
                | E::CloneTooLarge { .. }
                | E::Git { .. }),
            ) => SourceError::new_err(message_with_causes(&error)),
            Self::Core(error) => ChangelogError::new_err(message_with_causes(&error)),
            Self::Store(CoreStoreError::Conflict { expected, actual }) => {
                let error = CoreStoreError::Conflict { expected, actual };
                let err = ConflictError::new_err(error.to_string());
                let value = err.value(py);
                if let Err(e) = value
                    .setattr("expected", expected)
                    .and_then(|()| value.setattr("actual", actual))
                {
                    return e;
                }
                err
            }
            Self::Store(error @ CoreStoreError::Duplicate { .. }) => {
                ConflictError::new_err(error.to_string())
            }
            Self::Store(error @ CoreStoreError::NotFound { .. }) => match NOT_FOUND.get(py) {
                Some(class) => instance(class.bind(py), error.to_string()),
                None => StoreError::new_err(error.to_string()),
            },
            Self::Store(error @ CoreStoreError::Invalid { .. }) => {
                invalid_argument(py, error.to_string())
            }
            Self::Store(error) => StoreError::new_err(message_with_causes(&error)),
            Self::Open(changelog_store::Error::UnsupportedUrl { location, .. }) => {
                invalid_argument(
                    py,
                    format!(
                        "unsupported store URL `{location}`: expected sqlite:///PATH or \
                     postgres://..."
                    ),
                )
            }
            Self::Open(error) => StoreError::new_err(message_with_causes(&error)),
            Self::Argument(message) => invalid_argument(py, message),
            Self::Task(message) => ChangelogError::new_err(message),
        }
    }
}

/// Turns a result's failure into a Python exception.
pub(crate) trait IntoPyResult<T> {
    /// The result with its error converted.
    fn into_py_result(self, py: Python<'_>) -> PyResult<T>;
}

impl<T, E: Into<Failure>> IntoPyResult<T> for Result<T, E> {
    fn into_py_result(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| e.into().into_pyerr(py))
    }
}
