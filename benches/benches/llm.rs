//! The LLM path's own costs, without a network: token counting and planning over 100,000
//! commits, and map-reduce wall time over a provider with a fixed latency against the ideal
//! `(ceil(chunks / concurrency) + merge rounds) x latency`.
//!
//! `cargo bench -p changelog-benches --bench llm` (a plain harness: each measurement is one
//! long run, reported as a table).

use std::time::{Duration, Instant};

use changelog_benches::synthetic_commits;
use changelog_core::budget::{ModelInfo, TokenCounter};
use changelog_core::llm::simulated::SimulatedProvider;
use changelog_core::pipeline::{LlmOptions, LlmPipeline, Quiet};
use changelog_core::prompt::{Detail, commit_line};
use changelog_core::{History, parse_commit};

fn history(count: usize) -> History {
    History {
        range: None,
        commits: synthetic_commits(count),
        repository: None,
    }
}

#[expect(clippy::print_stdout, reason = "a benchmark reports on its terminal")]
fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let count = if quick { 5_000 } else { 100_000 };

    // Token counting: every commit line at the detail a chunked plan uses.
    let parsed: Vec<_> = synthetic_commits(count)
        .into_iter()
        .map(parse_commit)
        .collect();
    let counter = TokenCounter::new(&ModelInfo::for_model("gpt-4o-mini"));
    let lines: Vec<String> = parsed
        .iter()
        .map(|c| commit_line(c, Detail::Trimmed))
        .collect();
    let started = Instant::now();
    let tokens: usize = lines.iter().map(|l| counter.count(l)).sum();
    let counting = started.elapsed();
    println!(
        "token counting: {count} commit lines, {tokens} tokens in {:.0} ms: {:.0} commits/s, {:.1} M tokens/s",
        ms(counting),
        count as f64 / counting.as_secs_f64(),
        tokens as f64 / counting.as_secs_f64() / 1e6
    );

    // Planning: the estimate of a 100,000-commit range at a 100,000-token budget.
    let provider = SimulatedProvider::new();
    let options = LlmOptions {
        model: "gpt-4o-mini".into(),
        max_input_tokens: Some(100_000),
        max_output_tokens: Some(4_000),
        ..LlmOptions::default()
    };
    let pipeline = LlmPipeline::new(&provider, options).expect("pipeline");
    let input = history(count);
    let started = Instant::now();
    let estimate = pipeline.estimate(input).expect("estimate");
    let planning = started.elapsed();
    // A chunked plan tokenizes every line twice (each line to pack the chunks, then each
    // chunk's whole prompt exactly); the rest is rendering lines and building prompts.
    println!(
        "planning: {count} commits -> {} chunks, {} requests, {} input tokens in {:.0} ms ({:.0} commits/s); tokenization ~{:.0}% of it (two passes of {:.0} ms)",
        estimate.chunks,
        estimate.requests,
        estimate.input_tokens,
        ms(planning),
        count as f64 / planning.as_secs_f64(),
        100.0 * 2.0 * counting.as_secs_f64() / planning.as_secs_f64(),
        ms(counting)
    );

    // Map-reduce over a provider with a fixed latency.
    let latency = Duration::from_millis(if quick { 20 } else { 200 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "map-reduce, latency {} ms per request:",
        latency.as_millis()
    );
    println!(
        "{:>8} {:>7} {:>11} {:>8} {:>12} {:>9} {:>6}",
        "commits", "budget", "concurrency", "chunks", "merge rounds", "wall ms", "ideal"
    );
    for (commits, budget, concurrency) in [
        (2_000, 8_000, 4),
        (2_000, 8_000, 2),
        (4_000, 8_000, 4),
        (4_000, 8_000, 8),
    ] {
        let provider = SimulatedProvider::with_latency(latency);
        let pipeline = LlmPipeline::new(
            &provider,
            LlmOptions {
                model: "gpt-4o-mini".into(),
                max_input_tokens: Some(budget),
                max_output_tokens: Some(4_000),
                concurrency,
                ..LlmOptions::default()
            },
        )
        .expect("pipeline");
        let input = history(commits);
        let started = Instant::now();
        let log = runtime
            .block_on(pipeline.generate(input, &Quiet))
            .expect("generate");
        let wall = started.elapsed();
        let usage = log.usage.expect("usage");
        let rounds = usage.chunks.div_ceil(concurrency) + usage.merge_rounds;
        let ideal = latency * u32::try_from(rounds).unwrap_or(u32::MAX);
        println!(
            "{commits:>8} {budget:>7} {concurrency:>11} {:>8} {:>12} {:>9.0} {:>5.2}x",
            usage.chunks,
            usage.merge_rounds,
            ms(wall),
            wall.as_secs_f64() / ideal.as_secs_f64()
        );
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
