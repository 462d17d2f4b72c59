//! The command line: arguments, dispatch, errors and exit statuses.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use changelog_core::source::parse_date;
use chrono::{DateTime, FixedOffset};
use clap::{Args, Parser, Subcommand, ValueEnum};

pub(crate) mod config;
pub(crate) mod serve;

/// Changelogs and release notes from git history.
#[derive(Debug, Parser)]
#[command(
    name = "changelog",
    version,
    about = "Changelogs and release notes from git history."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the changelog of a range of a local repository. Offline and deterministic unless
    /// --provider names a language model.
    Generate(Box<GenerateArgs>),
    /// Print the next version: the latest release tag's, bumped as the commits since it call
    /// for (breaking: major, feature: minor, any other change users notice: patch).
    Bump(BumpArgs),
    /// Write a commented default `changelog.toml`, which `generate` reads from the
    /// repository's root.
    Init(config::InitArgs),
    /// Run the HTTP server: accounts, API keys and changelogs over a JSON API.
    Serve(serve::ServeArgs),
    /// Create the database if needed and run its migrations.
    Migrate(serve::DatabaseArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(serve::UserCommand),
}

/// Arguments of `changelog generate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Range forms: `A..B`, `A..` (to HEAD), a single tag `vX` (from the \
previous tag to vX); without --range, from the latest tag to HEAD (the whole history when there \
is no tag).\n\nWith --provider, every bullet the model writes must cite commits of the range; \
the others are dropped and counted in the JSON's `verification`."
)]
pub struct GenerateArgs {
    /// The repository: any directory inside its work tree, or an https:// URL to clone (public
    /// hosts only, at most 120 s and 1 GiB).
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// The range of commits.
    #[arg(long, value_name = "SPEC")]
    pub range: Option<String>,
    /// One section per release, newest first: `all` of them or the latest N. A release is a
    /// version tag (with --tag-prefix, the prefix and a version); commits before the first
    /// one belong to it. JSON is a list of changelogs.
    #[arg(long, value_name = "all|N", value_parser = releases, conflicts_with_all = ["range", "latest"])]
    pub releases: Option<ReleaseCount>,
    /// The latest release's section (as --releases 1).
    #[arg(long, conflicts_with = "range")]
    pub latest: bool,
    /// The commits after the latest release, first, as an `Unreleased` section (named by
    /// --version when given); alone, only them.
    #[arg(long, conflicts_with = "range")]
    pub unreleased: bool,
    /// Only commits committed on or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = since)]
    pub since: Option<DateTime<FixedOffset>>,
    /// Only commits committed on or before this date (YYYY-MM-DD, inclusive, or RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = until)]
    pub until: Option<DateTime<FixedOffset>>,
    /// Only commits touching this path (relative to the repository root); repeatable.
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Markdown)]
    pub format: FormatArg,
    /// Layout and tone: conventional (the default) and keep-a-changelog work with or without a
    /// model; release-notes, technical and social need --provider.
    #[arg(long, value_enum)]
    pub style: Option<StyleArg>,
    /// The release's version (default: the tag at the end of the range).
    #[arg(long, value_name = "V")]
    pub version: Option<String>,
    /// The document's title (default: "Changelog"; an empty title leaves the heading out).
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
    /// One entry per pull request (its commits folded, its title as text; the default) or per
    /// commit.
    #[arg(long = "group-by", value_enum)]
    pub group_by: Option<GroupByArg>,
    /// Classify commits by their messages alone. By default a commit whose message has no
    /// Conventional Commits type and that changes only tests, only documentation, only CI
    /// configuration or only lock files is classified by those files.
    #[arg(long = "words-only")]
    pub words_only: bool,
    /// In a shallow clone, write the changelog of what the clone has when the range reaches
    /// back past it (with a warning); without it, that is an error.
    #[arg(long = "allow-shallow")]
    pub allow_shallow: bool,
    #[command(flatten)]
    pub tags: TagArgs,
    /// Show what the style hides (internal changes in keep-a-changelog) in a last `Internal`
    /// section; the JSON lists them under `hidden` either way.
    #[arg(long = "show-hidden")]
    pub show_hidden: bool,
    /// Write to this file instead of standard output. The file is replaced atomically: a
    /// failure leaves the previous content in place. A new file gets the mode a shell
    /// redirect would give it, an existing one keeps its mode, and a symbolic link is followed
    /// (the file it points to is written, the link stays).
    #[arg(long, short, value_name = "FILE", group = "destination")]
    pub output: Option<PathBuf>,
    /// Write the releases into this changelog file (created when missing): a new one under the
    /// title, one the file has in its place, keeping hand edits (entries are matched by the
    /// commit ids they cite). Other bytes are kept; written atomically as --output.
    #[arg(long, value_name = "FILE", group = "destination")]
    pub prepend: Option<PathBuf>,
    /// Replace the --output file even when it is read-only or holds other releases; write a
    /// read-only --prepend file.
    #[arg(long, requires = "destination")]
    pub force: bool,
    #[command(flatten)]
    pub files: ConfigArgs,
    #[command(flatten)]
    pub next: NextVersionArgs,
    #[command(flatten)]
    pub llm: LlmArgs,
}

