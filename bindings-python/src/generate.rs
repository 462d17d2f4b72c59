//! `generate`, `agenerate`, `estimate` and `aestimate`: the arguments Python callers already
//! pass (`source, repo_url, commit_range, version, content, title, tags, model, temperature`)
//! read into the core's types, and the core's calls.
//!
//! - No provider (neither `provider=` nor `CHANGELOG_PROVIDER`): the deterministic changelog,
//!   as `changelog generate` writes it; `model` and `temperature` are then unused.
//! - A provider: the LLM pipeline behind the same provider stack as the CLI's
//!   ([`StackConfig`]).
//! - `source="manual"`: the `content` given, wrapped as a changelog without sections.
//!
//! `repo_url` is obtained through the core's repository policy ([`crate::checkout`]): HTTPS
//! clones of public hosts by default; local paths only with `allow_local=True` or
//! `allowed_roots=[...]`.

use std::path::PathBuf;

use changelog_core::llm::stack::{CacheChoice, ProviderKind, StackConfig};
use changelog_core::pipeline::Quiet;
use changelog_core::request::{self, Request};
use changelog_core::source::git::RepoPolicy;
use changelog_core::source::parse_date;
use changelog_core::store::ChangelogSource;
use changelog_core::{RangeQuery, ReleaseSelection};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::checkout::PolicyArguments;
use crate::errors::Failure;
use crate::types::{PyChangelog, PyEstimate};
use crate::wait::{awaitable, wait};

/// A call: the core's request and the repository policy it runs under (read with the GIL held;
/// cheap).
#[derive(Debug)]
pub(crate) struct Call {
    request: Request,
    policy: RepoPolicy,
    /// `releases=` / `unreleased=`: one changelog per release.
    releases: Option<ReleaseSelection>,
}

/// The arguments as Python passed them.
pub(crate) struct Arguments<'a, 'py> {
    pub(crate) source: &'a str,
    pub(crate) repo_url: Option<PathBuf>,
    pub(crate) commit_range: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) content: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) tags: Option<Vec<String>>,
    pub(crate) model: Option<String>,
    pub(crate) temperature: Option<f64>,
    pub(crate) provider: Option<String>,
    pub(crate) base_url: Option<String>,
    pub(crate) api_key: Option<String>,
    pub(crate) style: &'a str,
    pub(crate) max_input_tokens: Option<i64>,
    pub(crate) paths: Option<Vec<String>>,
    pub(crate) since: Option<Bound<'py, PyAny>>,
    pub(crate) until: Option<Bound<'py, PyAny>>,
    pub(crate) fallback_models: Option<Vec<String>>,
    pub(crate) cache: Option<CacheArg>,
    pub(crate) tag_prefix: Option<String>,
    pub(crate) tag_pattern: Option<String>,
    pub(crate) skip_tags: Option<String>,
    pub(crate) releases: Option<ReleasesArg>,
    pub(crate) unreleased: bool,
    pub(crate) policy: PolicyArguments,
}

/// A string from the environment, if set and not empty.
fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

impl Arguments<'_, '_> {
    /// Reads the arguments into the core's [`Request`]; the core checks it.
    pub(crate) fn into_call(self) -> Result<Call, Failure> {
        let source = match self.source {
            "git" => ChangelogSource::Git,
            "manual" => ChangelogSource::Manual,
            other => {
                return Err(Failure::Argument(format!(
                    "unknown source `{other}`: expected \"git\" or \"manual\""
                )));
            }
        };
        let provider = match self.provider.or_else(|| env("CHANGELOG_PROVIDER")) {
            None => None,
            Some(name) if name == "none" => None,
            Some(name) => Some(name.parse::<ProviderKind>()?),
        };
        let max_input_tokens = match self.max_input_tokens {
            None => None,
            Some(n) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            Some(n) => {
                return Err(Failure::Argument(format!(
                    "max_input_tokens {n} must be a positive number of tokens"
                )));
            }
        };
        let cache = self.cache.map_or(CacheChoice::Default, |cache| cache.0);
        let request = Request {
            source,
            repo_url: self
                .repo_url
                .map(|path| path.to_string_lossy().into_owned()),
            query: RangeQuery {
                range: self.commit_range,
                since: read_date(self.since.as_ref(), "since", false)?,
                until: read_date(self.until.as_ref(), "until", true)?,
                paths: self.paths.unwrap_or_default(),
                tag_prefix: self.tag_prefix,
                tag_pattern: self.tag_pattern,
                skip_tags: self.skip_tags,
                ..RangeQuery::default()
            },
            version: self.version,
            title: self.title,
            content: self.content,
            tags: self.tags.unwrap_or_default(),
            model: self.model.or_else(|| env("CHANGELOG_MODEL")),
            // The core refuses values outside 0.0..=2.0 (an f64 that does not fit stays out).
            #[expect(
                clippy::cast_possible_truncation,
                reason = "the core checks the range; in range, only precision is lost"
            )]
            temperature: self.temperature.map(|t| t as f32),
            style: self.style.parse()?,
            provider: provider.map(|kind| StackConfig {
                fallback_models: self.fallback_models.unwrap_or_default(),
                base_url: self.base_url.or_else(|| env("CHANGELOG_BASE_URL")),
                api_key: self.api_key,
                cache,
                ..StackConfig::new(kind)
            }),
            max_input_tokens,
            ..Request::default()
        };
        request.check()?;
        let releases = match (self.releases, self.unreleased) {
            (None, false) => None,
            (releases, unreleased) => {
                if request.query.range.is_some() {
                    return Err(Failure::Argument(
                        "commit_range cannot be given with releases or unreleased: releases are \
                         read from the whole history up to HEAD"
                            .to_owned(),
                    ));
                }
                Some(ReleaseSelection {
                    count: match releases {
                        Some(ReleasesArg(count)) => count,
                        None => Some(0),
                    },
                    unreleased,
                })
            }
        };
        Ok(Call {
            request,
            policy: self.policy.policy(),
            releases,
        })
    }
}

