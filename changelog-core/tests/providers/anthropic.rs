//! `AnthropicProvider` against a server speaking the Messages API wire format.

use std::sync::Arc;
use std::time::{Duration, Instant};

use changelog_core::llm::{
    AnthropicConfig, AnthropicProvider, Completion, Fallback, FinishReason, LlmError, LlmProvider,
    Retry, StreamEvent, Usage,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    KEY, UNSET_VARIABLE, anthropic, anthropic_config, assert_no_key, bodies, collect, deltas,
    fast_retry, request,
};

const PATH: &str = "/v1/messages";
const MODEL: &str = "claude-3-5-haiku-20241022";

fn answer(model: &str, texts: &[&str], stop_reason: &str) -> Value {
    let content: Vec<Value> = texts
        .iter()
        .map(|t| json!({"type": "text", "text": t}))
        .collect();
    json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {
            "input_tokens": 31,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 12,
            "service_tier": "standard"
        }
    })
}

fn ok(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(answer(MODEL, &[text], "end_turn"))
}

fn error(status: u16, kind: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("request-id", "req_011CSHoEeqs5C35K2UUqR7Fy")
        .set_body_json(json!({"type": "error", "error": {"type": kind, "message": message}}))
}

fn event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// A whole stream as Anthropic sends it.
fn stream_events() -> Vec<String> {
    vec![
        event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": "msg_01", "type": "message", "role": "assistant", "content": [],
                "model": MODEL, "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 31, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": 1}
            }}),
        ),
        event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}),
        ),
        event("ping", &json!({"type": "ping"})),
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": "Fixed the "}}),
        ),
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": "crash on empty tags."}}),
        ),
        event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ),
        event(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                    "usage": {"output_tokens": 9}}),
        ),
        event("message_stop", &json!({"type": "message_stop"})),
    ]
}

fn sse(events: &[String]) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(events.concat(), "text/event-stream")
}

#[tokio::test]
async fn completes_with_the_messages_wire_format() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer(
            MODEL,
            &["Fixed the crash", " on empty tags."],
            "end_turn",
        )))
        .expect(1)
        .mount(&server)
        .await;

    let completion = anthropic(&server)
        .complete(&request("claude-3-5-haiku-latest"))
        .await
        .expect("answer");

    assert_eq!(
        completion,
        Completion {
            text: "Fixed the crash on empty tags.".into(),
            usage: Usage {
                input_tokens: 31,
                output_tokens: 12
            },
            model: MODEL.into(),
            finish_reason: FinishReason::Stop,
            cached: false,
        }
    );
    assert_eq!(
        bodies(&server).await,
        [json!({
            "model": "claude-3-5-haiku-latest",
            "system": "You write changelog entries.",
            "messages": [{"role": "user", "content": "Summarise: feat(cli): add --json"}],
            "max_tokens": 256,
            "temperature": 0.25,
            "stream": false
        })]
    );
    let requests = server.received_requests().await.expect("recorded");
    assert!(requests[0].headers.get("authorization").is_none());
    server.verify().await;
}

#[tokio::test]
async fn stop_reasons_are_mapped() {
    for (wire, expected) in [
        ("stop_sequence", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("tool_use", FinishReason::Other("tool_use".into())),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer(MODEL, &["x"], wire)))
            .mount(&server)
            .await;
        let completion = anthropic(&server)
            .complete(&request("m"))
            .await
            .expect("ok");
        assert_eq!(completion.finish_reason, expected, "{wire}");
    }
}

#[tokio::test]
async fn streams_deltas_then_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(sse(&stream_events()))
        .expect(1)
        .mount(&server)
        .await;

    let stream = anthropic(&server)
        .stream(&request("claude-3-5-haiku-latest"))
        .await
        .expect("stream");
    let events = collect(stream).await;

    assert_eq!(
        events,
        [
            Ok(StreamEvent::Delta("Fixed the ".into())),
            Ok(StreamEvent::Delta("crash on empty tags.".into())),
            Ok(StreamEvent::Done {
                usage: Usage {
                    input_tokens: 31,
                    output_tokens: 9
                },
                model: MODEL.into(),
                finish_reason: FinishReason::Stop,
            }),
        ]
    );
    server.verify().await;
}

