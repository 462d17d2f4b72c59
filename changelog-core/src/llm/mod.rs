//! Language-model providers behind one trait.
//!
//! A [`LlmProvider`] answers a [`ChatRequest`] with a [`Completion`], or with a stream of text
//! deltas that ends with the usage. Cross-cutting behaviour (retry, fallback, cache) wraps a
//! provider and is itself a provider, so layers compose the way tower layers do:
//!
//! ```text
//! Cached(Retry(Fallback[Retry(OpenAi gpt-4o-mini), Retry(Anthropic claude-...)]))
//! ```
//!
//! - [`openai`]: OpenAI-compatible chat completions (OpenAI, Azure OpenAI, Ollama, vLLM,
//!   OpenRouter); [`anthropic`]: Anthropic's Messages API. Both stream with [`sse`].
//! - [`retry`], [`fallback`], [`cache`]: the layers; [`stack`]: the stack front ends build
//!   from a few settings (the command line and the Python bindings share it).

pub mod anthropic;
pub mod cache;
pub mod fallback;
mod http;
pub mod openai;
pub mod retry;
pub mod sse;
pub mod stack;
#[cfg(test)]
mod test_support;

pub use anthropic::{AnthropicConfig, AnthropicProvider};
pub use cache::{Cached, CompletionCache, DiskCache, MemoryCache, default_cache_dir};
pub use fallback::Fallback;
pub use openai::{AuthStyle, OpenAiConfig, OpenAiProvider};
pub use retry::{Retry, RetryPolicy};
pub use sse::{LineTooLong, SseDecoder, SseEvent};
pub use stack::{CacheChoice, ProviderKind, StackConfig};

pub mod simulated;

use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::Stream;
use serde::{Deserialize, Serialize};

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The question.
    User,
    /// An earlier answer.
    Assistant,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl Message {
    /// A system message.
    #[must_use]
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    /// A user message.
    #[must_use]
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
}

/// A request for one answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model, as the provider names it (`gpt-4o-mini`).
    pub model: String,
    /// System message(s) first, then the user message.
    pub messages: Vec<Message>,
    /// Sampling temperature.
    pub temperature: f32,
    /// The most tokens the answer may have.
    pub max_output_tokens: u32,
}

/// Tokens a request consumed, as the provider counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Self) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It was done.
    Stop,
    /// It reached the output token limit: the answer is cut.
    Length,
    /// A content filter stopped it.
    ContentFilter,
    /// Anything else the provider said.
    Other(String),
}

/// A whole answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The answer's text.
    pub text: String,
    /// Tokens used.
    pub usage: Usage,
    /// The model that answered (as the provider reports it).
    pub model: String,
    /// Why it stopped.
    pub finish_reason: FinishReason,
    /// Whether it came from a cache rather than from the provider (no request was sent).
    #[serde(default)]
    pub cached: bool,
}

/// One event of a streamed answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StreamEvent {
    /// More text.
    Delta(String),
    /// The end of the answer; nothing follows.
    Done {
        /// Tokens used.
        usage: Usage,
        /// The model that answered.
        model: String,
        /// Why it stopped.
        finish_reason: FinishReason,
    },
}

/// How much a provider's server may send, so that no answer can fill the memory.
///
/// A whole answer announced or found larger than `max_body_bytes`, an event-stream line (or
/// the data of one event) longer than `max_line_bytes`, and a stream longer than
/// `max_stream_bytes` in all are refused with [`LlmError::TooLarge`], without reading further.
/// The bodies of error answers are read up to 64 KiB and cut there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// The largest whole (not streamed) answer: 8 MiB by default, some twenty times the
    /// JSON of a 100,000-token answer.
    pub max_body_bytes: u64,
    /// The longest event-stream line, and the most data of one event: 1 MiB by default.
    pub max_line_bytes: usize,
    /// The most bytes of one streamed answer: 64 MiB by default (a 100,000-token answer sent
    /// a token per event takes about 25 MiB).
    pub max_stream_bytes: u64,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 << 20,
            max_line_bytes: sse::DEFAULT_MAX_LINE_BYTES,
            max_stream_bytes: 64 << 20,
        }
    }
}

