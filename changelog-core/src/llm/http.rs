//! What the HTTP providers share: sending a JSON request, turning HTTP failures into
//! [`LlmError`]s, `Retry-After`, keeping the API key out of every error, and reading an SSE
//! body as a [`CompletionStream`].

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, SystemTime};

use futures_util::{Stream, StreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::sse::{SseDecoder, SseEvent};
use super::{CompletionStream, FinishReason, LlmError, StreamEvent};

/// What replaces the API key wherever it would show.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// The longest provider error text kept in a message (HTML error pages can be long).
const MAX_MESSAGE_CHARS: usize = 1000;

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
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.provider)
            .field("timeout", &self.timeout)
            .field("secret", &self.redactor.secret.as_ref().map(|_| REDACTED))
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client that sends `headers` (marked sensitive) with every request and hides `secret`
    /// from every error. A header value that cannot be sent gives `bad_header`.
    pub(crate) fn new(
        provider: &str,
        timeout: Duration,
        secret: Option<String>,
        headers: &[(&'static str, String)],
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
        })
    }

    /// The provider's name.
    pub(crate) fn provider(&self) -> &str {
        &self.provider
    }

    /// Replaces the key wherever it occurs.
    pub(crate) fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
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
            url: self.redact(url),
            message: self.redact(&error_chain(error)),
        }
    }

    /// Sends a JSON body and waits for the answer's head (at most the timeout). A status other
    /// than 2xx becomes [`LlmError::Status`].
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
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(self.status_error(response).await)
        }
    }

    async fn status_error(&self, response: reqwest::Response) -> LlmError {
        let status = response.status();
        let retry_after = retry_after(response.headers(), SystemTime::now());
        let body = tokio::time::timeout(self.timeout, response.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
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
            let bytes = response
                .bytes()
                .await
                .map_err(|e| self.transport_error(&e, url))?;
            serde_json::from_slice(&bytes).map_err(|e| self.invalid(format_args!("{e}")))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| self.timeout_error())?
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
        let response = self.send(url, body).await?;
        let state = SseState {
            body: Box::pin(response.bytes_stream()),
            decoder: SseDecoder::new(),
            handler,
            pending: VecDeque::new(),
            finished: false,
            ctx: StreamContext {
                provider: self.provider.clone(),
                timeout: self.timeout,
                redactor: self.redactor.clone(),
            },
        };
        Ok(Box::pin(futures_util::stream::unfold(
            state,
            SseState::next,
        )))
    }
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
    timeout: Duration,
    redactor: Redactor,
}

struct SseState<B, H> {
    body: B,
    decoder: SseDecoder,
    handler: H,
    pending: VecDeque<Result<StreamEvent, LlmError>>,
    finished: bool,
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
        let chunk = match tokio::time::timeout(self.ctx.timeout, self.body.next()).await {
            Err(_) => Err(LlmError::Timeout {
                provider: self.ctx.provider.clone(),
                seconds: self.ctx.timeout.as_secs_f64().ceil() as u64,
            }),
            Ok(None) => {
                let end = self.handler.on_end(interrupted);
                self.finish(end);
                return;
            }
            Ok(Some(Err(e))) if e.is_timeout() => Err(LlmError::Timeout {
                provider: self.ctx.provider.clone(),
                seconds: self.ctx.timeout.as_secs_f64().ceil() as u64,
            }),
            Ok(Some(Err(_))) => Err(interrupted),
            Ok(Some(Ok(chunk))) => Ok(chunk),
        };
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => return self.finish(Err(error)),
        };
        for event in self.decoder.feed(chunk.as_ref()) {
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
        let client = HttpClient::new("p", Duration::from_secs(1), Some("sk-123".into()), &[], bad)
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
