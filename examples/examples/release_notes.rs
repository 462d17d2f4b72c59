//! Release notes of a local repository through the library, as a Rust application embeds it.
//!
//! `cargo run -p changelog-examples --example release_notes -- [REPO] [RANGE]`
//!
//! With no arguments: the current directory, from its latest tag to HEAD.

use std::sync::Arc;

use anyhow::Context as _;
use changelog_core::source::git::GitSource;
use changelog_core::{BuildOptions, CommitSource, RangeQuery, Style};

#[expect(
    clippy::print_stderr,
    reason = "an example program reports on its terminal"
)]
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let repo = args.next().unwrap_or_else(|| ".".to_owned());
    let range = args.next();

    // Any `CommitSource` fits here; sources are picked at run time.
    let source: Arc<dyn CommitSource> =
        Arc::new(GitSource::open(&repo).with_context(|| format!("opening {repo}"))?);
    let query = RangeQuery {
        range,
        ..RangeQuery::default()
    };
    let options = BuildOptions {
        style: Style::KeepAChangelog,
        ..BuildOptions::default()
    };
    let changelog = changelog_core::generate(source.as_ref(), &query, &options).await?;

    let breaking = changelog.entries().filter(|e| e.breaking).count();
    eprintln!(
        "{} commits read, {} entries, {breaking} breaking",
        changelog.stats.commits, changelog.stats.entries
    );
    changelog_core::render::write(
        &changelog,
        changelog_core::Format::Markdown,
        std::io::stdout().lock(),
    )?;
    Ok(())
}
