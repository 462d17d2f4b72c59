//! OpenAI-compatible chat completions: OpenAI, Azure OpenAI, Ollama, vLLM, OpenRouter.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::http::{self, HttpClient, KeySource, REDACTED, SseHandler};
use super::sse::SseEvent;
use super::{
    ChatRequest, Completion, CompletionStream, FinishReason, LlmError, LlmProvider, Message,
    ResponseLimits, StreamEvent, StreamTimeouts, Usage,
};

/// How the API key is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>` (OpenAI, OpenRouter, vLLM, Ollama).
    #[default]
    Bearer,
    /// `api-key: <key>` (Azure OpenAI).
    ApiKeyHeader,
}

/// Where and how to reach an OpenAI-compatible service.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The provider's name in messages and cache keys (`openai`; `ollama`, `azure`...).
    pub name: String,
    /// The API root, before `/chat/completions` (`https://api.openai.com/v1`; for Azure,
    /// `https://{resource}.openai.azure.com/openai/deployments/{deployment}`).
    pub base_url: String,
    /// The API key; `None` reads [`api_key_env`](Self::api_key_env). A base URL on this
    /// machine (`localhost`, `127.0.0.1`, `::1`) may go without a key.
    pub api_key: Option<String>,
    /// The environment variable read when `api_key` is `None` (`OPENAI_API_KEY`).
    pub api_key_env: String,
    /// How the key is sent.
    pub auth: AuthStyle,
    /// The longest wait for an answer (for a stream: for its head; then see `stream`).
    pub timeout: Duration,
    /// How much the server may send.
    pub limits: ResponseLimits,
    /// How long a streamed answer may wait for its next event and take in all.
    pub stream: StreamTimeouts,
    /// A query string added to the URL, without `?` (Azure: `api-version=2024-10-21`).
    pub query: Option<String>,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            name: "openai".to_owned(),
            base_url: "https://api.openai.com/v1".to_owned(),
            api_key: None,
            api_key_env: "OPENAI_API_KEY".to_owned(),
            auth: AuthStyle::Bearer,
            timeout: Duration::from_secs(120),
            limits: ResponseLimits::default(),
            stream: StreamTimeouts::default(),
            query: None,
        }
    }
}

impl OpenAiConfig {
    /// OpenAI itself, with the key from `OPENAI_API_KEY`.
    #[must_use]
    pub fn openai() -> Self {
        Self::default()
    }

    /// Azure OpenAI: `base_url` is the deployment's URL
    /// (`https://{resource}.openai.azure.com/openai/deployments/{deployment}`); the key is
    /// sent in an `api-key` header and read from `AZURE_OPENAI_API_KEY` unless given.
    #[must_use]
    pub fn azure(base_url: impl Into<String>, api_version: &str) -> Self {
        Self {
            name: "azure-openai".to_owned(),
            base_url: base_url.into(),
            api_key_env: "AZURE_OPENAI_API_KEY".to_owned(),
            auth: AuthStyle::ApiKeyHeader,
            query: Some(format!("api-version={api_version}")),
            ..Self::default()
        }
    }

    /// A server on this machine, such as Ollama (`http://localhost:11434/v1`), vLLM or
    /// llama.cpp: no key needed.
    #[must_use]
    pub fn local(name: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            base_url: base_url.into(),
            ..Self::default()
        }
    }

    /// The same configuration with this key.
    #[must_use]
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| REDACTED))
            .field("api_key_env", &self.api_key_env)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("limits", &self.limits)
            .field("stream", &self.stream)
            .field("query", &self.query)
            .finish()
    }
}

/// A chat completions client (`POST {base_url}/chat/completions`).
#[derive(Debug)]
pub struct OpenAiProvider {
    http: HttpClient,
    url: String,
    endpoint: String,
}

impl OpenAiProvider {
    /// A provider for this configuration. The key is resolved now.
    ///
    /// # Errors
    ///
    /// [`LlmError::MissingApiKey`] when no key is configured or set in the environment (and
    /// the server is not on this machine), or the key cannot be sent in a header.
    pub fn new(config: &OpenAiConfig) -> Result<Self, LlmError> {
        let keys = KeySource {
            provider: &config.name,
            configured: config.api_key.as_deref(),
            variable: &config.api_key_env,
            optional_for_local: true,
            base_url: &config.base_url,
        };
        let key = keys.resolve()?;
        let headers: Vec<(&'static str, String)> = match (&key, config.auth) {
            (None, _) => Vec::new(),
            (Some(key), AuthStyle::Bearer) => vec![("authorization", format!("Bearer {key}"))],
            (Some(key), AuthStyle::ApiKeyHeader) => vec![("api-key", key.clone())],
        };
        let http = HttpClient::new(
            &config.name,
            config.timeout,
            key,
            &headers,
            config.limits,
            || keys.missing(),
        )?
        .with_stream_timeouts(config.stream);
        let mut url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        if let Some(query) = config.query.as_deref().map(|q| q.trim_start_matches('?'))
            && !query.is_empty()
        {
            url.push('?');
            url.push_str(query);
        }
        Ok(Self {
            http,
            url,
            endpoint: http::endpoint("openai-chat-completions", &config.base_url),
        })
    }

