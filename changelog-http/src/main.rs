//! The `changelog` command. Arguments are parsed here; everything else is in the library.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // Usage errors exit with status 2 (clap's convention); `--help` and `--version` with 0.
    let cli = changelog_http::Cli::try_parse().unwrap_or_else(|e| e.exit());
    changelog_http::run(cli)
}