/// How long a streamed answer may take. Keep-alive comments do not count as progress, so a
/// server that sends only those, or a token now and then, is stopped all the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamTimeouts {
    /// The longest wait for the next event that carries data.
    pub idle: Duration,
    /// The longest a whole stream may take, from the request to its end.
    pub total: Duration,
}

impl StreamTimeouts {
    /// Default wait for the next event: 120 s.
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(120);
    /// Default deadline of a whole stream: 600 s.
    pub const DEFAULT_TOTAL: Duration = Duration::from_secs(600);
}

impl Default for StreamTimeouts {
    fn default() -> Self {
        Self {
            idle: Self::DEFAULT_IDLE,
            total: Self::DEFAULT_TOTAL,
        }
    }
}

/// A streamed answer.
pub type CompletionStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, LlmError>> + Send>>;

/// A language model service.
///
/// Object-safe and `Send + Sync`: providers are chosen at run time and shared as
/// `Arc<dyn LlmProvider>`.
#[async_trait]
pub trait LlmProvider: Send + Sync {
    /// Short name for messages and cache keys (`openai`, `anthropic`, `simulated`).
    fn name(&self) -> &str;

    /// Where requests go, as answer cache keys tell endpoints apart: the API and its base URL
    /// (`openai-chat-completions https://api.openai.com/v1`), never a credential. Layers
    /// pass on their inner provider's. The default, for providers that send nothing over a
    /// network, is the name.
    fn endpoint(&self) -> String {
        self.name().to_owned()
    }

    /// Asks for a whole answer.
    async fn complete(&self, request: &ChatRequest) -> Result<Completion, LlmError>;

    /// Forgets a stored answer to `request`, when an answer turned out unusable (it kept no
    /// entry). Layers pass it on; only a cache has something to forget. The default does
    /// nothing.
    async fn forget(&self, _request: &ChatRequest) {}

    /// Asks for an answer as a stream of deltas ending with [`StreamEvent::Done`]. The default
    /// sends the whole answer as one delta.
    async fn stream(&self, request: &ChatRequest) -> Result<CompletionStream, LlmError> {
        let completion = self.complete(request).await?;
        let events = vec![
            Ok(StreamEvent::Delta(completion.text)),
            Ok(StreamEvent::Done {
                usage: completion.usage,
                model: completion.model,
                finish_reason: completion.finish_reason,
            }),
        ];
        Ok(Box::pin(futures_util::stream::iter(events)))
    }
}