#[tokio::test]
async fn error_event_inside_a_stream_is_an_error() {
    let server = MockServer::start().await;
    let mut events = stream_events()[..4].to_vec();
    events.push(event(
        "error",
        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(sse(&events))
        .mount(&server)
        .await;
    let events = collect(
        anthropic(&server)
            .stream(&request("m"))
            .await
            .expect("opens"),
    )
    .await;
    assert_eq!(deltas(&events), "Fixed the ");
    let last = events.last().expect("events");
    let error = last.as_ref().expect_err("error");
    assert!(error.is_retryable());
    // The cause is kept: an event in the stream, its type and its message; no made-up status.
    let shown = error.to_string();
    assert!(shown.contains("`error` event"), "{shown}");
    assert!(shown.contains("overloaded_error"), "{shown}");
    assert!(shown.contains("Overloaded"), "{shown}");
    assert!(!shown.contains("HTTP"), "{shown}");
}

#[tokio::test]
async fn stream_cut_off_midway_is_interrupted() {
    let server = MockServer::start().await;
    // Up to the first delta: no message_delta, no message_stop.
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(sse(&stream_events()[..4]))
        .mount(&server)
        .await;
    let events = collect(
        anthropic(&server)
            .stream(&request("m"))
            .await
            .expect("opens"),
    )
    .await;
    assert_eq!(
        events,
        [
            Ok(StreamEvent::Delta("Fixed the ".into())),
            Err(LlmError::StreamInterrupted {
                provider: "anthropic".into()
            })
        ]
    );
}

#[tokio::test]
async fn rate_limited_twice_then_answers_through_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(
            error(
                429,
                "rate_limit_error",
                "This request would exceed the rate limit for your organization of 50 requests per minute.",
            )
            .insert_header("retry-after", "1"),
        )
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ok("finally"))
        .expect(1)
        .mount(&server)
        .await;

    let retry = Retry::new(Arc::new(anthropic(&server)), fast_retry());
    let start = Instant::now();
    let completion = retry.complete(&request(MODEL)).await.expect("third");
    let waited = start.elapsed();

    assert_eq!(completion.text, "finally");
    assert_eq!(bodies(&server).await.len(), 3);
    assert!(waited >= Duration::from_millis(1950), "waited {waited:?}");
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
    server.verify().await;
}

#[tokio::test]
async fn overloaded_then_answers_through_retry() {
    for (status, kind) in [(500, "api_error"), (529, "overloaded_error")] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(PATH))
            .respond_with(error(status, kind, "Internal server error"))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(PATH))
            .respond_with(ok("second time"))
            .expect(1)
            .mount(&server)
            .await;
        let retry = Retry::new(Arc::new(anthropic(&server)), fast_retry());
        let completion = retry.complete(&request(MODEL)).await.expect("ok");
        assert_eq!(completion.text, "second time");
        assert_eq!(bodies(&server).await.len(), 2, "{status}");
        server.verify().await;
    }
}

