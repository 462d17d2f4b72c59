//! `bump` and `abump`: the next version from the commits since the latest release, as
//! `changelog bump` prints it (the core's [`request::bump`]).

use std::path::PathBuf;

use changelog_core::RangeQuery;
use changelog_core::request::{self, Request};
use changelog_core::version::{BumpRules, Version, ZeroMajor};
use pyo3::prelude::*;

use crate::checkout::PolicyArguments;
use crate::errors::Failure;
use crate::wait::{awaitable, wait};

/// The next release: the latest release's tag, the next tag and version, how far the version
/// moves and the commits since the latest release.
#[pyclass(name = "Bump", module = "changelog", frozen)]
#[derive(Debug, Clone)]
pub(crate) struct PyBump {
    bump: request::Bump,
}

#[pymethods]
impl PyBump {
    /// The latest release's tag; `None` when there is no release yet.
    #[getter]
    fn latest(&self) -> Option<&str> {
        self.bump.latest.as_deref()
    }

    /// The next release's tag, the latest tag's prefix kept (`v1.3.0`, `tokio-1.53.0`); the
    /// latest tag itself when nothing users notice changed.
    #[getter]
    fn tag(&self) -> &str {
        &self.bump.tag
    }

    /// The next version alone (`1.3.0`).
    #[getter]
    fn version(&self) -> String {
        self.bump.version.to_string()
    }

    /// `"major"`, `"minor"`, `"patch"`, or `"none"` when nothing users notice changed.
    #[getter]
    fn level(&self) -> &'static str {
        self.bump.level.name()
    }

    /// The commits since the latest release.
    #[getter]
    fn commits(&self) -> usize {
        self.bump.commits
    }

    fn __repr__(&self) -> String {
        format!(
            "Bump(latest={:?}, tag={:?}, level={:?}, commits={})",
            self.bump.latest,
            self.bump.tag,
            self.bump.level.name(),
            self.bump.commits
        )
    }
}

/// The arguments, read into the core's request.
struct Call {
    request: Request,
    policy: changelog_core::source::git::RepoPolicy,
}

#[expect(
    clippy::too_many_arguments,
    reason = "the keyword arguments of `bump`, read into a request"
)]
fn call(
    repo_url: Option<PathBuf>,
    paths: Option<Vec<String>>,
    tag_prefix: Option<String>,
    tag_pattern: Option<String>,
    skip_tags: Option<String>,
    pre: Option<String>,
    initial: &str,
    zero_major: &str,
    policy: PolicyArguments,
) -> Result<Call, Failure> {
    let initial = Version::parse(initial).ok_or_else(|| {
        Failure::Argument(format!(
            "initial `{initial}` is not a version such as 0.1.0 or 1.0.0-rc.1"
        ))
    })?;
    let zero_major = match zero_major {
        "standard" => ZeroMajor::Standard,
        "cargo" => ZeroMajor::Cargo,
        other => {
            return Err(Failure::Argument(format!(
                "unknown zero_major `{other}`: expected \"standard\" or \"cargo\""
            )));
        }
    };
    let request = Request {
        repo_url: repo_url.map(|path| path.to_string_lossy().into_owned()),
        query: RangeQuery {
            paths: paths.unwrap_or_default(),
            tag_prefix,
            tag_pattern,
            skip_tags,
            ..RangeQuery::default()
        },
        bump: BumpRules {
            zero_major,
            initial,
            pre,
        },
        ..Request::default()
    };
    request.check()?;
    Ok(Call {
        request,
        policy: policy.policy(),
    })
}

impl Call {
    async fn run(self) -> Result<PyBump, Failure> {
        Ok(PyBump {
            bump: request::bump(&self.request, &self.policy).await?,
        })
    }
}

/// Declares `bump` or `abump`; `$call` is the checked [`Call`].
macro_rules! with_bump_arguments {
    ($(#[$attr:meta])* fn $name:ident($py:ident, $call:ident) -> $output:ty $body:block) => {
        $(#[$attr])*
        #[pyfunction]
        #[pyo3(signature = (
            *,
            repo_url = None,
            paths = None,
            tag_prefix = None,
            tag_pattern = None,
            skip_tags = None,
            pre = None,
            initial = "0.1.0",
            zero_major = "standard",
            allow_local = false,
            allowed_roots = None,
            allowed_hosts = None
        ))]
        #[expect(
            clippy::too_many_arguments,
            reason = "keyword arguments, as changelog bump's flags"
        )]
        pub(crate) fn $name<'py>(
            $py: Python<'py>,
            repo_url: Option<PathBuf>,
            paths: Option<Vec<String>>,
            tag_prefix: Option<String>,
            tag_pattern: Option<String>,
            skip_tags: Option<String>,
            pre: Option<String>,
            initial: &str,
            zero_major: &str,
            allow_local: bool,
            allowed_roots: Option<Vec<PathBuf>>,
            allowed_hosts: Option<Vec<String>>,
        ) -> $output {
            let $call = call(
                repo_url,
                paths,
                tag_prefix,
                tag_pattern,
                skip_tags,
                pre,
                initial,
                zero_major,
                PolicyArguments {
                    allow_local,
                    allowed_roots,
                    allowed_hosts,
                },
            )
            .map_err(|failure| failure.into_pyerr($py))?;
            $body
        }
    };
}

with_bump_arguments! {
    /// The next version from the commits since the latest release: a breaking change bumps
    /// the major version, a feature the minor one, any other change users notice the patch
    /// (`zero_major="cargo"`: below 1.0.0, breaking bumps the minor and the rest the patch).
    /// `pre="rc"` makes a pre-release (1.3.0-rc.1, then 1.3.0-rc.2); `initial` is the version
    /// when there is no release tag. `repo_url` is obtained as `generate` obtains it.
    fn bump(py, call) -> PyResult<PyBump> {
        wait(py, call.run())
    }
}

with_bump_arguments! {
    /// `bump` as a coroutine.
    fn abump(py, call) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, call.run())
    }
}