/// `releases=`: `"all"` or a number of releases, 1 or more (`None` inside for all).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReleasesArg(Option<usize>);

impl<'a, 'py> FromPyObject<'a, 'py> for ReleasesArg {
    type Error = PyErr;

    fn extract(value: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(text) = value.extract::<String>() {
            if text == "all" {
                return Ok(Self(None));
            }
            return Err(crate::errors::invalid_argument(
                value.py(),
                format!("releases=\"{text}\": give \"all\" or a number of releases, 1 or more"),
            ));
        } else if !value.is_instance_of::<PyBool>()
            && let Ok(count) = value.extract::<i64>()
        {
            if let Ok(count @ 1..) = usize::try_from(count) {
                return Ok(Self(Some(count)));
            }
            return Err(crate::errors::invalid_argument(
                value.py(),
                format!("releases={count}: give \"all\" or a number of releases, 1 or more"),
            ));
        }
        Err(PyTypeError::new_err(
            "releases must be \"all\" or a number of releases",
        ))
    }
}

/// `cache=`: `True` (the default cache directory, as `None` is), `False` (none) or a directory.
#[derive(Debug, Clone)]
pub(crate) struct CacheArg(CacheChoice);

impl<'a, 'py> FromPyObject<'a, 'py> for CacheArg {
    type Error = PyErr;

    fn extract(value: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(flag) = value.cast::<PyBool>() {
            return Ok(Self(if flag.is_true() {
                CacheChoice::Default
            } else {
                CacheChoice::Off
            }));
        }
        match value.extract::<PathBuf>() {
            Ok(dir) => Ok(Self(CacheChoice::Dir(dir))),
            Err(_) => Err(PyTypeError::new_err(
                "cache must be True, False or a directory",
            )),
        }
    }
}

/// A date argument: `YYYY-MM-DD` or RFC 3339 text, a `datetime.date`, or a `datetime.datetime`
/// (naive ones are read as UTC). A bare date as an upper bound includes its whole day.
pub(crate) fn read_date(
    value: Option<&Bound<'_, PyAny>>,
    name: &str,
    end_of_day: bool,
) -> Result<Option<DateTime<FixedOffset>>, Failure> {
    let Some(value) = value else {
        return Ok(None);
    };
    if let Ok(text) = value.extract::<String>() {
        return parse_date(&text, end_of_day).map(Some).map_err(|_| {
            Failure::Argument(format!(
                "invalid {name} `{text}`: expected YYYY-MM-DD, an RFC 3339 timestamp, or a \
                 datetime.date / datetime.datetime"
            ))
        });
    }
    if let Ok(timestamp) = value.extract::<DateTime<FixedOffset>>() {
        return Ok(Some(timestamp));
    }
    if let Ok(naive) = value.extract::<NaiveDateTime>() {
        return Ok(Some(naive.and_utc().fixed_offset()));
    }
    if let Ok(date) = value.extract::<NaiveDate>() {
        let time = if end_of_day {
            NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default()
        } else {
            NaiveTime::MIN
        };
        return Ok(Some(date.and_time(time).and_utc().fixed_offset()));
    }
    Err(Failure::Argument(format!(
        "{name} must be a date: YYYY-MM-DD text, a datetime.date or a datetime.datetime"
    )))
}

/// What `generate` returns: a changelog, or one per release when `releases=` or
/// `unreleased=` asked for them.
pub(crate) enum Generation {
    One(Box<PyChangelog>),
    Releases(Vec<PyChangelog>),
}

impl<'py> IntoPyObject<'py> for Generation {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        Ok(match self {
            Self::One(changelog) => (*changelog).into_pyobject(py)?.into_any(),
            Self::Releases(changelogs) => changelogs.into_pyobject(py)?.into_any(),
        })
    }
}