#[tokio::test]
async fn bad_request_is_neither_retried_nor_falls_back() {
    let server = MockServer::start().await;
    let message = "messages: roles must alternate between \"user\" and \"assistant\"";
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(body_partial_json(json!({"model": MODEL})))
        .respond_with(error(400, "invalid_request_error", message))
        .expect(2) // once through Retry, once through Fallback
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(body_partial_json(
            json!({"model": "claude-sonnet-4-20250514"}),
        ))
        .respond_with(ok("must not be asked"))
        .expect(0)
        .mount(&server)
        .await;
    let provider: Arc<dyn LlmProvider> = Arc::new(anthropic(&server));

    let error = Retry::new(provider.clone(), fast_retry())
        .complete(&request(MODEL))
        .await
        .expect_err("400");
    assert_eq!(
        error,
        LlmError::Status {
            provider: "anthropic".into(),
            status: 400,
            message: message.into(),
            retry_after: None
        }
    );
    assert_eq!(bodies(&server).await.len(), 1, "not retried");

    let fallback = Fallback::new(vec![
        (provider.clone(), MODEL.into()),
        (provider, "claude-sonnet-4-20250514".into()),
    ]);
    let error = fallback.stream(&request("any")).await.err().expect("400");
    assert!(error.is_request_fault(), "{error:?}");
    assert_eq!(bodies(&server).await.len(), 2, "no second model");
    server.verify().await;
}

#[tokio::test]
async fn slow_answer_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ok("late").set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let config = AnthropicConfig {
        timeout: Duration::from_millis(300),
        ..anthropic_config(&server)
    };
    let start = Instant::now();
    let provider = AnthropicProvider::new(&config).expect("provider");
    let error = provider
        .stream(&request("m"))
        .await
        .err()
        .expect("too slow");
    assert_eq!(
        error,
        LlmError::Timeout {
            provider: "anthropic".into(),
            seconds: 1
        }
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn unreadable_answers_are_invalid_responses() {
    for body in ["not json at all", "{\"content\": 7}"] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(PATH))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
        let error = anthropic(&server)
            .complete(&request("m"))
            .await
            .expect_err(body);
        assert!(
            matches!(&error, LlmError::InvalidResponse { provider, .. } if provider == "anthropic"),
            "{body}: {error:?}"
        );
    }
}

#[tokio::test]
async fn falls_back_to_the_second_model() {
    for (status, kind) in [(404, "not_found_error"), (500, "api_error")] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(PATH))
            .and(body_partial_json(json!({"model": "claude-opus-9"})))
            .respond_with(error(status, kind, "model: claude-opus-9"))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(PATH))
            .and(body_partial_json(json!({"model": MODEL})))
            .respond_with(ok("from the second"))
            .expect(1)
            .mount(&server)
            .await;
        let provider: Arc<dyn LlmProvider> = Arc::new(anthropic(&server));
        let fallback = Fallback::new(vec![
            (provider.clone(), "claude-opus-9".into()),
            (provider, MODEL.into()),
        ]);

        let completion = fallback.complete(&request("unused")).await.expect("second");

        assert_eq!(completion.text, "from the second");
        let models: Vec<Value> = bodies(&server)
            .await
            .iter()
            .map(|b| b["model"].clone())
            .collect();
        assert_eq!(models, [json!("claude-opus-9"), json!(MODEL)], "{status}");
        server.verify().await;
    }
}

#[tokio::test]
async fn api_key_never_shows_in_errors_or_debug_output() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(error(
            401,
            "authentication_error",
            &format!("invalid x-api-key: {KEY}"),
        ))
        .mount(&server)
        .await;
    let provider = anthropic(&server);
    let error = provider.complete(&request("m")).await.expect_err("401");
    assert_eq!(
        assert_no_key(&error),
        "anthropic answered HTTP 401: invalid x-api-key: [REDACTED]"
    );
    let config = anthropic_config(&server);
    assert!(!format!("{config:?}").contains(KEY));
    assert!(!format!("{provider:?}").contains(KEY));
}

#[test]
fn missing_key_is_reported_with_its_variable() {
    let config = AnthropicConfig {
        api_key: None,
        api_key_env: UNSET_VARIABLE.into(),
        ..AnthropicConfig::default()
    };
    assert_eq!(
        AnthropicProvider::new(&config).err(),
        Some(LlmError::MissingApiKey {
            provider: "anthropic".into(),
            variable: UNSET_VARIABLE.into()
        })
    );
}
