//! The provider stack a command line asks for, built by the core's
//! [`StackConfig`](changelog_core::llm::stack::StackConfig) (shared with the Python bindings).

use std::time::Duration;

use changelog_core::llm::StreamTimeouts;
use changelog_core::llm::stack::{CacheChoice, StackConfig};

use crate::cli::LlmArgs;

/// The stack's settings; `None` for `--provider none`.
pub(crate) fn config(args: &LlmArgs) -> Option<StackConfig> {
    let provider = args.provider.kind()?;
    Some(StackConfig {
        model: args.model.clone(),
        fallback_models: args.fallback_models.clone(),
        base_url: args.base_url.clone(),
        cache: if args.no_cache {
            CacheChoice::Off
        } else {
            CacheChoice::Default
        },
        stream: StreamTimeouts {
            idle: Duration::from_secs(args.stream_idle_timeout),
            total: Duration::from_secs(args.stream_deadline),
        },
        ..StackConfig::new(provider)
    })
}