impl Call {
    /// Runs the call through the core's one entry point.
    pub(crate) async fn generate(self) -> Result<Generation, Failure> {
        if let Some(selection) = self.releases {
            let generated =
                request::generate_releases(&self.request, &self.policy, selection, &Quiet).await?;
            return Ok(Generation::Releases(
                generated
                    .into_iter()
                    .map(PyChangelog::from_generated)
                    .collect(),
            ));
        }
        let generated = request::generate(&self.request, &self.policy, &Quiet).await?;
        Ok(Generation::One(Box::new(PyChangelog::from_generated(
            generated,
        ))))
    }

    /// Plans the LLM requests and counts them, sending nothing (and needing no key).
    pub(crate) async fn estimate(self) -> Result<PyEstimate, Failure> {
        if self.releases.is_some() {
            return Err(Failure::Argument(
                "estimate prices one range: give commit_range instead of releases or \
                 unreleased"
                    .to_owned(),
            ));
        }
        Ok(PyEstimate {
            estimate: request::estimate(&self.request, &self.policy).await?,
        })
    }
}

/// Declares a function taking the generation arguments; `$call` is the checked [`Call`].
macro_rules! with_generation_arguments {
    ($(#[$attr:meta])* fn $name:ident($py:ident, $call:ident) -> $output:ty $body:block) => {
        $(#[$attr])*
        #[pyfunction]
        #[pyo3(signature = (
            *,
            source = "git",
            repo_url = None,
            commit_range = None,
            version = None,
            content = None,
            title = None,
            tags = None,
            model = None,
            temperature = None,
            provider = None,
            base_url = None,
            api_key = None,
            style = "conventional",
            max_input_tokens = None,
            paths = None,
            since = None,
            until = None,
            fallback_models = None,
            cache = None,
            tag_prefix = None,
            tag_pattern = None,
            skip_tags = None,
            releases = None,
            unreleased = false,
            allow_local = false,
            allowed_roots = None,
            allowed_hosts = None
        ))]
        #[expect(
            clippy::too_many_arguments,
            reason = "the keyword arguments existing Python callers pass"
        )]
        pub(crate) fn $name<'py>(
            $py: Python<'py>,
            source: &str,
            repo_url: Option<PathBuf>,
            commit_range: Option<String>,
            version: Option<String>,
            content: Option<String>,
            title: Option<String>,
            tags: Option<Vec<String>>,
            model: Option<String>,
            temperature: Option<f64>,
            provider: Option<String>,
            base_url: Option<String>,
            api_key: Option<String>,
            style: &str,
            max_input_tokens: Option<i64>,
            paths: Option<Vec<String>>,
            since: Option<Bound<'py, PyAny>>,
            until: Option<Bound<'py, PyAny>>,
            fallback_models: Option<Vec<String>>,
            cache: Option<CacheArg>,
            tag_prefix: Option<String>,
            tag_pattern: Option<String>,
            skip_tags: Option<String>,
            releases: Option<ReleasesArg>,
            unreleased: bool,
            allow_local: bool,
            allowed_roots: Option<Vec<PathBuf>>,
            allowed_hosts: Option<Vec<String>>,
        ) -> $output {
            let $call = Arguments {
                source,
                repo_url,
                commit_range,
                version,
                content,
                title,
                tags,
                model,
                temperature,
                provider,
                base_url,
                api_key,
                style,
                max_input_tokens,
                paths,
                since,
                until,
                fallback_models,
                cache,
                tag_prefix,
                tag_pattern,
                skip_tags,
                releases,
                unreleased,
                policy: PolicyArguments {
                    allow_local,
                    allowed_roots,
                    allowed_hosts,
                },
            }
            .into_call()
            .map_err(|failure| failure.into_pyerr($py))?;
            $body
        }
    };
}

with_generation_arguments! {
    /// Writes the changelog of a range of commits (or wraps Markdown given with
    /// `source="manual"`). The GIL is released while the engine works; Ctrl-C interrupts it.
    ///
    /// `repo_url` is an `https://` URL of a public host by default (cloned within 120 s and
    /// 1 GiB). A local path is read only with `allow_local=True`, or under one of
    /// `allowed_roots`; `allowed_hosts` limits clones to those hosts.
    ///
    /// `releases="all"` (or a number, the latest N) gives a list of changelogs, one per
    /// release, newest first; `unreleased=True` puts the commits after the latest release
    /// first (alone, only them). `version="auto"` heads the changelog with the next version
    /// (see `bump`).
    fn generate(py, call) -> PyResult<Generation> {
        wait(py, call.generate())
    }
}

with_generation_arguments! {
    /// `generate` as a coroutine: the work runs on the module's runtime, never on the event
    /// loop, and cancelling the task cancels the work.
    fn agenerate(py, call) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, call.generate())
    }
}

with_generation_arguments! {
    /// What generating with a language model would cost (requests, input tokens, maximum output
    /// tokens, US dollars), sending nothing. Needs no API key. `repo_url` is obtained as
    /// `generate` obtains it (`allow_local`, `allowed_roots`, `allowed_hosts`).
    fn estimate(py, call) -> PyResult<PyEstimate> {
        wait(py, call.estimate())
    }
}

with_generation_arguments! {
    /// `estimate` as a coroutine.
    fn aestimate(py, call) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, call.estimate())
    }
}
