//! `changelog generate` and friends.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use changelog_core::source::git::GitSource;
use changelog_core::source::parse_date;
use changelog_core::{BuildOptions, Format, RangeQuery, Style};
use chrono::{DateTime, FixedOffset};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Changelogs and release notes from git history.
#[derive(Debug, Parser)]
#[command(name = "changelog", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the changelog of a range of a local repository (offline, no key needed).
    Generate(GenerateArgs),
}

/// Arguments of `changelog generate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Range forms: `A..B`, `A..` (to HEAD), a single tag `vX` (from the \
previous tag to vX); without --range, from the latest tag to HEAD (the whole history when there \
is no tag)."
)]
pub struct GenerateArgs {
    /// The repository (any directory inside its work tree).
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// The range of commits.
    #[arg(long, value_name = "SPEC")]
    pub range: Option<String>,
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
    /// Section layout.
    #[arg(long, value_enum, default_value_t = StyleArg::Conventional)]
    pub style: StyleArg,
    /// The release's version (default: the tag at the end of the range).
    #[arg(long, value_name = "V")]
    pub version: Option<String>,
    /// The document's title (default: "Changelog"; an empty title leaves the heading out).
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
    /// Write to this file instead of standard output. The file is replaced atomically: a
    /// failure leaves the previous content in place.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Markdown.
    Markdown,
    /// The structured changelog as JSON.
    Json,
}

/// `--style` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StyleArg {
    /// Breaking Changes, Features, Bug Fixes, Performance, ... (Conventional Commits types).
    Conventional,
    /// Added, Changed, Deprecated, Removed, Fixed, Security (keepachangelog.com).
    KeepAChangelog,
}

fn since(input: &str) -> Result<DateTime<FixedOffset>, String> {
    parse_date(input, false).map_err(|e| e.to_string())
}

fn until(input: &str) -> Result<DateTime<FixedOffset>, String> {
    parse_date(input, true).map_err(|e| e.to_string())
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Core(#[from] changelog_core::Error),
    #[error("cannot write `{}`", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the runtime")]
    Runtime(#[source] io::Error),
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            Self::Core(e) if e.is_usage() => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

/// Runs a parsed command line. Errors are printed to standard error, with their causes; the
/// exit status is 0 on success, 2 for a usage error and 1 otherwise.
#[must_use]
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Generate(args) => generate(&args),
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

fn generate(args: &GenerateArgs) -> Result<(), CliError> {
    changelog_core::source::git::tune_for_one_pass();
    let source = GitSource::open(&args.repo)?;
    let query = RangeQuery {
        range: args.range.clone(),
        since: args.since,
        until: args.until,
        paths: args.paths.clone(),
    };
    let options = BuildOptions {
        style: match args.style {
            StyleArg::Conventional => Style::Conventional,
            StyleArg::KeepAChangelog => Style::KeepAChangelog,
        },
        title: args.title.clone(),
        version: args.version.clone(),
    };
    let format = match args.format {
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Json => Format::Json,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let changelog = runtime.block_on(changelog_core::generate(&source, &query, &options))?;
    let output_error = |path: &Path| {
        let path = path.to_owned();
        move |source| CliError::Output { path, source }
    };
    match &args.output {
        Some(path) => write_atomically(path, |file| {
            changelog_core::render::write(&changelog, format, file)
        })
        .map_err(output_error(path)),
        None => {
            let stdout = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            match changelog_core::render::write(&changelog, format, stdout) {
                // A closed pipe (`changelog generate | head`) is not a failure of ours.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                result => result.map_err(output_error(Path::new("<stdout>"))),
            }
        }
    }
}

/// Writes to a temporary file next to `path`, flushes it to disk, then renames it over `path`,
/// so readers see either the old content or the new, never a part.
fn write_atomically(
    path: &Path,
    contents: impl FnOnce(&mut io::BufWriter<&std::fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let file = tempfile::Builder::new()
        .prefix(".changelog-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    contents(&mut io::BufWriter::with_capacity(1 << 16, file.as_file()))?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
