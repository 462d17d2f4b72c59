//! What the HTTP providers share: sending a JSON request, turning HTTP failures into
//! [`LlmError`]s, `Retry-After`, keeping the API key out of every error, and reading an SSE
//! body as a [`CompletionStream`].
//!
//! Redirects are never followed: the request carries the API key in a header (`x-api-key`,
//! `api-key`) that an HTTP client would pass on to any origin, so a 3xx answer is an
//! [`LlmError::Redirect`] that names the target. Every body is read chunk by chunk within
//! [`ResponseLimits`].

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{Stream, StreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::sse::{SseDecoder, SseEvent};
use super::{
    CompletionStream, FinishReason, LlmError, ResponseLimits, StreamEvent, StreamTimeouts,
};

/// What replaces the API key wherever it would show.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// The longest provider error text kept in a message (HTML error pages can be long).
const MAX_MESSAGE_CHARS: usize = 1000;

/// The most of an error answer's body that is read; the rest is left unread.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Where the key comes from, resolved once when a provider is built.
pub(crate) struct KeySource<'a> {
    pub(crate) provider: &'a str,
    pub(crate) configured: Option<&'a str>,
    pub(crate) variable: &'a str,
    /// A server on this machine (Ollama, vLLM) may go without a key.
    pub(crate) optional_for_local: bool,
    pub(crate) base_url: &'a str,
}

impl KeySource<'_> {
    /// The key from the configuration, else from the environment; `None` only where a local
    /// server may go without.
    pub(crate) fn resolve(&self) -> Result<Option<String>, LlmError> {
        let from_env = || std::env::var(self.variable).ok();
        let key = self
            .configured
            .map(str::to_owned)
            .or_else(from_env)
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
        match key {
            Some(key) => Ok(Some(key)),
            None if self.optional_for_local && is_local(self.base_url) => Ok(None),
            None => Err(self.missing()),
        }
    }

    pub(crate) fn missing(&self) -> LlmError {
        LlmError::MissingApiKey {
            provider: self.provider.to_owned(),
            variable: self.variable.to_owned(),
        }
    }
}

/// Whether a base URL points at this machine.
pub(crate) fn is_local(base_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Keeps one secret out of texts and errors.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secret: Option<String>,
}

impl Redactor {
    pub(crate) fn new(secret: Option<String>) -> Self {
        Self {
            secret: secret.filter(|s| !s.is_empty()),
        }
    }

    /// Replaces the secret wherever it occurs.
    pub(crate) fn redact(&self, text: &str) -> String {
        match &self.secret {
            Some(secret) => text.replace(secret.as_str(), REDACTED),
            None => text.to_owned(),
        }
    }

    /// The same error with the secret removed from every text it carries.
    pub(crate) fn redact_error(&self, error: LlmError) -> LlmError {
        match error {
            LlmError::Status {
                provider,
                status,
                message,
                retry_after,
            } => LlmError::Status {
                provider,
                status,
                message: self.redact(&message),
                retry_after,
            },
            LlmError::Connection {
                provider,
                url,
                message,
            } => LlmError::Connection {
                provider,
                url: self.redact(&url),
                message: self.redact(&message),
            },
            LlmError::InvalidResponse { provider, message } => LlmError::InvalidResponse {
                provider,
                message: self.redact(&message),
            },
            LlmError::ErrorInAnswer {
                provider,
                kind,
                status,
                message,
            } => LlmError::ErrorInAnswer {
                provider,
                kind: self.redact(&kind),
                status,
                message: self.redact(&message),
            },
            LlmError::Redirect {
                provider,
                status,
                location,
            } => LlmError::Redirect {
                provider,
                status,
                location: self.redact(&location),
            },
            LlmError::Exhausted { last } => LlmError::Exhausted {
                last: Box::new(self.redact_error(*last)),
            },
            other => other,
        }
    }
}

