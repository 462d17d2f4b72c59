//! The `changelog` command. Arguments are parsed here; everything else is in the library.

use std::process::ExitCode;

use clap::Parser as _;

// Reading a long history allocates many small strings; mimalloc does that markedly faster than
// the system allocator (see benches/generate_vs_git_log.py).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Usage errors exit with status 2 (clap's convention); `--help` and `--version` with 0.
    let cli = changelog_http::Cli::try_parse().unwrap_or_else(|e| e.exit());
    if matches!(cli.command, changelog_http::Command::Serve(_)) {
        // A process that stays up: ordinary pages (see the function's docs).
        changelog_http::without_huge_pages();
    }
    changelog_http::run(cli)
}
