//! One entry point for every front end: the request the command line, the Python module and the
//! server's job runner fill in, and the calls that answer it ([`generate`] and [`estimate`]).
//!
//! A [`Request`] carries the fields existing callers send (`source`, `repo_url`, `commit_range`,
//! `version`, `content`, `title`, `tags`, `model`, `temperature`) plus the style, the provider and
//! the budget. What each style needs, the choice between the deterministic path and the LLM
//! pipeline, and the default temperature are decided here, once:
//!
//! | source | provider | what runs |
//! |---|---|---|
//! | `manual` | any | the `content` given, wrapped as a changelog without sections |
//! | `git` | none | the deterministic changelog (styles that need a model are refused) |
//! | `git` | a provider | the LLM pipeline, every bullet verified against the commits |
//!
//! The repository named by `repo_url` is obtained through the caller's [`RepoPolicy`] (see
//! [`crate::source::git::obtain`]): the command line allows its own local paths, the Python
//! module and the server refuse what their policy does not allow.

use std::borrow::Cow;

use uuid::Uuid;

use crate::build::{BuildOptions, GroupBy, SectionRule, SkipRules, build};
use crate::changelog::{Changelog, Stats, Style};
use crate::commit::{History, LinkTemplates, RangeQuery, ReleaseSelection};
use crate::error::{Error, Result};
use crate::llm::simulated::SimulatedProvider;
use crate::llm::stack::StackConfig;
use crate::pipeline::{Estimate, LlmOptions, LlmPipeline, Observer};
use crate::source::CommitSource as _;
use crate::source::git::{RepoPolicy, check_range, obtain};
use crate::store::{ChangelogSource, NewChangelog};
use crate::version::{BumpRules, Level, TagRules, Version, level_of, next_version};

/// The sampling temperature when a request names none: low, because a changelog reports what
/// happened and should read the same from one run to the next.
pub const DEFAULT_TEMPERATURE: f32 = 0.2;

/// The temperatures a request may name.
pub const TEMPERATURES: std::ops::RangeInclusive<f32> = 0.0..=2.0;

/// What to generate.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Read commits (`git`) or wrap Markdown written by hand (`manual`).
    pub source: ChangelogSource,
    /// The repository: a local path or a clone URL (default `.`), obtained under the caller's
    /// [`RepoPolicy`].
    pub repo_url: Option<String>,
    /// The range (`commit_range`), dates and path filters.
    pub query: RangeQuery,
    /// The release's version; the tag at the end of the range when `None`; [`AUTO_VERSION`]
    /// for the next version the range's commits call for (see [`next_release`]).
    pub version: Option<String>,
    /// The title; `Changelog` when `None`.
    pub title: Option<String>,
    /// The Markdown of a `manual` changelog.
    pub content: Option<String>,
    /// Tags, carried to the stored record.
    pub tags: Vec<String>,
    /// The model (the provider's default when `None`); an estimate counts tokens for it.
    pub model: Option<String>,
    /// Sampling temperature; [`DEFAULT_TEMPERATURE`] when `None`.
    pub temperature: Option<f32>,
    /// Layout and tone.
    pub style: Style,
    /// Who writes the entries: `None` for the deterministic changelog.
    pub provider: Option<StackConfig>,
    /// Cap on each request's prompt tokens (default: the model's window less the answer).
    pub max_input_tokens: Option<usize>,
    /// Cap on each answer's tokens.
    pub max_output_tokens: Option<u32>,
    /// Requests in flight at once when a large range is split.
    pub concurrency: Option<usize>,
    /// Ask once more about user-facing commits that no entry cites.
    pub repair: bool,
    /// A template replacing the style's instructions.
    pub template: Option<String>,
    /// What to do when the model's answer keeps no entry although the range has user-facing
    /// commits.
    pub on_empty: OnEmpty,
    /// One entry per pull request (the default) or per commit.
    pub group_by: GroupBy,
    /// Show the entries the style hides in a last `Internal` section.
    pub show_hidden: bool,
    /// How the next version is found, for [`bump`] and [`AUTO_VERSION`].
    pub bump: BumpRules,
    /// Sections replacing the style's table for the deterministic changelog (see
    /// [`crate::build::SectionRule`]); empty for the style's own.
    pub sections: Vec<SectionRule>,
    /// Commits left out of the changelog (see [`crate::build::SkipRules`]).
    pub skip: SkipRules,
    /// Link templates replacing the host's URL shapes in the Markdown.
    pub links: LinkTemplates,
}