/// An HTTP client for one provider: knows its name, its timeout and the key to hide.
pub(crate) struct HttpClient {
    provider: String,
    client: reqwest::Client,
    timeout: Duration,
    redactor: Redactor,
    headers: HeaderMap,
    limits: ResponseLimits,
    stream: StreamTimeouts,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.provider)
            .field("timeout", &self.timeout)
            .field("secret", &self.redactor.secret.as_ref().map(|_| REDACTED))
            .field("limits", &self.limits)
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client that sends `headers` (marked sensitive) with every request, hides `secret`
    /// from every error, follows no redirect and reads answers within `limits`. A header
    /// value that cannot be sent gives `bad_header`.
    pub(crate) fn new(
        provider: &str,
        timeout: Duration,
        secret: Option<String>,
        headers: &[(&'static str, String)],
        limits: ResponseLimits,
        bad_header: impl Fn() -> LlmError,
    ) -> Result<Self, LlmError> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let mut value = HeaderValue::from_str(value).map_err(|_| bad_header())?;
            value.set_sensitive(true);
            map.insert(HeaderName::from_static(name), value);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("changelog-core/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| LlmError::Connection {
                provider: provider.to_owned(),
                url: String::new(),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self {
            provider: provider.to_owned(),
            client,
            timeout,
            redactor: Redactor::new(secret),
            headers: map,
            limits,
            stream: StreamTimeouts::default(),
        })
    }

    /// The same client with these stream timeouts.
    pub(crate) fn with_stream_timeouts(mut self, stream: StreamTimeouts) -> Self {
        self.stream = stream;
        self
    }

    /// The provider's name.
    pub(crate) fn provider(&self) -> &str {
        &self.provider
    }

    /// Replaces the key wherever it occurs.
    pub(crate) fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// The same error with the key removed from every text it carries.
    pub(crate) fn redact_error(&self, error: LlmError) -> LlmError {
        self.redactor.redact_error(error)
    }

    pub(crate) fn timeout_error(&self) -> LlmError {
        LlmError::Timeout {
            provider: self.provider.clone(),
            seconds: self.timeout.as_secs_f64().ceil() as u64,
        }
    }

    pub(crate) fn invalid(&self, message: impl fmt::Display) -> LlmError {
        LlmError::InvalidResponse {
            provider: self.provider.clone(),
            message: self.redact(&message.to_string()),
        }
    }

    /// A failure to send or to read an answer.
    fn transport_error(&self, error: &reqwest::Error, url: &str) -> LlmError {
        if error.is_timeout() {
            return self.timeout_error();
        }
        LlmError::Connection {
            provider: self.provider.clone(),
            url: self.redact(&shown_url_text(url)),
            message: self.redact(&shown_urls_in(&error_chain(error), url)),
        }
    }

    fn too_large(&self, what: String, limit: u64) -> LlmError {
        LlmError::TooLarge {
            provider: self.provider.clone(),
            what,
            limit,
        }
    }

    /// Sends a JSON body and waits for the answer's head (at most the timeout). A redirect
    /// becomes [`LlmError::Redirect`], any other status but 2xx [`LlmError::Status`].
    async fn send(&self, url: &str, body: &impl Serialize) -> Result<reqwest::Response, LlmError> {
        let request = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .json(body);
        let response = tokio::time::timeout(self.timeout, request.send())
            .await
            .map_err(|_| self.timeout_error())?
            .map_err(|e| self.transport_error(&e, url))?;
        let status = response.status();
        if status.is_success() {
            Ok(response)
        } else if status.is_redirection() {
            Err(self.redirect_error(&response, url))
        } else {
            Err(self.status_error(response).await)
        }
    }

    /// A redirect, named by its target without user name, password, query or fragment.
    fn redirect_error(&self, response: &reqwest::Response, url: &str) -> LlmError {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|target| reqwest::Url::parse(url).ok()?.join(target).ok())
            .map_or_else(|| "an address it did not give".to_owned(), shown_url);
        LlmError::Redirect {
            provider: self.provider.clone(),
            status: response.status().as_u16(),
            location: self.redact(&location),
        }
    }

    async fn status_error(&self, mut response: reqwest::Response) -> LlmError {
        let status = response.status();
        let retry_after = retry_after(response.headers(), SystemTime::now());
        let mut bytes = Vec::new();
        let read = async {
            while bytes.len() < MAX_ERROR_BODY_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                    Ok(None) | Err(_) => break,
                }
            }
        };
        let _in_time = tokio::time::timeout(self.timeout, read).await;
        bytes.truncate(MAX_ERROR_BODY_BYTES);
        let body = String::from_utf8_lossy(&bytes);
        let message = error_message(&body)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("no reason").to_owned());
        LlmError::Status {
            provider: self.provider.clone(),
            status: status.as_u16(),
            message: self.redact(&message),
            retry_after,
        }
    }

    /// Sends a JSON body and reads a JSON answer, all within the timeout.
    pub(crate) async fn post_json<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &impl Serialize,
    ) -> Result<T, LlmError> {
        let exchange = async {
            let response = self.send(url, body).await?;
            let bytes = self.read_body(response, url).await?;
            serde_json::from_slice(&bytes).map_err(|e| self.invalid(format_args!("{e}")))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| self.timeout_error())?
    }

    /// Reads a whole answer chunk by chunk, refusing it as soon as it is announced or found to
    /// be larger than the limit.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        url: &str,
    ) -> Result<Vec<u8>, LlmError> {
        let limit = self.limits.max_body_bytes;
        if let Some(announced) = response.content_length()
            && announced > limit
        {
            return Err(self.too_large(format!("an answer announced as {announced} bytes"), limit));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(&e, url))?
        {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(self.too_large("an answer".to_owned(), limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Sends a JSON body and reads the answer as Server-Sent Events, which `handler` turns
    /// into stream events. Waiting longer than the timeout for the head or for the next chunk
    /// is a [`LlmError::Timeout`]; a body that breaks off is [`LlmError::StreamInterrupted`].
    pub(crate) async fn post_sse<H: SseHandler>(
        &self,
        url: &str,
        body: &impl Serialize,
        handler: H,
    ) -> Result<CompletionStream, LlmError> {
        let started = Instant::now();
        let response = self.send(url, body).await?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.contains("json") {
            // A whole body where a stream was asked for: usually an error; say what it says.
            let bytes = tokio::time::timeout(self.timeout, self.read_body(response, url))
                .await
                .map_err(|_| self.timeout_error())??;
            let text = String::from_utf8_lossy(&bytes);
            let (kind, message) = match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(value) if value.get("error").is_some() => {
                    let kind = value
                        .pointer("/error/code")
                        .and_then(serde_json::Value::as_str)
                        .or_else(|| {
                            value
                                .pointer("/error/type")
                                .and_then(serde_json::Value::as_str)
                        })
                        .unwrap_or_default()
                        .to_owned();
                    (kind, error_message(&text).unwrap_or_default())
                }
                _ => {
                    return Err(self.invalid(format_args!(
                        "an event stream was asked for, but the answer is `{content_type}`: {}",
                        error_message(&text).unwrap_or_default()
                    )));
                }
            };
            return Err(self.redact_error(LlmError::ErrorInAnswer {
                provider: self.provider.clone(),
                status: status_of_error_type(&kind),
                kind: if kind.is_empty() {
                    "a JSON error body instead of an event stream".to_owned()
                } else {
                    format!("a JSON error body instead of an event stream, type {kind}")
                },
                message,
            }));
        }
        let limit = self.limits.max_stream_bytes;
        if let Some(announced) = response.content_length()
            && announced > limit
        {
            return Err(self.too_large(
                format!("an event stream announced as {announced} bytes"),
                limit,
            ));
        }
        let state = SseState {
            body: Box::pin(response.bytes_stream()),
            decoder: SseDecoder::with_max_line(self.limits.max_line_bytes),
            handler,
            pending: VecDeque::new(),
            finished: false,
            received: 0,
            last_data: Instant::now(),
            ctx: StreamContext {
                provider: self.provider.clone(),
                idle: self.stream.idle,
                total: self.stream.total,
                deadline: started + self.stream.total,
                redactor: self.redactor.clone(),
                limits: self.limits,
            },
        };
        Ok(Box::pin(futures_util::stream::unfold(
            state,
            SseState::next,
        )))
    }
}

/// A URL as errors show it: without user name, password, query or fragment, which may hold
/// credentials.
fn shown_url(mut url: reqwest::Url) -> String {
    let _ignored = url.set_username("");
    let _ignored = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// A URL given as text, as errors show it (see [`shown_url`]); text that is no URL as is.
fn shown_url_text(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(|_| url.to_owned(), shown_url)
}

/// A message with the user name and password of `url` taken out, wherever they occur.
fn shown_urls_in(message: &str, url: &str) -> String {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return message.to_owned();
    };
    let mut text = message.to_owned();
    if let Some(password) = parsed.password().filter(|p| !p.is_empty()) {
        text = text.replace(password, REDACTED);
    }
    if !parsed.username().is_empty() {
        text = text.replace(&format!("{}@", parsed.username()), "");
    }
    text
}

/// What a cache key knows of where requests go: the API's kind and the base URL without user
/// name, password, query or fragment (never a key, whatever the URL holds).
pub(crate) fn endpoint(api: &str, base_url: &str) -> String {
    let base = base_url.trim();
    let shown = reqwest::Url::parse(base).map_or_else(
        |_| format!("unparsed:{}", super::cache::sha256_hex(base)),
        shown_url,
    );
    format!("{api} {}", shown.trim_end_matches('/'))
}

/// The error's text with its causes (`error sending request: connection refused`), without
/// the URL, which the error carries separately.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The explanation a provider put in an error body: `error.message` (OpenAI, Anthropic,
/// OpenRouter), `error` as a string (Ollama), `message`; else the body itself, shortened.
pub(crate) fn error_message(body: &str) -> Option<String> {
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(body) {
        let found = value
            .pointer("/error/message")
            .or_else(|| value.get("error").filter(|e| e.is_string()))
            .or_else(|| value.get("message"))
            .and_then(serde_json::Value::as_str);
        if let Some(message) = found {
            return Some(message.to_owned());
        }
    }
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let mut short: String = body.chars().take(MAX_MESSAGE_CHARS).collect();
    if short.len() < body.len() {
        short.push('\u{2026}');
    }
    Some(short)
}

/// The HTTP status that an error type sent inside a stream stands for, so that retrying
/// treats it like the same error sent as a status.
pub(crate) fn status_of_error_type(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" | "invalid_request" => 400,
        "authentication_error" | "invalid_api_key" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" | "rate_limit_exceeded" | "requests" | "tokens" => 429,
        "overloaded_error" => 529,
        _ => 500,
    }
}

/// The wait a `Retry-After` (seconds or an HTTP date) or `retry-after-ms` header asks for.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    text("retry-after").and_then(|v| parse_retry_after(v, now))
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (IMF-fixdate, RFC 850 or
/// asctime form), which gives the time left until then (zero when it has passed).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value)
        .map(|d| d.with_timezone(&chrono::Utc))
        .ok()
        .or_else(|| {
            ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
                .iter()
                .find_map(|format| chrono::NaiveDateTime::parse_from_str(value, format).ok())
                .map(|naive| naive.and_utc())
        })?;
    let then = SystemTime::from(date);
    Some(then.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Maps a provider's stop reason. `stop`, `end_turn` and `stop_sequence` mean it was done.
pub(crate) fn finish_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("stop" | "end_turn" | "stop_sequence") => FinishReason::Stop,
        Some("length" | "max_tokens") => FinishReason::Length,
        Some("content_filter" | "refusal") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_owned()),
        None => FinishReason::Other("unknown".to_owned()),
    }
}

