//! `changelog.toml` on the command line: which file `generate` reads, and `changelog init`,
//! which writes the commented default.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use changelog_core::Config;
use changelog_core::config::{FILE_NAME, TEMPLATE};
use changelog_core::source::git::GitSource;
use clap::Args;

use super::{CliError, ConfigArgs};

/// Arguments of `changelog init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The directory to write `changelog.toml` in (the repository's root, for `generate` to
    /// find it).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub path: PathBuf,
    /// Replace an existing `changelog.toml`.
    #[arg(long)]
    pub force: bool,
}

/// Writes the commented default; an existing file is kept unless --force.
pub(crate) fn init(args: &InitArgs) -> Result<(), CliError> {
    let path = args.path.join(FILE_NAME);
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let written = options.open(&path).and_then(|mut file| {
        file.write_all(TEMPLATE.as_bytes())?;
        file.sync_all()
    });
    match written {
        Ok(()) => {
            let _ = writeln!(
                io::stderr().lock(),
                "wrote `{}`: every setting is commented out; `changelog generate` reads it from the repository's root",
                path.display()
            );
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(CliError::Output {
            path,
            source: io::Error::new(
                io::ErrorKind::AlreadyExists,
                "it exists already; pass --force to replace it",
            ),
        }),
        Err(source) => Err(CliError::Output { path, source }),
    }
}

/// The configuration a command uses: --config's file, else `changelog.toml` at the root of
/// the work tree of a local --repo (nothing when there is none, or with --no-config).
pub(crate) fn load(repo: &Path, files: &ConfigArgs) -> Result<Option<Config>, CliError> {
    if files.no_config {
        return Ok(None);
    }
    if let Some(path) = &files.config {
        return Ok(Some(Config::load(path)?));
    }
    if repo.to_string_lossy().contains("://") {
        // A clone is read, not configured: its own file is not trusted to steer the run.
        return Ok(None);
    }
    // A path that is no repository is reported by the command itself.
    let Ok(source) = GitSource::open(repo) else {
        return Ok(None);
    };
    Ok(Config::find(source.path())?.map(|(_, config)| config))
}
