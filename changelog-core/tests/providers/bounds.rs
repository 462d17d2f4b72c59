//! What a provider's server cannot make a client do: follow a redirect to another origin with
//! the API key, or read an answer, an event-stream line or a stream of any size.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use changelog_core::llm::{
    AuthStyle, LlmError, LlmProvider, OpenAiConfig, OpenAiProvider, Retry, StreamEvent,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{KEY, anthropic, assert_no_key, collect, fast_retry, openai, openai_config, request};

/// A server that answers every request, and must never receive one.
async fn elsewhere() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    server
}

/// A provider's server that redirects every request to `target` with `status`; the target
/// carries a user name, a password and a query that no message may show.
async fn redirecting(status: u16, target: &MockServer) -> MockServer {
    let server = MockServer::start().await;
    let authority = target.uri().trim_start_matches("http://").to_owned();
    let location = format!("http://mallory:hunter2@{authority}/collect?token=tok-9f8e7d#frag");
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).insert_header("location", location.as_str()))
        .mount(&server)
        .await;
    server
}

/// Checks that the redirect was refused before any request reached `target`, that the error
/// names the status and the target without its secrets, and that it is not retried.
async fn assert_refused(error: &LlmError, status: u16, origin: &MockServer, target: &MockServer) {
    let shown = assert_no_key(error);
    let received = target.received_requests().await.expect("recording is on");
    assert!(
        received.is_empty(),
        "the redirect target received {} request(s): {:?}",
        received.len(),
        received.iter().map(|r| &r.headers).collect::<Vec<_>>()
    );
    assert!(!error.is_retryable(), "{shown}");
    assert!(shown.contains(&status.to_string()), "{shown}");
    let clean_target = format!("{}/collect", target.uri());
    assert!(shown.contains(&clean_target), "{shown}");
    for secret in ["mallory", "hunter2", "tok-9f8e7d", "token", "frag"] {
        assert!(!shown.contains(secret), "{secret} shown in: {shown}");
    }
    assert!(
        !origin
            .received_requests()
            .await
            .expect("recording is on")
            .is_empty(),
        "the provider's server was asked"
    );
}

#[tokio::test]
async fn openai_bearer_key_does_not_follow_a_redirect() {
    for status in [301, 302, 303, 307, 308] {
        let target = elsewhere().await;
        let origin = redirecting(status, &target).await;
        let error = openai(&origin)
            .complete(&request("m"))
            .await
            .expect_err("refused");
        assert_refused(&error, status, &origin, &target).await;
    }
}

#[tokio::test]
async fn azure_api_key_header_does_not_follow_a_redirect() {
    let target = elsewhere().await;
    let origin = redirecting(307, &target).await;
    let config = OpenAiConfig {
        auth: AuthStyle::ApiKeyHeader,
        query: Some("api-version=2024-10-21".into()),
        ..openai_config(&origin)
    };
    let provider = OpenAiProvider::new(&config).expect("provider");
    let error = provider.complete(&request("m")).await.expect_err("refused");
    assert_refused(&error, 307, &origin, &target).await;
    let error = provider.stream(&request("m")).await.err().expect("refused");
    assert_refused(&error, 307, &origin, &target).await;
}

#[tokio::test]
async fn anthropic_key_does_not_follow_a_redirect_and_is_not_retried() {
    let target = elsewhere().await;
    let origin = redirecting(302, &target).await;
    let retried = Retry::new(Arc::new(anthropic(&origin)), fast_retry());
    let error = retried.complete(&request("m")).await.expect_err("refused");
    assert_refused(&error, 302, &origin, &target).await;
    let asked = origin.received_requests().await.expect("recording is on");
    assert_eq!(asked.len(), 1, "a redirect is not retried");
    assert_eq!(
        asked[0].headers.get("x-api-key").map(|v| v.as_bytes()),
        Some(KEY.as_bytes())
    );
    let error = anthropic(&origin)
        .stream(&request("m"))
        .await
        .err()
        .expect("refused");
    assert_refused(&error, 302, &origin, &target).await;
}

/// The size a hostile server offers: far more than any answer.
const HUGE: u64 = 1_500_000_000;

/// What the client may read before refusing, with room for socket buffers.
const FAR_BELOW_HUGE: u64 = 128 << 20;

/// A server on 127.0.0.1 that answers one request with `head`, then writes up to [`HUGE`]
/// bytes of `pattern` over and over, without holding them, until the client goes away. The
/// task ends with the number of body bytes it managed to write.
async fn flooding(
    head: String,
    pattern: &'static [u8],
) -> (String, tokio::task::JoinHandle<u64>, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let written = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&written);
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        read_request(&mut socket).await;
        if socket.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let block: Vec<u8> = pattern.iter().copied().cycle().take(64 * 1024).collect();
        let mut total = 0u64;
        while total < HUGE {
            let take = usize::try_from((HUGE - total).min(block.len() as u64)).expect("small");
            if socket.write_all(&block[..take]).await.is_err() {
                break;
            }
            total += take as u64;
            counter.store(total, Ordering::Relaxed);
        }
        total
    });
    (format!("http://{address}/v1"), task, written)
}

/// Reads a request's head and its `Content-Length` bytes of body.
async fn read_request(socket: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut buffer).await.expect("read");
        assert!(n > 0, "the client closed before sending a request");
        seen.extend_from_slice(&buffer[..n]);
        if let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().expect("length"));
    while seen.len() < head_end + length {
        let n = socket.read(&mut buffer).await.expect("read");
        assert!(n > 0, "the client closed inside its request");
        seen.extend_from_slice(&buffer[..n]);
    }
}