/// What went wrong talking to a provider. Messages never contain credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The provider answered with an HTTP error status.
    #[error("{provider} answered HTTP {status}: {message}")]
    Status {
        /// Provider name.
        provider: String,
        /// HTTP status code.
        status: u16,
        /// The provider's explanation (credentials redacted).
        message: String,
        /// How long the provider asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The answer carried an error instead of text: a 200 whose body is `{"error": ...}`, an
    /// error chunk or `error` event inside a stream, or an error body where a stream was
    /// expected. Retried (and passed to fallback) as the HTTP status its type stands for.
    #[error("{provider} answered with an error{}: {message}", if kind.is_empty() { String::new() } else { format!(" ({kind})") })]
    ErrorInAnswer {
        /// Provider name.
        provider: String,
        /// Where it came and its type (`error event overloaded_error`).
        kind: String,
        /// The HTTP status its type stands for, for retrying.
        status: u16,
        /// The provider's explanation (credentials redacted).
        message: String,
    },
    /// No answer in time.
    #[error("{provider} did not answer within {seconds} s")]
    Timeout {
        /// Provider name.
        provider: String,
        /// The limit that passed.
        seconds: u64,
    },
    /// The connection failed.
    #[error("cannot reach {provider} at {url}: {message}")]
    Connection {
        /// Provider name.
        provider: String,
        /// The URL tried.
        url: String,
        /// What failed.
        message: String,
    },
    /// The answer could not be understood.
    #[error("{provider} sent an answer that cannot be read: {message}")]
    InvalidResponse {
        /// Provider name.
        provider: String,
        /// What is wrong with it.
        message: String,
    },
    /// A stream ran past its overall deadline ([`StreamTimeouts::total`]).
    #[error(
        "{provider} was still streaming after {seconds} s, the stream deadline; stopped (raise it with --stream-deadline)"
    )]
    StreamDeadline {
        /// Provider name.
        provider: String,
        /// The deadline, in seconds.
        seconds: u64,
    },
    /// A streamed answer ended before its end event.
    #[error("{provider} stopped streaming before the answer was complete")]
    StreamInterrupted {
        /// Provider name.
        provider: String,
    },
    /// No API key was configured.
    #[error("{provider} needs an API key: set {variable}")]
    MissingApiKey {
        /// Provider name.
        provider: String,
        /// The environment variable read.
        variable: String,
    },
    /// The provider answered with a redirect, which is never followed: the request carries
    /// the API key, and another origin must not receive it.
    #[error(
        "{provider} answered HTTP {status}, a redirect to {location}; redirects are not followed, so that the API key goes nowhere else: set the base URL to the address that answers"
    )]
    Redirect {
        /// Provider name.
        provider: String,
        /// HTTP status code (3xx).
        status: u16,
        /// Where it pointed, without user name, password, query or fragment.
        location: String,
    },
    /// An answer, an event-stream line or a whole stream was larger than its limit
    /// ([`ResponseLimits`]), and was refused without reading the rest.
    #[error("{provider} sent {what} larger than the limit of {limit} bytes; refused")]
    TooLarge {
        /// Provider name.
        provider: String,
        /// What was too large (`an answer`, `an event-stream line`, `an event stream`).
        what: String,
        /// The limit that was passed, in bytes.
        limit: u64,
    },
    /// The answer cache's directory could be written by another user, who could plant
    /// answers in it.
    #[error(
        "the answer cache directory {dir} {problem}, so another user could plant answers in it: make it yours and private (`chown \"$(id -un)\" DIR && chmod 700 DIR`), choose another directory with CHANGELOG_CACHE_DIR, or turn the cache off (`--no-cache`; `cache=False` in Python)"
    )]
    UnsafeCacheDir {
        /// The directory.
        dir: String,
        /// What is wrong with it (`is writable by other users (mode 0777)`).
        problem: String,
    },
    /// Every provider of a fallback chain failed; the last error is kept.
    #[error("every provider failed; last: {last}")]
    Exhausted {
        /// The last failure.
        last: Box<LlmError>,
    },
}

impl LlmError {
    /// Whether trying the same request again may succeed: timeouts, connection failures,
    /// interrupted streams, 408, 409, 429 and 5xx. Other 4xx are the request's fault.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } | Self::ErrorInAnswer { status, .. } => {
                matches!(status, 408 | 409 | 429 | 500..=599)
            }
            Self::Timeout { .. } | Self::Connection { .. } | Self::StreamInterrupted { .. } => true,
            Self::InvalidResponse { .. }
            | Self::MissingApiKey { .. }
            | Self::Redirect { .. }
            | Self::TooLarge { .. }
            | Self::StreamDeadline { .. }
            | Self::UnsafeCacheDir { .. }
            | Self::Exhausted { .. } => false,
        }
    }

    /// Whether the request itself is at fault (malformed, too large), so that another model or
    /// provider would fail the same way: 400, 413 and 422.
    #[must_use]
    pub fn is_request_fault(&self) -> bool {
        matches!(
            self,
            Self::Status {
                status: 400 | 413 | 422,
                ..
            } | Self::ErrorInAnswer {
                status: 400 | 413 | 422,
                ..
            }
        )
    }

    /// The wait the provider asked for, if any.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        })
    }
}
