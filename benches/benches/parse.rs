//! Parsing commit messages, and the deterministic path from parsed commits to Markdown/JSON.
//!
//! `cargo bench -p changelog-benches --bench parse`

use std::hint::black_box;

use changelog_benches::synthetic_commits;
use changelog_core::render::{json, markdown};
use changelog_core::{BuildOptions, History, build, parse_commit};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for count in [1_000, 20_000] {
        let commits = synthetic_commits(count);
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(
            BenchmarkId::new("parse_commit", count),
            &commits,
            |b, commits| {
                b.iter_batched(
                    || commits.clone(),
                    |commits| {
                        for commit in commits {
                            black_box(parse_commit(commit));
                        }
                    },
                    criterion::BatchSize::LargeInput,
                );
            },
        );
    }
    group.finish();
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("deterministic");
    let count = 20_000;
    let commits = synthetic_commits(count);
    let history = History {
        range: None,
        commits,
        repository: None,
    };
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("build", |b| {
        b.iter_batched(
            || history.clone(),
            |history| black_box(build(history, &BuildOptions::default())),
            criterion::BatchSize::LargeInput,
        );
    });
    let changelog = build(history, &BuildOptions::default());
    group.bench_function("markdown", |b| b.iter(|| black_box(markdown(&changelog))));
    group.bench_function("json", |b| b.iter(|| black_box(json(&changelog))));
    group.finish();
}

criterion_group!(benches, parsing, pipeline);
criterion_main!(benches);