fn provider_at(base_url: String) -> OpenAiProvider {
    OpenAiProvider::new(&OpenAiConfig {
        base_url,
        api_key: Some(KEY.into()),
        timeout: Duration::from_secs(60),
        ..OpenAiConfig::default()
    })
    .expect("provider")
}

/// Waits for the server to notice that the client went away, and checks how much it wrote.
async fn assert_stopped_early(
    task: tokio::task::JoinHandle<u64>,
    written: &AtomicU64,
    start: Instant,
) -> u64 {
    let finished = tokio::time::timeout(Duration::from_secs(20), task).await;
    let bytes = match finished {
        Ok(joined) => joined.expect("server task"),
        Err(_) => written.load(Ordering::Relaxed),
    };
    let elapsed = start.elapsed();
    assert!(
        bytes < FAR_BELOW_HUGE,
        "the server wrote {bytes} bytes before the client stopped it"
    );
    assert!(
        elapsed < Duration::from_secs(15),
        "refusing took {elapsed:?}"
    );
    bytes
}

fn too_large(error: &LlmError, what: &str) -> String {
    let shown = assert_no_key(error);
    assert!(
        matches!(error, LlmError::TooLarge { .. }),
        "{error:?} is not a size refusal"
    );
    assert!(shown.contains(what), "{shown}");
    assert!(!error.is_retryable(), "{shown}");
    shown
}

#[tokio::test]
async fn announced_huge_answer_is_refused_before_reading_it() {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {HUGE}\r\n\r\n"
    );
    let (url, task, written) = flooding(head, b"{\"choices\":[     ").await;
    let start = Instant::now();
    let error = provider_at(url)
        .complete(&request("m"))
        .await
        .expect_err("refused");
    let shown = too_large(&error, "answer");
    assert!(shown.contains(&HUGE.to_string()), "{shown}");
    assert_stopped_early(task, &written, start).await;
}

#[tokio::test]
async fn unannounced_huge_answer_is_refused_past_the_cap() {
    // No length: the body runs until the connection closes.
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n".to_owned();
    let (url, task, written) = flooding(head, b"[[[[[[[[[[[[[[[[").await;
    let start = Instant::now();
    let error = provider_at(url)
        .complete(&request("m"))
        .await
        .expect_err("refused");
    too_large(&error, "answer");
    let bytes = assert_stopped_early(task, &written, start).await;
    assert!(bytes >= 8 << 20, "refused after only {bytes} bytes");
}

#[tokio::test]
async fn huge_error_body_is_cut_not_read_whole() {
    let head = "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n"
        .to_owned();
    let (url, task, written) = flooding(head, b"<p>oops</p>").await;
    let start = Instant::now();
    let error = provider_at(url)
        .complete(&request("m"))
        .await
        .expect_err("an error status");
    let shown = assert_no_key(&error);
    assert!(
        matches!(error, LlmError::Status { status: 500, .. }),
        "{shown}"
    );
    assert!(shown.contains("<p>oops</p>"), "{shown}");
    assert_stopped_early(task, &written, start).await;
}

#[tokio::test]
async fn endless_event_stream_line_is_refused() {
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: "
            .to_owned();
    let (url, task, written) = flooding(head, b"xxxxxxxxxxxxxxxx").await;
    let start = Instant::now();
    let stream = provider_at(url)
        .stream(&request("m"))
        .await
        .expect("the head is fine");
    let events = collect(stream).await;
    let Some(Err(error)) = events.last() else {
        panic!("the stream ended without an error: {} events", events.len());
    };
    assert_eq!(events.len(), 1, "{events:?}");
    too_large(error, "line");
    assert_stopped_early(task, &written, start).await;
}

/// A comment line of 256 bytes, as a server sends to keep a connection open.
const KEEP_ALIVE: &[u8] = b": keep-alive ...................................................................................................................................................................................................................................................\n";

#[tokio::test]
async fn endless_event_stream_is_refused_past_the_total_cap() {
    // Lines and events of ordinary size (a comment line is read and dropped), forever.
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
        .to_owned();
    let (url, task, written) = flooding(head, KEEP_ALIVE).await;
    let start = Instant::now();
    let stream = provider_at(url)
        .stream(&request("m"))
        .await
        .expect("the head is fine");
    let events = collect(stream).await;
    assert!(
        matches!(events.as_slice(), [Err(_)]),
        "{} events, last {:?}",
        events.len(),
        events.last()
    );
    let Some(Err(error)) = events.last() else {
        unreachable!("checked above");
    };
    too_large(error, "stream");
    assert_stopped_early(task, &written, start).await;
}

#[tokio::test]
async fn events_of_ordinary_size_still_arrive() {
    // A line just under the cap, as one delta: the caps leave real answers alone.
    let text = "y".repeat(512 * 1024);
    let chunk = json!({"choices": [{"delta": {"content": text}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 1, "completion_tokens": 2}});
    let body = format!("data: {chunk}\n\ndata: [DONE]\n\n");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .mount(&server)
        .await;
    let events = collect(openai(&server).stream(&request("m")).await.expect("opens")).await;
    assert_eq!(events.len(), 2, "{:?}", events.last());
    assert!(matches!(&events[0], Ok(StreamEvent::Delta(t)) if t.len() == text.len()));
}
