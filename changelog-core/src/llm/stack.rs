//! The provider stack a front end asks for with a few settings (a command line's flags, a
//! Python call's arguments):
//!
//! ```text
//! Fallback[Cached(Retry(provider)) with model, Cached(Retry(provider)) with fallback model...]
//! ```
//!
//! Fallback is left out when there is no fallback model, the cache when it is turned off. Each
//! answer is cached under the model that gave it.
//!
//! ```
//! use changelog_core::llm::stack::{CacheChoice, ProviderKind, StackConfig};
//!
//! let config = StackConfig {
//!     cache: CacheChoice::Off,
//!     ..StackConfig::new(ProviderKind::Simulated)
//! };
//! let provider = config.build().unwrap();
//! assert_eq!(provider.name(), "simulated");
//! assert_eq!(config.model(), "simulated");
//! ```

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use super::anthropic::{AnthropicConfig, AnthropicProvider};
use super::cache::{Cached, DiskCache, default_cache_dir};
use super::fallback::Fallback;
use super::http::REDACTED;
use super::openai::{OpenAiConfig, OpenAiProvider};
use super::retry::{Retry, RetryPolicy};
use super::simulated::SimulatedProvider;
use super::{LlmError, LlmProvider, StreamTimeouts};
use crate::error::Error;

/// Who writes the entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// The offline simulated model (no key, no network).
    Simulated,
    /// An OpenAI-compatible chat completions API (OpenAI, Azure, Ollama, vLLM, OpenRouter).
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
}

impl ProviderKind {
    /// Every kind, in the order they are documented.
    pub const ALL: [Self; 3] = [Self::Simulated, Self::OpenAi, Self::Anthropic];

    /// The kind's name (`simulated`, `openai`, `anthropic`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Simulated => "simulated",
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
        }
    }

    /// The model used when none is named.
    #[must_use]
    pub fn default_model(self) -> &'static str {
        match self {
            Self::Simulated => "simulated",
            Self::OpenAi => "gpt-4o-mini",
            Self::Anthropic => "claude-3-5-haiku-latest",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProviderKind {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| Error::UnknownName {
                what: "provider",
                name: name.to_owned(),
                expected: "simulated, openai, anthropic",
            })
    }
}

/// Where answers are cached. A directory must be the user's own and private; the stack
/// refuses one that is not ([`DiskCache::open`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CacheChoice {
    /// In [`default_cache_dir`] (`$CHANGELOG_CACHE_DIR`, else the user's cache directory);
    /// no cache when neither is known.
    #[default]
    Default,
    /// In this directory.
    Dir(PathBuf),
    /// Neither read nor write a cache.
    Off,
}

/// The settings of a provider stack.
#[derive(Clone)]
pub struct StackConfig {
    /// Who answers.
    pub provider: ProviderKind,
    /// The model; [`ProviderKind::default_model`] when `None`.
    pub model: Option<String>,
    /// Models to try in order when the previous one fails for a reason that is not the
    /// request's fault.
    pub fallback_models: Vec<String>,
    /// The API root, instead of the provider's own (an Ollama or vLLM server, a test stub).
    pub base_url: Option<String>,
    /// The API key; `None` reads the provider's environment variable (`OPENAI_API_KEY`,
    /// `ANTHROPIC_API_KEY`).
    pub api_key: Option<String>,
    /// Where answers are cached.
    pub cache: CacheChoice,
    /// How long a streamed answer may wait for its next event and take in all.
    pub stream: StreamTimeouts,
}

impl StackConfig {
    /// A stack over `provider` with its defaults: its default model, no fallback, its own URL,
    /// the key from the environment and the default cache.
    #[must_use]
    pub fn new(provider: ProviderKind) -> Self {
        Self {
            provider,
            model: None,
            fallback_models: Vec::new(),
            base_url: None,
            api_key: None,
            cache: CacheChoice::Default,
            stream: StreamTimeouts::default(),
        }
    }

    /// The model asked for, or the provider's default.
    #[must_use]
    pub fn model(&self) -> String {
        self.model
            .clone()
            .unwrap_or_else(|| self.provider.default_model().to_owned())
    }

