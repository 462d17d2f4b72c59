//! Anthropic's Messages API.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::http::{self, HttpClient, KeySource, REDACTED, SseHandler};
use super::sse::SseEvent;
use super::{
    ChatRequest, Completion, CompletionStream, FinishReason, LlmError, LlmProvider, ResponseLimits,
    Role, StreamEvent, StreamTimeouts, Usage,
};

/// The API version sent in `anthropic-version`.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Where and how to reach Anthropic.
#[derive(Clone)]
pub struct AnthropicConfig {
    /// The API root, before `/v1/messages` (`https://api.anthropic.com`).
    pub base_url: String,
    /// The API key; `None` reads [`api_key_env`](Self::api_key_env).
    pub api_key: Option<String>,
    /// The environment variable read when `api_key` is `None` (`ANTHROPIC_API_KEY`).
    pub api_key_env: String,
    /// The longest wait for an answer (for a stream: for its head, then between chunks).
    pub timeout: Duration,
    /// How much the server may send.
    pub limits: ResponseLimits,
    /// How long a streamed answer may wait for its next event and take in all.
    pub stream: StreamTimeouts,
}

impl Default for AnthropicConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.anthropic.com".to_owned(),
            api_key: None,
            api_key_env: "ANTHROPIC_API_KEY".to_owned(),
            timeout: Duration::from_secs(120),
            limits: ResponseLimits::default(),
            stream: StreamTimeouts::default(),
        }
    }
}

impl AnthropicConfig {
    /// The same configuration with this key.
    #[must_use]
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }
}

impl fmt::Debug for AnthropicConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| REDACTED))
            .field("api_key_env", &self.api_key_env)
            .field("timeout", &self.timeout)
            .field("limits", &self.limits)
            .field("stream", &self.stream)
            .finish()
    }
}

/// A Messages API client (`POST {base_url}/v1/messages`).
#[derive(Debug)]
pub struct AnthropicProvider {
    http: HttpClient,
    url: String,
    endpoint: String,
}

const NAME: &str = "anthropic";

impl AnthropicProvider {
    /// A provider for this configuration. The key is resolved now.
    ///
    /// # Errors
    ///
    /// [`LlmError::MissingApiKey`] when no key is configured or set in the environment, or
    /// the key cannot be sent in a header.
    pub fn new(config: &AnthropicConfig) -> Result<Self, LlmError> {
        let keys = KeySource {
            provider: NAME,
            configured: config.api_key.as_deref(),
            variable: &config.api_key_env,
            optional_for_local: false,
            base_url: &config.base_url,
        };
        let key = keys.resolve()?.ok_or_else(|| keys.missing())?;
        let headers = [
            ("x-api-key", key.clone()),
            ("anthropic-version", ANTHROPIC_VERSION.to_owned()),
        ];
        let http = HttpClient::new(
            NAME,
            config.timeout,
            Some(key),
            &headers,
            config.limits,
            || keys.missing(),
        )?
        .with_stream_timeouts(config.stream);
        let url = format!("{}/v1/messages", config.base_url.trim_end_matches('/'));
        Ok(Self {
            http,
            url,
            endpoint: http::endpoint("anthropic-messages", &config.base_url),
        })
    }

    /// System messages go to `system` (joined by blank lines), the others to `messages`.
    fn body(request: &ChatRequest, stream: bool) -> RequestBody<'_> {
        let system: Vec<&str> = request
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        RequestBody {
            model: &request.model,
            system: (!system.is_empty()).then(|| system.join("\n\n")),
            messages: request
                .messages
                .iter()
                .filter(|m| m.role != Role::System)
                .map(|m| WireMessage {
                    role: m.role,
                    content: &m.content,
                })
                .collect(),
            max_tokens: request.max_output_tokens,
            temperature: request.temperature,
            stream,
        }
    }
}

#[async_trait]
impl LlmProvider for AnthropicProvider {
    fn name(&self) -> &str {
        NAME
    }

    /// `anthropic-messages https://api.anthropic.com`: the API and its base URL.
    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    async fn complete(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        let body = Self::body(request, false);
        let answer: ResponseBody = self.http.post_json(&self.url, &body).await?;
        let text = answer
            .content
            .iter()
            .filter_map(|block| block.text.as_deref())
            .collect();
        Ok(Completion {
            text,
            usage: answer.usage.into(),
            model: answer.model.unwrap_or_else(|| request.model.clone()),
            finish_reason: http::finish_reason(answer.stop_reason.as_deref()),
            cached: false,
        })
    }

