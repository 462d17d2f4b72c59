//! The provider stack a command line asks for:
//! `Cached(Fallback[Retry(provider, model), Retry(provider, fallback model)...])`.

use std::sync::Arc;

use changelog_core::llm::LlmProvider;
use changelog_core::llm::anthropic::{AnthropicConfig, AnthropicProvider};
use changelog_core::llm::cache::{Cached, DiskCache, default_cache_dir};
use changelog_core::llm::fallback::Fallback;
use changelog_core::llm::openai::{OpenAiConfig, OpenAiProvider};
use changelog_core::llm::retry::{Retry, RetryPolicy};
use changelog_core::llm::simulated::SimulatedProvider;

use crate::cli::{CliError, LlmArgs, ProviderArg};

/// The model asked for, or the provider's default.
pub(crate) fn model(args: &LlmArgs) -> String {
    args.model.clone().unwrap_or_else(|| {
        match args.provider {
            ProviderArg::Anthropic => "claude-3-5-haiku-latest",
            ProviderArg::Simulated => "simulated",
            ProviderArg::Openai | ProviderArg::None => "gpt-4o-mini",
        }
        .to_owned()
    })
}

/// Builds the provider stack.
pub(crate) fn build(args: &LlmArgs) -> Result<Arc<dyn LlmProvider>, CliError> {
    let base: Arc<dyn LlmProvider> = match args.provider {
        ProviderArg::None => {
            return Err(CliError::Usage("no provider was named".to_owned()));
        }
        ProviderArg::Simulated => Arc::new(SimulatedProvider::new()),
        ProviderArg::Openai => {
            let mut config = OpenAiConfig::openai();
            if let Some(url) = &args.base_url {
                config.base_url.clone_from(url);
            }
            Arc::new(OpenAiProvider::new(&config).map_err(changelog_core::Error::from)?)
        }
        ProviderArg::Anthropic => {
            let mut config = AnthropicConfig::default();
            if let Some(url) = &args.base_url {
                config.base_url.clone_from(url);
            }
            Arc::new(AnthropicProvider::new(&config).map_err(changelog_core::Error::from)?)
        }
    };
    let retried: Arc<dyn LlmProvider> = Arc::new(Retry::new(base, RetryPolicy::default()));
    let stack: Arc<dyn LlmProvider> = if args.fallback_models.is_empty() {
        retried
    } else {
        let mut chain = vec![(Arc::clone(&retried), model(args))];
        chain.extend(
            args.fallback_models
                .iter()
                .map(|m| (Arc::clone(&retried), m.clone())),
        );
        Arc::new(Fallback::new(chain))
    };
    if args.no_cache {
        return Ok(stack);
    }
    Ok(match default_cache_dir() {
        Some(dir) => Arc::new(Cached::new(stack, Arc::new(DiskCache::new(dir)))),
        None => stack,
    })
}