    /// Builds the stack. The API key is resolved now, and the cache directory checked.
    ///
    /// # Errors
    ///
    /// [`LlmError::MissingApiKey`] when the provider needs a key and none is configured or set
    /// in the environment; [`LlmError::UnsafeCacheDir`] when the cache directory belongs to
    /// another user or group or others may write to it (see [`DiskCache::open`]).
    pub fn build(&self) -> Result<Arc<dyn LlmProvider>, LlmError> {
        let base: Arc<dyn LlmProvider> = match self.provider {
            ProviderKind::Simulated => Arc::new(SimulatedProvider::new()),
            ProviderKind::OpenAi => {
                let mut config = OpenAiConfig::openai();
                if let Some(url) = &self.base_url {
                    config.base_url.clone_from(url);
                }
                config.api_key.clone_from(&self.api_key);
                config.stream = self.stream;
                Arc::new(OpenAiProvider::new(&config)?)
            }
            ProviderKind::Anthropic => {
                let mut config = AnthropicConfig::default();
                if let Some(url) = &self.base_url {
                    config.base_url.clone_from(url);
                }
                config.api_key.clone_from(&self.api_key);
                config.stream = self.stream;
                Arc::new(AnthropicProvider::new(&config)?)
            }
        };
        let retried: Arc<dyn LlmProvider> = Arc::new(Retry::new(base, RetryPolicy::default()));
        let dir = match &self.cache {
            CacheChoice::Off => None,
            CacheChoice::Default => default_cache_dir(),
            CacheChoice::Dir(dir) => Some(dir.clone()),
        };
        // The cache sits under the fallback, so that an answer is kept under the model that
        // gave it: a fallback model's answer never stands in for the first model's later.
        let link: Arc<dyn LlmProvider> = match dir {
            Some(dir) => Arc::new(Cached::new(retried, Arc::new(DiskCache::open(dir)?))),
            None => retried,
        };
        Ok(if self.fallback_models.is_empty() {
            link
        } else {
            let mut chain = vec![(Arc::clone(&link), self.model())];
            chain.extend(
                self.fallback_models
                    .iter()
                    .map(|model| (Arc::clone(&link), model.clone())),
            );
            Arc::new(Fallback::new(chain))
        })
    }
}

impl fmt::Debug for StackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackConfig")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("fallback_models", &self.fallback_models)
            .field(
                "base_url",
                &self.base_url.as_deref().map(crate::redact::url),
            )
            .field("api_key", &self.api_key.as_ref().map(|_| REDACTED))
            .field("cache", &self.cache)
            .field("stream", &self.stream)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_names_are_refused() {
        for kind in ProviderKind::ALL {
            assert_eq!(kind.name().parse::<ProviderKind>().unwrap(), kind);
        }
        let error = "gpt".parse::<ProviderKind>().unwrap_err();
        assert!(error.to_string().contains("`gpt`"), "{error}");
        assert!(error.is_usage());
    }

    #[test]
    fn the_model_defaults_to_the_providers() {
        let mut config = StackConfig::new(ProviderKind::Anthropic);
        assert_eq!(config.model(), "claude-3-5-haiku-latest");
        config.model = Some("claude-x".into());
        assert_eq!(config.model(), "claude-x");
    }

    #[test]
    fn the_key_is_never_shown() {
        let config = StackConfig {
            api_key: Some("sk-secret-1234".into()),
            ..StackConfig::new(ProviderKind::OpenAi)
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-secret"), "{shown}");
    }

    #[test]
    fn a_given_key_is_used_instead_of_the_environment() {
        let config = StackConfig {
            api_key: Some("sk-given".into()),
            base_url: Some("https://llm.example.com/v1".into()),
            cache: CacheChoice::Off,
            fallback_models: vec!["gpt-4o".into()],
            ..StackConfig::new(ProviderKind::OpenAi)
        };
        assert!(config.build().is_ok());
        let private = tempfile::tempdir().expect("tempdir");
        let anthropic = StackConfig {
            api_key: Some("sk-given".into()),
            cache: CacheChoice::Dir(private.path().to_owned()),
            ..StackConfig::new(ProviderKind::Anthropic)
        };
        assert!(anthropic.build().is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_shared_temporary_directory_is_no_cache() {
        let config = StackConfig {
            api_key: Some("sk-given".into()),
            cache: CacheChoice::Dir(PathBuf::from("/tmp")),
            ..StackConfig::new(ProviderKind::Anthropic)
        };
        let error = config.build().err().expect("refused");
        let shown = error.to_string();
        assert!(matches!(error, LlmError::UnsafeCacheDir { .. }), "{shown}");
        assert!(shown.contains("/tmp is writable by"), "{shown}");
        assert!(!shown.contains("sk-given"), "{shown}");
    }
}