    fn body<'a>(request: &'a ChatRequest, stream: bool) -> RequestBody<'a> {
        // Reasoning models refuse `max_tokens` and any temperature but their own; servers
        // that only mimic the API may not know `max_completion_tokens`, so the others keep
        // the older field.
        let reasoning = is_reasoning_model(&request.model);
        RequestBody {
            model: &request.model,
            messages: &request.messages,
            temperature: (!reasoning).then_some(request.temperature),
            max_tokens: (!reasoning).then_some(request.max_output_tokens),
            max_completion_tokens: reasoning.then_some(request.max_output_tokens),
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
        }
    }
}

#[async_trait]
impl LlmProvider for OpenAiProvider {
    fn name(&self) -> &str {
        self.http.provider()
    }

    /// `openai-chat-completions https://api.openai.com/v1`: the API and its base URL.
    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    async fn complete(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        let body = Self::body(request, false);
        let answer: ResponseBody = self.http.post_json(&self.url, &body).await?;
        if let Some(error) = answer.error {
            return Err(self.http.redact_error(
                error.into_error(self.http.provider(), "a 200 whose body is an error"),
            ));
        }
        let choice = answer
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| self.http.invalid("the answer has no choices"))?;
        let usage = answer.usage.map(Usage::from).unwrap_or_default();
        Ok(Completion {
            text: choice.message.content.unwrap_or_default(),
            usage,
            model: answer.model.unwrap_or_else(|| request.model.clone()),
            finish_reason: http::finish_reason(choice.finish_reason.as_deref()),
            cached: false,
        })
    }

    async fn stream(&self, request: &ChatRequest) -> Result<CompletionStream, LlmError> {
        let body = Self::body(request, true);
        let handler = ChunkHandler {
            provider: self.http.provider().to_owned(),
            model: request.model.clone(),
            finish_reason: None,
            usage: None,
        };
        self.http.post_sse(&self.url, &body, handler).await
    }
}

/// Whether `model` is one of OpenAI's reasoning models (o1, o3, o4-mini, gpt-5 but not its
/// chat variant), which take `max_completion_tokens` and no temperature. A deployment or
/// router prefix (`openai/o3-mini`) is looked through.
#[must_use]
pub fn is_reasoning_model(model: &str) -> bool {
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    let o_series = name
        .strip_prefix('o')
        .is_some_and(|rest| rest.bytes().next().is_some_and(|b| b.is_ascii_digit()));
    let gpt5 = name.starts_with("gpt-5") && !name.contains("-chat");
    o_series || gpt5
}

#[derive(Serialize)]
struct RequestBody<'a> {
    model: &'a str,
    messages: &'a [Message],
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Deserialize)]
struct ResponseBody {
    error: Option<ChunkError>,
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<UsageBody>,
}

#[derive(Deserialize)]
struct Choice {
    message: AnswerMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct AnswerMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct UsageBody {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl From<UsageBody> for Usage {
    fn from(usage: UsageBody) -> Self {
        Self {
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
        }
    }
}

#[derive(Deserialize)]
struct Chunk {
    model: Option<String>,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<UsageBody>,
    error: Option<ChunkError>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    content: Option<String>,
}

#[derive(Deserialize)]
struct ChunkError {
    message: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<serde_json::Value>,
}

impl ChunkError {
    /// The error an answer carried, keeping its message and its type.
    fn into_error(self, provider: &str, place: &str) -> LlmError {
        let code = self.code.as_ref().and_then(serde_json::Value::as_str);
        let kind = code.or(self.kind.as_deref()).unwrap_or_default().to_owned();
        LlmError::ErrorInAnswer {
            provider: provider.to_owned(),
            status: http::status_of_error_type(&kind),
            message: self.message.unwrap_or_else(|| kind.clone()),
            kind: if kind.is_empty() {
                place.to_owned()
            } else {
                format!("{place}, type {kind}")
            },
        }
    }
}

/// Reads `data:` chunks until `data: [DONE]`.
struct ChunkHandler {
    provider: String,
    model: String,
    finish_reason: Option<FinishReason>,
    usage: Option<Usage>,
}

impl ChunkHandler {
    fn done(&mut self) -> StreamEvent {
        StreamEvent::Done {
            usage: self.usage.unwrap_or_default(),
            model: std::mem::take(&mut self.model),
            finish_reason: self
                .finish_reason
                .take()
                .unwrap_or_else(|| http::finish_reason(None)),
        }
    }
}

impl SseHandler for ChunkHandler {
    fn on_event(&mut self, event: SseEvent) -> Result<Option<StreamEvent>, LlmError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(Some(self.done()));
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| LlmError::InvalidResponse {
            provider: self.provider.clone(),
            message: format!("a stream chunk cannot be read: {e}"),
        })?;
        if let Some(error) = chunk.error {
            return Err(error.into_error(&self.provider, "an error chunk in the stream"));
        }
        if let Some(model) = chunk.model.filter(|m| !m.is_empty()) {
            self.model = model;
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        let Some(choice) = chunk.choices.into_iter().next() else {
            return Ok(None);
        };
        if let Some(reason) = choice.finish_reason {
            self.finish_reason = Some(http::finish_reason(Some(&reason)));
        }
        Ok(choice
            .delta
            .content
            .filter(|text| !text.is_empty())
            .map(StreamEvent::Delta))
    }

    /// Some compatible servers close the stream without `[DONE]`; the usage chunk after the
    /// finish reason shows that the answer was complete all the same.
    fn on_end(&mut self, interrupted: LlmError) -> Result<StreamEvent, LlmError> {
        if self.usage.is_some() && self.finish_reason.is_some() {
            Ok(self.done())
        } else {
            Err(interrupted)
        }
    }
}