/// Which configuration file is read: shared by `generate` and `bump`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Read the settings from this file instead of `changelog.toml` at the repository's root.
    /// Flags given here win over the file.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Ignore `changelog.toml`.
    #[arg(long = "no-config")]
    pub no_config: bool,
}

/// Which tags are releases: shared by `generate` and `bump`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// Prefix of the package's release tags in a monorepo (`tokio-`, `@scope/pkg@`): only tags
    /// made of it and a version bound the default and single-tag ranges (`tokio-1.52.0`, not
    /// `tokio-macros-2.7.1`), and headings show the version alone.
    #[arg(long = "tag-prefix", value_name = "PREFIX")]
    pub tag_prefix: Option<String>,
    /// Which tags are releases (default: tags that read as versions, `v1.2.0`, `1.2.0-rc.1`):
    /// a glob matched against the whole name (`v*`, `v1.*`, `release-[0-9]*`), or a regular
    /// expression found anywhere in it when it has one of `^ $ ( ) + | \` (`^v\d+\.\d+`).
    #[arg(long = "tag-pattern", value_name = "PATTERN")]
    pub tag_pattern: Option<String>,
    /// A regular expression of tags that are never releases (`-rc`, `beta`): their commits
    /// belong to the next release.
    #[arg(long = "skip-tags", value_name = "REGEX")]
    pub skip_tags: Option<String>,
}

/// How the next version is found: shared by `bump` and `generate --version auto`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Next version (bump, --version auto)")]
pub struct NextVersionArgs {
    /// Make the next version a pre-release with this identifier: after 1.2.0, 1.3.0-rc.1; after
    /// 1.3.0-rc.1, 1.3.0-rc.2.
    #[arg(long, value_name = "ID")]
    pub pre: Option<String>,
    /// The version when the repository has no release tag yet [default: 0.1.0].
    #[arg(long, value_name = "V", value_parser = version)]
    pub initial: Option<changelog_core::version::Version>,
    /// How versions below 1.0.0 move: `standard` (as above 1.0.0: a breaking change makes
    /// 1.0.0) or `cargo` (a breaking change bumps 0.y, a feature or fix 0.y.z) [default:
    /// standard].
    #[arg(long = "zero-major", value_enum)]
    pub zero_major: Option<ZeroMajorArg>,
}

impl NextVersionArgs {
    /// The core's bump rules: the flags, else the configuration's `[bump]`, else the defaults.
    pub(crate) fn rules(
        &self,
        config: &changelog_core::config::BumpConfig,
    ) -> changelog_core::version::BumpRules {
        use changelog_core::version::{BumpRules, ZeroMajor};
        let defaults = BumpRules::default();
        BumpRules {
            zero_major: match self.zero_major {
                Some(ZeroMajorArg::Standard) => ZeroMajor::Standard,
                Some(ZeroMajorArg::Cargo) => ZeroMajor::Cargo,
                None => config.zero_major.unwrap_or(defaults.zero_major),
            },
            initial: self
                .initial
                .clone()
                .or_else(|| config.initial.clone())
                .unwrap_or(defaults.initial),
            pre: self.pre.clone().or_else(|| config.pre.clone()),
        }
    }
}

/// `--zero-major` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ZeroMajorArg {
    /// As above 1.0.0 (git-cliff's and semantic-release's default).
    Standard,
    /// Cargo's reading of 0.x.
    Cargo,
}