/// The version that asks for the next version the commits call for: `--version auto`.
pub const AUTO_VERSION: &str = "auto";

/// What a generation does when the model's answer keeps no entry (it was empty, or every
/// bullet was dropped) although the range has user-facing commits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnEmpty {
    /// Fail with [`Error::EmptyAnswer`], which names the model and what came back.
    #[default]
    Error,
    /// Write the deterministic changelog instead (its `model` is `None`).
    Deterministic,
}

impl Request {
    /// Checks what can be checked before anything is read: every refusal names its field.
    pub fn check(&self) -> Result<()> {
        let invalid = |field: &'static str, reason: String| Error::InvalidRequest { field, reason };
        match self.source {
            ChangelogSource::Manual if self.content.is_none() => {
                return Err(invalid(
                    "content",
                    "source \"manual\" needs content: the changelog's Markdown".to_owned(),
                ));
            }
            ChangelogSource::Git if self.content.is_some() => {
                return Err(invalid(
                    "content",
                    "content is only read with source \"manual\"; source \"git\" reads the \
                     history at repo_url"
                        .to_owned(),
                ));
            }
            _ => {}
        }
        if let Some(t) = self.temperature
            && !TEMPERATURES.contains(&t)
        {
            return Err(invalid(
                "temperature",
                format!("{t} is out of range: expected 0.0 to 2.0"),
            ));
        }
        if self.max_input_tokens == Some(0) {
            return Err(invalid(
                "max_input_tokens",
                "must be a positive number of tokens".to_owned(),
            ));
        }
        self.bump.check()?;
        if self.concurrency == Some(0) {
            return Err(invalid("concurrency", "must be at least 1".to_owned()));
        }
        if self.provider.is_none() && self.source == ChangelogSource::Git {
            if self.style.needs_model() {
                return Err(invalid(
                    "style",
                    format!(
                        "style `{}` needs a language model: name a provider (openai, anthropic \
                         or simulated)",
                        self.style
                    ),
                ));
            }
            if self.repair || self.template.is_some() {
                return Err(invalid(
                    if self.repair { "repair" } else { "template" },
                    "needs a language model: name a provider".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// The model an estimate counts tokens for and a generation asks.
    #[must_use]
    pub fn model(&self) -> String {
        match (&self.model, &self.provider) {
            (Some(model), _) => model.clone(),
            (None, Some(stack)) => stack.model(),
            (None, None) => LlmOptions::default().model,
        }
    }

    fn build_options(&self) -> BuildOptions {
        BuildOptions {
            style: self.style,
            title: self.title.clone(),
            version: self.version.clone(),
            group_by: self.group_by,
            show_hidden: self.show_hidden,
            tag_prefix: self.query.tag_prefix.clone(),
            sections: self.sections.clone(),
            skip: self.skip.clone(),
            links: self.links.clone(),
        }
    }

    fn llm_options(&self) -> LlmOptions {
        let defaults = LlmOptions::default();
        LlmOptions {
            template: self.template.clone(),
            model: self.model(),
            temperature: self.temperature.unwrap_or(DEFAULT_TEMPERATURE),
            max_input_tokens: self.max_input_tokens,
            max_output_tokens: self.max_output_tokens,
            concurrency: self.concurrency.unwrap_or(defaults.concurrency),
            repair: self.repair,
            build: self.build_options(),
        }
    }

    /// Reads the history of a `git` request; a clone is removed once it is read.
    async fn history(&self, policy: &RepoPolicy) -> Result<(History, String)> {
        if let Some(range) = &self.query.range {
            check_range(range, policy).map_err(|reason| Error::InvalidRequest {
                field: "commit_range",
                reason,
            })?;
        }
        let checkout = obtain(self.repo_url.as_deref().unwrap_or("."), policy).await?;
        let source = checkout.source()?;
        let history = source.history(&self.query).await?;
        Ok((history, checkout.location().to_owned()))
    }
}

/// A generated (or hand-written) changelog and what a store keeps beside it.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The structured document (no sections for a `manual` changelog).
    pub changelog: Changelog,
    /// The Markdown of a `manual` changelog, as given.
    pub content: Option<String>,
    /// Generated or written by hand.
    pub source: ChangelogSource,
    /// Tags, as requested.
    pub tags: Vec<String>,
    /// The range the commits were read from (`v1.1.0..v1.2.0`), or as requested.
    pub commit_range: Option<String>,
    /// The repository: its web address when known, else the location read, without
    /// credentials.
    pub repository: Option<String>,
}

impl Generated {
    /// A changelog generated from the history at `location` for `request`: its range (or the
    /// one requested) and its repository's web address (or the location read).
    #[must_use]
    pub fn from_history(changelog: Changelog, request: &Request, location: &str) -> Self {
        Self {
            commit_range: changelog
                .range
                .as_ref()
                .map(|range| range.spec.clone())
                .or_else(|| request.query.range.clone()),
            repository: Some(
                changelog
                    .repository
                    .as_ref()
                    .map_or_else(|| location.to_owned(), |remote| remote.url.clone()),
            ),
            changelog,
            content: None,
            source: ChangelogSource::Git,
            tags: request.tags.clone(),
        }
    }

    /// The Markdown: as given for a `manual` changelog, rendered otherwise.
    #[must_use]
    pub fn markdown(&self) -> Cow<'_, str> {
        match &self.content {
            Some(content) => Cow::Borrowed(content),
            None => Cow::Owned(crate::render::markdown(&self.changelog)),
        }
    }

    /// The record a store creates for it.
    #[must_use]
    pub fn into_new_changelog(self, owner_id: Uuid, is_public: bool) -> NewChangelog {
        let usage = self.changelog.usage.unwrap_or_default();
        let content = self.markdown().into_owned();
        NewChangelog {
            id: None,
            owner_id,
            repository: self.repository,
            title: self.changelog.title.clone(),
            version: self.changelog.version.clone(),
            content,
            model: self.changelog.model.clone(),
            document: match self.source {
                ChangelogSource::Git => Some(self.changelog),
                ChangelogSource::Manual => None,
            },
            source: self.source,
            commit_range: self.commit_range,
            input_tokens: i64::try_from(usage.input_tokens).unwrap_or(i64::MAX),
            output_tokens: i64::try_from(usage.output_tokens).unwrap_or(i64::MAX),
            // The record counts a price it does not know as nothing spent.
            cost_usd: usage.cost_usd.unwrap_or(0.0),
            is_public,
            status: crate::store::ChangelogStatus::Draft,
            tags: self.tags,
        }
    }
}

/// The document of a changelog written by hand: a title, a version, no sections.
#[must_use]
pub fn manual_document(title: String, version: Option<String>, style: Style) -> Changelog {
    Changelog {
        title,
        version,
        date: None,
        range: None,
        repository: None,
        links: None,
        style,
        sections: Vec::new(),
        hidden: Vec::new(),
        stats: Stats::default(),
        model: None,
        usage: None,
        verification: None,
    }
}

/// Answers a request: wraps a `manual` changelog, or reads the repository under `policy` and
/// writes its changelog, deterministically or with the request's provider. `observer` is told
/// of streamed text and progress.
pub async fn generate(
    request: &Request,
    policy: &RepoPolicy,
    observer: &dyn Observer,
) -> Result<Generated> {
    request.check()?;
    if request.source == ChangelogSource::Manual {
        let title = request
            .title
            .clone()
            .unwrap_or_else(|| "Changelog".to_owned());
        return Ok(Generated {
            changelog: manual_document(title, request.version.clone(), request.style),
            content: request.content.clone(),
            source: ChangelogSource::Manual,
            tags: request.tags.clone(),
            commit_range: request.query.range.clone(),
            repository: request.repo_url.as_deref().map(crate::redact::url),
        });
    }
    let (history, location) = request.history(policy).await?;
    let changelog = changelog_of(request, history, observer).await?;
    Ok(Generated::from_history(changelog, request, &location))
}

/// One changelog per release, newest first, as [`generate`] writes one (see
/// [`GitSource::read_releases`](crate::source::git::GitSource::read_releases)): every release
/// of the history up to `HEAD`, the latest `count` of them, and the unreleased commits first
/// when `selection` asks. The history is walked once, whatever the number of releases.
pub async fn generate_releases(
    request: &Request,
    policy: &RepoPolicy,
    selection: ReleaseSelection,
    observer: &dyn Observer,
) -> Result<Vec<Generated>> {
    request.check()?;
    if request.source == ChangelogSource::Manual {
        return Err(Error::InvalidRequest {
            field: "source",
            reason: "releases are read from a repository's history; a \"manual\" changelog has \
                     none"
                .to_owned(),
        });
    }
    let checkout = obtain(request.repo_url.as_deref().unwrap_or("."), policy).await?;
    let histories = checkout
        .source()?
        .releases(&request.query, selection)
        .await?;
    let mut out = Vec::with_capacity(histories.len());
    for history in histories {
        let mut changelog = changelog_of(request, history, observer).await?;
        // A release's heading is its own tag's version; the unreleased commits take the
        // request's version, if it names one (the release they are about to be).
        if let Some(tag) = changelog.range.as_ref().and_then(|r| r.to.tag.as_deref()) {
            let version = request
                .query
                .tag_prefix
                .as_deref()
                .and_then(|prefix| tag.strip_prefix(prefix))
                .unwrap_or(tag);
            changelog.version = Some(version.to_owned());
        } else if changelog.version.is_none() {
            // `Unreleased`: not released on any date yet.
            changelog.date = None;
        }
        out.push(Generated::from_history(
            changelog,
            request,
            checkout.location(),
        ));
    }
    Ok(out)
}

/// The next release of a repository (see [`crate::version`]): the latest release tag, the
/// commits since it, and the version they call for, under the request's tag rules
/// ([`RangeQuery::tag_prefix`], [`RangeQuery::tag_pattern`], [`RangeQuery::skip_tags`]) and
/// bump rules. Reads only the commits since the latest release.
pub async fn bump(request: &Request, policy: &RepoPolicy) -> Result<Bump> {
    request.check()?;
    if request.source == ChangelogSource::Manual {
        return Err(Error::InvalidRequest {
            field: "source",
            reason: "the next version is read from a repository's history; a \"manual\" \
                     changelog has none"
                .to_owned(),
        });
    }
    let checkout = obtain(request.repo_url.as_deref().unwrap_or("."), policy).await?;
    let selection = ReleaseSelection {
        count: Some(0),
        unreleased: true,
    };
    let mut histories = checkout
        .source()?
        .releases(&request.query, selection)
        .await?;
    let history = histories.pop().ok_or_else(|| {
        Error::Task("the history since the latest release was not read".to_owned())
    })?;
    next_release(&history, request)
}

/// The next release after a history under a request's tag, bump and skip rules: the
/// history's lower end's tag is the latest release, its commits are those since (without
/// noise, skipped commits and commits reverted within it, as the changelog leaves them out).
pub fn next_release(history: &History, request: &Request) -> Result<Bump> {
    let (query, rules) = (&request.query, &request.bump);
    rules.check()?;
    let tags = TagRules::new(
        query.tag_prefix.as_deref(),
        query.tag_pattern.as_deref(),
        query.skip_tags.as_deref(),
    )?;
    let prepared = crate::build::prepare_with(history.clone(), &request.skip);
    let level = level_of(&prepared.commits);
    let from = history.range.as_ref().and_then(|r| r.from.as_ref());
    let latest = from.and_then(|end| end.tag.clone());
    if let Some(end) = from
        && !latest.as_deref().is_some_and(|tag| tags.is_release(tag))
    {
        // `abc1234..HEAD`, or a range from a tag that is no release (`deploy-prod`): the
        // version it would start from is unknown.
        return Err(Error::InvalidRequest {
            field: "version",
            reason: format!(
                "the range starts at `{}`, which is no release tag (a version such as v1.2.0): \
                 the next version counts from the latest release; start the range there, or \
                 give the version",
                latest.as_deref().unwrap_or(&end.rev)
            ),
        });
    }
    let (lead, current) = match &latest {
        None => (query.tag_prefix.clone().unwrap_or_default(), None),
        Some(tag) => {
            let (lead, version) = tags.parse_tag(tag).ok_or_else(|| Error::InvalidRequest {
                field: "version",
                reason: format!(
                    "the latest release tag, `{tag}`, names no version (such as 1.2.0): give the \
                     version, or a tag pattern that matches only version tags"
                ),
            })?;
            (lead.to_owned(), Some(version))
        }
    };
    let version = next_version(current.as_ref(), level, rules);
    if let Some(current) = &current
        && level != Level::None
        && version <= *current
    {
        // `1.3.0-rc.2` then `--pre beta`: `1.3.0-beta.1` would sort before the release out.
        return Err(Error::InvalidRequest {
            field: "pre",
            reason: format!(
                "the next version, {version}, would come before the latest release, {current}: \
                 use a pre-release identifier that sorts after `{}`, or none",
                current.pre.first().map_or("", String::as_str)
            ),
        });
    }
    let prefix_len = query
        .tag_prefix
        .as_deref()
        .filter(|p| lead.starts_with(p))
        .map_or(0, str::len);
    Ok(Bump {
        // Nothing to release: the latest tag as it is written (`v1.2`, not `v1.2.0`).
        tag: match (&latest, level) {
            (Some(latest), Level::None) => latest.clone(),
            _ => format!("{lead}{version}"),
        },
        prefix_len,
        latest,
        version,
        level,
        commits: history.commits.len(),
    })
}

/// The next release: what [`bump`] finds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bump {
    /// The latest release's tag; `None` when there is no release yet.
    pub latest: Option<String>,
    /// The next release's tag: the latest tag's prefix (`v`, `tokio-`) and the next version;
    /// the latest tag itself when nothing users notice changed.
    pub tag: String,
    /// The next version alone.
    #[serde(serialize_with = "as_text")]
    pub version: Version,
    /// How far the version moves: `none` when nothing users notice changed.
    #[serde(serialize_with = "level_name")]
    pub level: Level,
    /// The commits since the latest release.
    pub commits: usize,
    #[serde(skip)]
    prefix_len: usize,
}

impl Bump {
    /// What a changelog's heading shows for the next release: its tag without the tag prefix
    /// (`v1.3.0`, or `1.53.0` for `tokio-1.53.0` under the prefix `tokio-`), as the headings of
    /// tagged releases do.
    #[must_use]
    pub fn version_text(&self) -> &str {
        &self.tag[self.prefix_len..]
    }
}

fn as_text<S: serde::Serializer>(version: &Version, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(version)
}

fn level_name<S: serde::Serializer>(level: &Level, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(level.name())
}

/// The changelog of a history: built, or written by the request's model.
async fn changelog_of(
    request: &Request,
    history: History,
    observer: &dyn Observer,
) -> Result<Changelog> {
    let resolved;
    let request = if request.version.as_deref() == Some(AUTO_VERSION) {
        // A range that ends at a release tag is that release: its tag heads it.
        let to_tag = history.range.as_ref().and_then(|r| r.to.tag.as_ref());
        let version = match to_tag {
            Some(_) => None,
            None => Some(next_release(&history, request)?.version_text().to_owned()),
        };
        resolved = Request {
            version,
            ..request.clone()
        };
        &resolved
    } else {
        request
    };
    Ok(match &request.provider {
        None => build(history, &request.build_options()),
        Some(stack) => {
            let stack = StackConfig {
                model: Some(request.model()),
                ..stack.clone()
            };
            let provider = stack.build()?;
            let pipeline = LlmPipeline::new(provider.as_ref(), request.llm_options())?;
            let spare = (request.on_empty == OnEmpty::Deterministic).then(|| history.clone());
            match (pipeline.generate(history, observer).await, spare) {
                (Err(Error::EmptyAnswer { .. }), Some(history)) => {
                    build(history, &request.build_options())
                }
                (result, _) => result?,
            }
        }
    })
}

/// What generating with a language model would cost (requests, input tokens, maximum output
/// tokens, US dollars), for the request's model. Reads the history; sends nothing and needs no
/// API key.
pub async fn estimate(request: &Request, policy: &RepoPolicy) -> Result<Estimate> {
    request.check()?;
    if request.source == ChangelogSource::Manual {
        return Err(Error::InvalidRequest {
            field: "source",
            reason: "an estimate reads a history: source \"manual\" has nothing to estimate"
                .to_owned(),
        });
    }
    let (history, _) = request.history(policy).await?;
    // The plan depends on the model, not on who would answer.
    let placeholder = SimulatedProvider::new();
    LlmPipeline::new(&placeholder, request.llm_options())?.estimate(history)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::stack::ProviderKind;
    use crate::pipeline::Quiet;

    fn refused_field(request: &Request) -> &'static str {
        match request.check() {
            Err(Error::InvalidRequest { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn refusals_name_their_field() {
        let manual = Request {
            source: ChangelogSource::Manual,
            ..Request::default()
        };
        assert_eq!(refused_field(&manual), "content");
        let git_with_content = Request {
            content: Some("# notes".into()),
            ..Request::default()
        };
        assert_eq!(refused_field(&git_with_content), "content");
        for t in [-0.1, 2.5, f32::NAN, f32::INFINITY] {
            let hot = Request {
                temperature: Some(t),
                ..Request::default()
            };
            assert_eq!(refused_field(&hot), "temperature");
        }
        let prose = Request {
            style: Style::Social,
            ..Request::default()
        };
        assert_eq!(refused_field(&prose), "style");
        assert_eq!(
            refused_field(&Request {
                repair: true,
                ..Request::default()
            }),
            "repair"
        );
        // With a provider, the prose styles and the LLM options are fine.
        let with_model = Request {
            style: Style::Social,
            repair: true,
            provider: Some(StackConfig::new(ProviderKind::Simulated)),
            ..Request::default()
        };
        assert!(with_model.check().is_ok());
        let err = Request {
            temperature: Some(3.5),
            ..Request::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("3.5"), "{err}");
    }

    #[test]
    fn one_default_temperature_and_the_request_model_wins() {
        let request = Request {
            model: Some("gpt-4o".into()),
            provider: Some(StackConfig::new(ProviderKind::OpenAi)),
            ..Request::default()
        };
        let options = request.llm_options();
        assert!((options.temperature - DEFAULT_TEMPERATURE).abs() < f32::EPSILON);
        assert_eq!(options.model, "gpt-4o");
        let provider_default = Request {
            provider: Some(StackConfig::new(ProviderKind::Anthropic)),
            ..Request::default()
        };
        assert_eq!(
            provider_default.model(),
            ProviderKind::Anthropic.default_model()
        );
    }

    #[tokio::test]
    async fn a_manual_changelog_is_its_content_and_reads_nothing() {
        let request = Request {
            source: ChangelogSource::Manual,
            content: Some("- hand-written\n".into()),
            version: Some("1.2.0".into()),
            tags: vec!["release".into()],
            // Never opened: a manual changelog reads no repository.
            repo_url: Some("https://user:secret@example.com/o/r.git".into()),
            ..Request::default()
        };
        let generated = generate(&request, &RepoPolicy::default(), &Quiet)
            .await
            .unwrap();
        assert_eq!(generated.markdown(), "- hand-written\n");
        assert_eq!(generated.changelog.version.as_deref(), Some("1.2.0"));
        assert_eq!(
            generated.repository.as_deref(),
            Some("https://example.com/o/r.git")
        );
        let record = generated.into_new_changelog(Uuid::nil(), true);
        assert_eq!(record.content, "- hand-written\n");
        assert!(record.document.is_none());
        assert_eq!(record.tags, ["release"]);
        assert!(
            estimate(&request, &RepoPolicy::default())
                .await
                .unwrap_err()
                .to_string()
                .contains("manual")
        );
    }
}
