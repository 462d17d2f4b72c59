//! The LLM path through the library: estimate a range's cost, then generate it with the offline
//! simulated model (swap in `OpenAiProvider` or `AnthropicProvider` for a real one).
//!
//! `cargo run -p changelog-examples --example llm_estimate -- [REPO] [RANGE]`

use anyhow::Context as _;
use changelog_core::llm::simulated::SimulatedProvider;
use changelog_core::pipeline::{LlmOptions, LlmPipeline, Quiet};
use changelog_core::source::git::GitSource;
use changelog_core::{CommitSource as _, RangeQuery};

#[expect(
    clippy::print_stderr,
    reason = "an example program reports on its terminal"
)]
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let repo = args.next().unwrap_or_else(|| ".".to_owned());
    let query = RangeQuery {
        range: args.next(),
        ..RangeQuery::default()
    };
    let source = GitSource::open(&repo).with_context(|| format!("opening {repo}"))?;
    let history = source.history(&query).await?;

    let provider = SimulatedProvider::new();
    let pipeline = LlmPipeline::new(
        &provider,
        LlmOptions {
            model: "gpt-4o-mini".into(),
            ..LlmOptions::default()
        },
    )?;
    let estimate = pipeline.estimate(history.clone())?;
    let price = estimate.cost_usd.map_or_else(
        || "an unknown price".to_owned(),
        |usd| format!("at most ${usd:.4}"),
    );
    eprintln!(
        "plan: {} request(s), {} input tokens, {price} on {}",
        estimate.requests, estimate.input_tokens, estimate.model
    );

    let changelog = pipeline.generate(history, &Quiet).await?;
    if let Some(verification) = &changelog.verification {
        eprintln!(
            "verified: {} dropped, coverage {:.0}%",
            verification.dropped_entries,
            verification.coverage * 100.0
        );
    }
    changelog_core::render::write(
        &changelog,
        changelog_core::Format::Markdown,
        std::io::stdout().lock(),
    )?;
    Ok(())
}