fn version(value: &str) -> Result<changelog_core::version::Version, String> {
    changelog_core::version::Version::parse(value)
        .ok_or_else(|| format!("`{value}` is not a version such as 0.1.0 or 1.0.0-rc.1"))
}

/// Arguments of `changelog bump`.
#[derive(Debug, Args)]
#[command(
    after_help = "Prints the next release's tag (the latest tag's prefix kept: v1.3.0, \
tokio-1.53.0). When nothing users notice changed since the latest release (only documentation, \
tests, CI, build, style, chores or refactors), it prints the latest release's tag, says so on \
standard error and exits 0."
)]
pub struct BumpArgs {
    /// The repository: any directory inside its work tree.
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// Only commits touching this path count (relative to the repository root); repeatable.
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
    /// Output: the next tag alone, or the latest tag, the next tag, the version, the level
    /// and the number of commits as JSON.
    #[arg(long, value_enum, default_value_t = BumpFormatArg::Text)]
    pub format: BumpFormatArg,
    /// Classify commits by their messages alone (see `generate --words-only`).
    #[arg(long = "words-only")]
    pub words_only: bool,
    /// In a shallow clone, read what the clone has (see `generate --allow-shallow`).
    #[arg(long = "allow-shallow")]
    pub allow_shallow: bool,
    #[command(flatten)]
    pub files: ConfigArgs,
    #[command(flatten)]
    pub tags: TagArgs,
    #[command(flatten)]
    pub next: NextVersionArgs,
}

/// `bump --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BumpFormatArg {
    /// The next tag alone.
    Text,
    /// An object with the latest tag, the next tag, the version, the level and the commits.
    Json,
}

/// The language-model options of `changelog generate`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Language model")]
pub struct LlmArgs {
    /// Who writes the entries: none (deterministic, nothing is sent anywhere), simulated
    /// (offline and deterministic, for demos and tests), openai (any OpenAI-compatible server:
    /// OpenAI, Azure, Ollama, vLLM, OpenRouter) or anthropic.
    #[arg(long, value_enum, env = "CHANGELOG_PROVIDER", default_value_t = ProviderArg::None)]
    pub provider: ProviderArg,
    /// The model (default: gpt-4o-mini for openai, claude-3-5-haiku-latest for anthropic).
    #[arg(long, value_name = "M", env = "CHANGELOG_MODEL")]
    pub model: Option<String>,
    /// Another model to try, in order, when the previous one fails for a reason that is not
    /// the request's fault; repeatable.
    #[arg(long = "fallback-model", value_name = "M")]
    pub fallback_models: Vec<String>,
    /// The provider's API base URL (for example http://127.0.0.1:11434/v1 for Ollama).
    #[arg(long, value_name = "URL", env = "CHANGELOG_BASE_URL")]
    pub base_url: Option<String>,
    /// Sampling temperature, 0.0 to 2.0 (default 0.2, the same for every front end).
    #[arg(long, value_name = "T")]
    pub temperature: Option<f32>,
    /// Cap on each request's prompt tokens (default: the model's window less the answer).
    #[arg(long, value_name = "N")]
    pub max_input_tokens: Option<usize>,
    /// Cap on each answer's tokens.
    #[arg(long, value_name = "N")]
    pub max_output_tokens: Option<u32>,
    /// Requests in flight at once when a large range is split.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Print the plan (requests, input tokens, maximum output tokens, cost) and send nothing.
    #[arg(long)]
    pub estimate: bool,
    /// Show the model's answer on standard error as it arrives (single-request plans); the
    /// verified changelog is printed (or written to --output) in the requested format.
    #[arg(long)]
    pub stream: bool,
    /// With --stream: the longest wait, in seconds, for the next event that carries data
    /// (keep-alive comments do not count).
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub stream_idle_timeout: u64,
    /// With --stream: the longest a whole streamed answer may take, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub stream_deadline: u64,
    /// Neither read nor write the answer cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Ask once more about user-facing commits that no entry cites.
    #[arg(long)]
    pub repair: bool,
    /// A minijinja template replacing the style's instructions (variables: see the docs of
    /// changelog_core::prompt).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// When the answer keeps no entry (empty, or every bullet dropped) although the range has
    /// user-facing commits: fail (exit 1, nothing cached) or write the deterministic
    /// changelog instead.
    #[arg(long, value_enum, default_value_t = OnEmptyArg::Error)]
    pub on_empty: OnEmptyArg,
}