    async fn stream(&self, request: &ChatRequest) -> Result<CompletionStream, LlmError> {
        let body = Self::body(request, true);
        let handler = EventHandler {
            model: request.model.clone(),
            usage: Usage::default(),
            finish_reason: None,
        };
        self.http.post_sse(&self.url, &body, handler).await
    }
}

#[derive(Serialize)]
struct RequestBody<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    messages: Vec<WireMessage<'a>>,
    max_tokens: u32,
    temperature: f32,
    stream: bool,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: Role,
    content: &'a str,
}

#[derive(Deserialize)]
struct ResponseBody {
    model: Option<String>,
    #[serde(default)]
    content: Vec<Block>,
    stop_reason: Option<String>,
    #[serde(default)]
    usage: UsageBody,
}

/// A content block; only `text` blocks have text.
#[derive(Deserialize)]
struct Block {
    text: Option<String>,
}

#[derive(Deserialize, Default)]
struct UsageBody {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

impl From<UsageBody> for Usage {
    fn from(usage: UsageBody) -> Self {
        Self {
            input_tokens: usage.input_tokens.unwrap_or_default(),
            output_tokens: usage.output_tokens.unwrap_or_default(),
        }
    }
}

/// The `data` of every stream event; each type fills the fields it has.
#[derive(Deserialize)]
struct EventData {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<StartMessage>,
    content_block: Option<Block>,
    delta: Option<EventDelta>,
    usage: Option<UsageBody>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct StartMessage {
    model: Option<String>,
    #[serde(default)]
    usage: UsageBody,
}

#[derive(Deserialize)]
struct EventDelta {
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

/// Reads the event types of a Messages stream until `message_stop`.
struct EventHandler {
    model: String,
    usage: Usage,
    finish_reason: Option<FinishReason>,
}

impl SseHandler for EventHandler {
    fn on_event(&mut self, event: SseEvent) -> Result<Option<StreamEvent>, LlmError> {
        let data: EventData =
            serde_json::from_str(&event.data).map_err(|e| LlmError::InvalidResponse {
                provider: NAME.to_owned(),
                message: format!("a stream event cannot be read: {e}"),
            })?;
        let kind = event
            .event
            .as_deref()
            .or(data.kind.as_deref())
            .unwrap_or("");
        match kind {
            "message_start" => {
                if let Some(message) = data.message {
                    if let Some(model) = message.model.filter(|m| !m.is_empty()) {
                        self.model = model;
                    }
                    self.usage = message.usage.into();
                }
                Ok(None)
            }
            "content_block_start" => Ok(data
                .content_block
                .and_then(|block| block.text)
                .filter(|text| !text.is_empty())
                .map(StreamEvent::Delta)),
            "content_block_delta" => Ok(data
                .delta
                .filter(|delta| delta.kind.as_deref() == Some("text_delta"))
                .and_then(|delta| delta.text)
                .filter(|text| !text.is_empty())
                .map(StreamEvent::Delta)),
            "message_delta" => {
                if let Some(usage) = data.usage {
                    // Counts here are totals so far, not increments.
                    if let Some(output) = usage.output_tokens {
                        self.usage.output_tokens = output;
                    }
                    if let Some(input) = usage.input_tokens.filter(|&n| n > 0) {
                        self.usage.input_tokens = input;
                    }
                }
                if let Some(reason) = data.delta.and_then(|d| d.stop_reason) {
                    self.finish_reason = Some(http::finish_reason(Some(&reason)));
                }
                Ok(None)
            }
            "message_stop" => Ok(Some(StreamEvent::Done {
                usage: self.usage,
                model: std::mem::take(&mut self.model),
                finish_reason: self
                    .finish_reason
                    .take()
                    .unwrap_or_else(|| http::finish_reason(None)),
            })),
            "error" => {
                let error = data.error.unwrap_or(ErrorBody {
                    kind: None,
                    message: None,
                });
                let kind = error.kind.unwrap_or_default();
                Err(LlmError::ErrorInAnswer {
                    provider: NAME.to_owned(),
                    status: http::status_of_error_type(&kind),
                    kind: format!("`error` event in the stream, type {kind}"),
                    message: error.message.unwrap_or(kind),
                })
            }
            // `ping`, `content_block_stop`, and event types added after this was written.
            _ => Ok(None),
        }
    }
}