/// Turns a provider's SSE events into stream events.
pub(crate) trait SseHandler: Send + 'static {
    /// One event: `Ok(None)` when it adds nothing, a [`StreamEvent::Done`] when the answer is
    /// complete (the stream ends there).
    fn on_event(&mut self, event: SseEvent) -> Result<Option<StreamEvent>, LlmError>;

    /// The body ended without [`StreamEvent::Done`]: `Err(interrupted)` unless enough was seen.
    fn on_end(&mut self, interrupted: LlmError) -> Result<StreamEvent, LlmError> {
        Err(interrupted)
    }
}

struct StreamContext {
    provider: String,
    /// The longest wait for an event that carries data.
    idle: Duration,
    /// The overall limit, and when it passes.
    total: Duration,
    deadline: Instant,
    redactor: Redactor,
    limits: ResponseLimits,
}

struct SseState<B, H> {
    body: B,
    decoder: SseDecoder,
    handler: H,
    pending: VecDeque<Result<StreamEvent, LlmError>>,
    finished: bool,
    /// Body bytes read so far.
    received: u64,
    /// When the last event that carries data arrived (comments do not count).
    last_data: Instant,
    ctx: StreamContext,
}

impl<B, C, H> SseState<B, H>
where
    B: Stream<Item = reqwest::Result<C>> + Unpin + Send,
    C: AsRef<[u8]>,
    H: SseHandler,
{
    async fn next(mut self) -> Option<(Result<StreamEvent, LlmError>, Self)> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some((item, self));
            }
            if self.finished {
                return None;
            }
            self.read().await;
        }
    }

    /// Reads one chunk and queues what it completes.
    async fn read(&mut self) {
        let interrupted = LlmError::StreamInterrupted {
            provider: self.ctx.provider.clone(),
        };
        let now = Instant::now();
        let idle_left = self
            .ctx
            .idle
            .saturating_sub(now.duration_since(self.last_data));
        let total_left = self.ctx.deadline.saturating_duration_since(now);
        let idle_error = LlmError::Timeout {
            provider: self.ctx.provider.clone(),
            seconds: self.ctx.idle.as_secs_f64().ceil() as u64,
        };
        let chunk = match tokio::time::timeout(idle_left.min(total_left), self.body.next()).await {
            Err(_) if total_left <= idle_left => Err(LlmError::StreamDeadline {
                provider: self.ctx.provider.clone(),
                seconds: self.ctx.total.as_secs_f64().ceil() as u64,
            }),
            Err(_) => Err(idle_error),
            Ok(None) => {
                let end = self.handler.on_end(interrupted);
                self.finish(end);
                return;
            }
            Ok(Some(Err(e))) if e.is_timeout() => Err(idle_error),
            Ok(Some(Err(_))) => Err(interrupted),
            Ok(Some(Ok(chunk))) => Ok(chunk),
        };
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => return self.finish(Err(error)),
        };
        let chunk = chunk.as_ref();
        self.received += chunk.len() as u64;
        if self.received > self.ctx.limits.max_stream_bytes {
            let error = LlmError::TooLarge {
                provider: self.ctx.provider.clone(),
                what: "an event stream".to_owned(),
                limit: self.ctx.limits.max_stream_bytes,
            };
            return self.finish(Err(error));
        }
        let events = match self.decoder.feed(chunk) {
            Ok(events) => events,
            Err(too_long) => {
                let error = LlmError::TooLarge {
                    provider: self.ctx.provider.clone(),
                    what: "an event-stream line or event".to_owned(),
                    limit: too_long.limit as u64,
                };
                return self.finish(Err(error));
            }
        };
        if !events.is_empty() {
            self.last_data = Instant::now();
        }
        for event in events {
            match self.handler.on_event(event) {
                Ok(None) => {}
                Ok(Some(done @ StreamEvent::Done { .. })) => return self.finish(Ok(done)),
                Ok(Some(delta)) => self.pending.push_back(Ok(delta)),
                Err(error) => return self.finish(Err(error)),
            }
        }
    }

    fn finish(&mut self, last: Result<StreamEvent, LlmError>) {
        self.finished = true;
        self.pending
            .push_back(last.map_err(|e| self.ctx.redactor.redact_error(e)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        let later = Some(Duration::from_secs(10));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            later
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now),
            later
        );
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:47 1994", now), later);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means no wait"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn retry_after_ms_header_wins() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("5"));
        assert_eq!(
            retry_after(&headers, SystemTime::now()),
            Some(Duration::from_secs(5))
        );
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(
            retry_after(&headers, SystemTime::now()),
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn error_messages_of_each_dialect() {
        let openai = r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let anthropic =
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let ollama = r#"{"error":"model \"llama9\" not found, try pulling it first"}"#;
        assert_eq!(error_message(openai).as_deref(), Some("Rate limit reached"));
        assert_eq!(error_message(anthropic).as_deref(), Some("Overloaded"));
        assert_eq!(
            error_message(ollama).as_deref(),
            Some("model \"llama9\" not found, try pulling it first")
        );
        assert_eq!(
            error_message("<html>Bad gateway</html>").as_deref(),
            Some("<html>Bad gateway</html>")
        );
        assert_eq!(error_message("  "), None);
        let long = "x".repeat(5000);
        assert_eq!(
            error_message(&long).map(|m| m.chars().count()),
            Some(MAX_MESSAGE_CHARS + 1)
        );
    }

    #[test]
    fn urls_are_shown_and_keyed_without_credentials() {
        let url = reqwest::Url::parse(
            "https://user:sk-pass@llm.example.com:8443/v1/chat?api-key=sk-q&x=1#frag",
        )
        .expect("url");
        assert_eq!(shown_url(url), "https://llm.example.com:8443/v1/chat");
        assert_eq!(
            endpoint(
                "openai-chat-completions",
                "https://tok@api.example.com/v1/?key=sk-q"
            ),
            "openai-chat-completions https://api.example.com/v1"
        );
        assert_eq!(
            endpoint("anthropic-messages", "https://api.anthropic.com"),
            endpoint("anthropic-messages", "https://api.anthropic.com/"),
        );
        assert_ne!(
            endpoint("openai-chat-completions", "http://127.0.0.1:8000/v1"),
            endpoint("openai-chat-completions", "http://127.0.0.1:8001/v1"),
        );
        let unparsed = endpoint("x", "not a url with sk-secret");
        assert!(!unparsed.contains("sk-secret"), "{unparsed}");
    }

    #[test]
    fn local_base_urls() {
        assert!(is_local("http://localhost:11434/v1"));
        assert!(is_local("http://127.0.0.1:8000/v1"));
        assert!(is_local("http://[::1]:8000/v1"));
        assert!(!is_local("https://api.openai.com/v1"));
        assert!(!is_local("https://localhost.example.com/v1"));
        assert!(!is_local("not a url"));
    }

    #[test]
    fn redaction_covers_every_text() {
        let bad = || unreachable!("no header");
        let client = HttpClient::new(
            "p",
            Duration::from_secs(1),
            Some("sk-123".into()),
            &[],
            ResponseLimits::default(),
            bad,
        )
        .expect("client");
        let error = client.redactor.redact_error(LlmError::Exhausted {
            last: Box::new(LlmError::Status {
                provider: "p".into(),
                status: 401,
                message: "bad key sk-123".into(),
                retry_after: None,
            }),
        });
        assert!(!error.to_string().contains("sk-123"));
        assert!(error.to_string().contains(REDACTED));
        assert!(!format!("{client:?}").contains("sk-123"));
    }
}