/// `--on-empty` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnEmptyArg {
    /// Fail with a message naming the model and what came back.
    Error,
    /// Write the changelog the engine writes without a model.
    Deterministic,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Markdown.
    Markdown,
    /// The structured changelog as JSON.
    Json,
}

/// How many releases `--releases` asks for: `None` for all.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseCount(Option<usize>);

/// `--releases all` (every release) or `--releases N` (the latest N, N >= 1).
fn releases(value: &str) -> Result<ReleaseCount, String> {
    if value.eq_ignore_ascii_case("all") {
        return Ok(ReleaseCount(None));
    }
    match value.parse::<usize>() {
        Ok(0) | Err(_) => Err(format!(
            "`{value}`: give `all` or a number of releases, 1 or more"
        )),
        Ok(n) => Ok(ReleaseCount(Some(n))),
    }
}

impl GenerateArgs {
    /// The releases asked for by --releases, --latest and --unreleased, if any.
    pub(crate) fn release_selection(&self) -> Option<changelog_core::ReleaseSelection> {
        let count = match (self.releases, self.latest) {
            (Some(ReleaseCount(count)), _) => count,
            (None, true) => Some(1),
            (None, false) if self.unreleased => Some(0),
            (None, false) => return None,
        };
        Some(changelog_core::ReleaseSelection {
            count,
            unreleased: self.unreleased,
        })
    }
}

/// `--group-by` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupByArg {
    /// One entry per pull request; commits with none are one entry each.
    Pr,
    /// One entry per commit.
    Commit,
}

/// `--style` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StyleArg {
    /// Breaking Changes, Features, Bug Fixes, Performance, ... (Conventional Commits types).
    Conventional,
    /// Added, Changed, Deprecated, Removed, Fixed, Security (keepachangelog.com).
    KeepAChangelog,
    /// Plain-language release notes for end users (needs --provider).
    ReleaseNotes,
    /// Detailed notes for developers (needs --provider).
    Technical,
    /// A short announcement post (needs --provider).
    Social,
}

/// `--provider` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    /// No model: the deterministic changelog.
    None,
    /// The offline simulated model.
    Simulated,
    /// An OpenAI-compatible chat completions API.
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
}

impl ProviderArg {
    /// The provider it names; `None` for `none`.
    #[must_use]
    pub fn kind(self) -> Option<changelog_core::llm::stack::ProviderKind> {
        use changelog_core::llm::stack::ProviderKind;
        match self {
            Self::None => None,
            Self::Simulated => Some(ProviderKind::Simulated),
            Self::Openai => Some(ProviderKind::OpenAi),
            Self::Anthropic => Some(ProviderKind::Anthropic),
        }
    }
}

fn since(input: &str) -> Result<DateTime<FixedOffset>, String> {
    parse_date(input, false).map_err(|e| e.to_string())
}

fn until(input: &str) -> Result<DateTime<FixedOffset>, String> {
    parse_date(input, true).map_err(|e| e.to_string())
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error(transparent)]
    Core(#[from] changelog_core::Error),
    #[error("{0}")]
    Usage(String),
    #[error("cannot read `{}`", path.display())]
    Input {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write `{}`", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Failed(String),
    #[error("cannot start the runtime")]
    Runtime(#[source] io::Error),
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            Self::Core(e) if e.is_usage() => ExitCode::from(2),
            Self::Usage(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

/// Runs a parsed command line. Errors are printed to standard error, with their causes; the
/// exit status is 0 on success, 2 for a usage error and 1 otherwise.
#[must_use]
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Generate(args) => crate::generate::generate(&args),
        Command::Bump(args) => crate::bump::bump(&args),
        Command::Init(args) => config::init(&args),
        Command::Serve(args) => serve::serve(&args),
        Command::Migrate(args) => serve::migrate(&args),
        Command::User(command) => serve::user(&command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = format!("error: {error}");
            let mut cause = std::error::Error::source(&error);
            while let Some(inner) = cause {
                let _ = write!(message, "\n  caused by: {inner}");
                cause = inner.source();
            }
            let _ = writeln!(io::stderr().lock(), "{message}");
            error.exit_code()
        }
    }
}
