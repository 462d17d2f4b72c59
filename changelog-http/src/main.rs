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
        // A process that stays up: ordinary pages.
        without_huge_pages();
    }
    changelog_http::run(cli)
}

/// Runs this binary again, as the same process, with mimalloc's transparent huge pages off
/// (`MIMALLOC_ALLOW_THP=0`, which the allocator reads when it starts, before `main`); not when
/// the environment sets that already (in any case, as mimalloc reads it) or the system has
/// them off. Where the binary cannot be run again, this process goes on as it is.
///
/// mimalloc backs its arenas with 2 MiB pages where the system allows. A one-pass `generate`
/// touches about 100 MB once, and in huge pages that is some 500 page faults rather than
/// 20,000 (on a virtual machine, where a fault costs microseconds, a third of its time). A
/// server that stays up would hold huge pages it barely touches (an idle server read 43 MB
/// after a burst of writes, 23 MB without), and the allocator has touched some before `main`
/// runs: so `serve` starts again without them.
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        use std::io::Write as _;
        use std::os::unix::process::CommandExt as _;

        const SETTING: &str = "MIMALLOC_ALLOW_THP";
        let set = std::env::vars_os().any(|(name, _)| name.eq_ignore_ascii_case(SETTING));
        let never = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .is_ok_and(|modes| modes.contains("[never]"));
        if set || never {
            return;
        }
        let mut args = std::env::args_os();
        let name = args.next().unwrap_or_else(|| "changelog".into());
        // The running binary, even if its file has been replaced or removed since it started.
        let error = std::process::Command::new("/proc/self/exe")
            .arg0(name)
            .args(args)
            .env(SETTING, "0")
            .exec();
        // The standard library set SIGPIPE back to its default for the new image; `serve`
        // catches it again (see its runtime), so a closed pipe stays an error to a write.
        let _ = writeln!(
            std::io::stderr().lock(),
            "warning: could not start again without transparent huge pages ({error}); running with them"
        );
    }
}
