//! Integration tests of changelog-core over real git repositories (one test binary).

mod bump;
mod classification;
mod config;
mod files;
mod git_source;
mod hostile_text;
mod injection;
mod obtain;
mod packed;
mod pipeline;
mod prepend;
mod pull_requests;
mod releases;
mod render;
mod walk;

use changelog_core::source::git::GitSource;
use changelog_core::{BuildOptions, Changelog, History, RangeQuery, build};

/// Reads a range of a test repository.
fn history(path: &std::path::Path, range: Option<&str>) -> History {
    GitSource::open(path)
        .expect("open")
        .read(&RangeQuery {
            range: range.map(str::to_owned),
            ..RangeQuery::default()
        })
        .expect("read")
}

/// Summaries of a history's commits, oldest first.
fn summaries(history: &History) -> Vec<String> {
    history
        .commits
        .iter()
        .rev()
        .map(|c| c.summary.clone())
        .collect()
}

fn changelog(path: &std::path::Path, range: Option<&str>, options: &BuildOptions) -> Changelog {
    build(history(path, range), options)
}
