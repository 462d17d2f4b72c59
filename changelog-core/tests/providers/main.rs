//! The language-model providers and layers against local mock servers that speak each
//! provider's wire format (one test binary).

mod anthropic;
mod bounds;
mod cache;
mod openai;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use changelog_core::llm::{
    AnthropicConfig, AnthropicProvider, ChatRequest, CompletionStream, LlmError, Message,
    OpenAiConfig, OpenAiProvider, RetryPolicy, StreamEvent,
};
use futures_util::StreamExt;
use serde_json::Value;
use wiremock::MockServer;

/// The API key the tests configure; no answer or error may show it.
const KEY: &str = "sk-test-4f2b9c1d8e7a6b5c";

/// An environment variable that no one sets.
const UNSET_VARIABLE: &str = "CHANGELOG_TEST_VARIABLE_THAT_IS_NEVER_SET";

fn request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.to_owned(),
        messages: vec![
            Message::system("You write changelog entries."),
            Message::user("Summarise: feat(cli): add --json"),
        ],
        temperature: 0.25,
        max_output_tokens: 256,
    }
}

fn openai_config(server: &MockServer) -> OpenAiConfig {
    OpenAiConfig {
        base_url: format!("{}/v1", server.uri()),
        api_key: Some(KEY.to_owned()),
        api_key_env: UNSET_VARIABLE.to_owned(),
        timeout: Duration::from_secs(5),
        ..OpenAiConfig::default()
    }
}

fn openai(server: &MockServer) -> OpenAiProvider {
    OpenAiProvider::new(&openai_config(server)).expect("provider")
}

fn anthropic_config(server: &MockServer) -> AnthropicConfig {
    AnthropicConfig {
        base_url: server.uri(),
        api_key: Some(KEY.to_owned()),
        api_key_env: UNSET_VARIABLE.to_owned(),
        timeout: Duration::from_secs(5),
        ..AnthropicConfig::default()
    }
}

fn anthropic(server: &MockServer) -> AnthropicProvider {
    AnthropicProvider::new(&anthropic_config(server)).expect("provider")
}

/// Quick backoff, so that only `Retry-After` makes a test wait.
fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        deadline: Duration::from_secs(30),
    }
}

/// The JSON bodies the server received, in order.
async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .expect("recording is on")
        .iter()
        .map(|r| r.body_json().expect("JSON body"))
        .collect()
}

/// One header of the only request the server received.
async fn header_of(server: &MockServer, name: &str) -> Option<String> {
    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1);
    requests[0]
        .headers
        .get(name)
        .map(|v| v.to_str().expect("ASCII").to_owned())
}

async fn collect(stream: CompletionStream) -> Vec<Result<StreamEvent, LlmError>> {
    stream.collect().await
}

/// The text of the deltas before the first error or the end.
fn deltas(events: &[Result<StreamEvent, LlmError>]) -> String {
    events
        .iter()
        .map_while(|e| match e {
            Ok(StreamEvent::Delta(text)) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// Asserts that no text of an error shows the key, and returns its `Display`.
fn assert_no_key(error: &LlmError) -> String {
    let shown = error.to_string();
    let debug = format!("{error:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!debug.contains(KEY), "{debug}");
    shown
}

/// A bare HTTP server on 127.0.0.1 for what wiremock cannot do (a body that breaks off or
/// stalls): for each of `connections` connections, it reads one request and lets `respond`
/// write the answer, in a thread of its own. The handle ends when every answer has been
/// written.
fn raw_server(
    connections: usize,
    respond: impl Fn(TcpStream) + Send + Sync + 'static,
) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let respond = Arc::new(respond);
    let thread = std::thread::spawn(move || {
        let mut answers = Vec::new();
        for _ in 0..connections {
            let (socket, _) = listener.accept().expect("accept");
            let respond = Arc::clone(&respond);
            answers.push(std::thread::spawn(move || {
                read_request(&socket);
                respond(socket);
            }));
        }
        for answer in answers {
            answer.join().expect("answer thread");
        }
    });
    (address, thread)
}

/// Reads a request's head and its `Content-Length` bytes of body.
fn read_request(socket: &TcpStream) {
    let mut reader = BufReader::new(socket);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("head");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().expect("length");
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
}
