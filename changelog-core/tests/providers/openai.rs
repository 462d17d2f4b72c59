//! `OpenAiProvider` against a server speaking the chat completions wire format.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use changelog_core::llm::{
    AuthStyle, Completion, Fallback, FinishReason, LlmError, LlmProvider, OpenAiConfig,
    OpenAiProvider, Retry, StreamEvent, StreamTimeouts, Usage,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    KEY, UNSET_VARIABLE, assert_no_key, bodies, collect, deltas, fast_retry, header_of, openai,
    openai_config, raw_server, request,
};

const PATH: &str = "/v1/chat/completions";

fn answer(model: &str, text: &str, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1_741_569_952,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": finish_reason
        }],
        "usage": {
            "prompt_tokens": 19,
            "completion_tokens": 10,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306"
    })
}

fn ok(model: &str, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(answer(model, text, "stop"))
}

fn error(status: u16, kind: &str, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {"message": message, "type": kind, "param": null, "code": code}
    }))
}

fn chunk(delta: &Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-B9", "object": "chat.completion.chunk", "created": 1_741_569_952,
        "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_06737a9306",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        "usage": null
    })
}

/// A whole stream as OpenAI sends it with `stream_options.include_usage`.
fn stream_events() -> Vec<String> {
    let chunks = [
        chunk(
            &json!({"role": "assistant", "content": "", "refusal": null}),
            None,
        ),
        chunk(&json!({"content": "Added "}), None),
        chunk(&json!({"content": "a `--json` flag "}), None),
        chunk(&json!({"content": "\u{2728}"}), None),
        chunk(&json!({}), Some("stop")),
        json!({
            "id": "chatcmpl-B9", "object": "chat.completion.chunk", "created": 1_741_569_952,
            "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_06737a9306",
            "choices": [],
            "usage": {"prompt_tokens": 19, "completion_tokens": 7, "total_tokens": 26}
        }),
    ];
    let mut events: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    events.push("data: [DONE]\n\n".to_owned());
    events
}

fn sse(events: &[String]) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(events.concat(), "text/event-stream")
}

#[tokio::test]
async fn completes_with_the_chat_completions_wire_format() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .respond_with(ok("gpt-4o-mini-2024-07-18", "Added a `--json` flag."))
        .expect(1)
        .mount(&server)
        .await;

    let completion = openai(&server)
        .complete(&request("gpt-4o-mini"))
        .await
        .expect("answer");

    assert_eq!(
        completion,
        Completion {
            text: "Added a `--json` flag.".into(),
            usage: Usage {
                input_tokens: 19,
                output_tokens: 10
            },
            model: "gpt-4o-mini-2024-07-18".into(),
            finish_reason: FinishReason::Stop,
            cached: false,
        }
    );
    assert_eq!(
        bodies(&server).await,
        [json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You write changelog entries."},
                {"role": "user", "content": "Summarise: feat(cli): add --json"}
            ],
            "temperature": 0.25,
            "max_tokens": 256,
            "stream": false
        })]
    );
    server.verify().await;
}

#[tokio::test]
async fn finish_reasons_are_mapped() {
    for (wire, expected) in [
        ("length", FinishReason::Length),
        ("content_filter", FinishReason::ContentFilter),
        ("tool_calls", FinishReason::Other("tool_calls".into())),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer("m", "cut", wire)))
            .mount(&server)
            .await;
        let completion = openai(&server).complete(&request("m")).await.expect("ok");
        assert_eq!(completion.finish_reason, expected, "{wire}");
    }
}

#[tokio::test]
async fn streams_deltas_then_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(sse(&stream_events()))
        .expect(1)
        .mount(&server)
        .await;

    let stream = openai(&server)
        .stream(&request("gpt-4o-mini"))
        .await
        .expect("stream");
    let events = collect(stream).await;

    assert_eq!(
        events,
        [
            Ok(StreamEvent::Delta("Added ".into())),
            Ok(StreamEvent::Delta("a `--json` flag ".into())),
            Ok(StreamEvent::Delta("\u{2728}".into())),
            Ok(StreamEvent::Done {
                usage: Usage {
                    input_tokens: 19,
                    output_tokens: 7
                },
                model: "gpt-4o-mini-2024-07-18".into(),
                finish_reason: FinishReason::Stop,
            }),
        ]
    );
    let body = &bodies(&server).await[0];
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["max_tokens"], json!(256));
}

#[tokio::test]
async fn stream_cut_off_midway_is_interrupted() {
    let server = MockServer::start().await;
    let events = stream_events();
    // The deltas arrive, then the body ends: no finish reason, no usage, no [DONE].
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(sse(&events[..3]))
        .mount(&server)
        .await;
    let stream = openai(&server).stream(&request("m")).await.expect("opens");
    let events = collect(stream).await;
    assert_eq!(deltas(&events), "Added a `--json` flag ");
    assert_eq!(
        events.last(),
        Some(&Err(LlmError::StreamInterrupted {
            provider: "openai".into()
        }))
    );
    assert_eq!(events.len(), 3, "nothing follows the error");
}

#[tokio::test]
async fn stream_cut_inside_an_event_is_interrupted() {
    let server = MockServer::start().await;
    let mut body = stream_events()[..2].concat();
    body.push_str("data: {\"id\":\"chatcmpl-B9\",\"choices\":[{\"del");
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .mount(&server)
        .await;
    let events = collect(openai(&server).stream(&request("m")).await.expect("opens")).await;
    assert_eq!(deltas(&events), "Added ");
    assert!(
        matches!(events.last(), Some(Err(LlmError::StreamInterrupted { .. }))),
        "{events:?}"
    );
}

/// A connection that breaks inside the body (fewer bytes than `Content-Length`) rather than
/// a body that ends early: wiremock cannot do that, so a bare socket on 127.0.0.1 does.
#[tokio::test]
async fn connection_broken_inside_the_body_is_interrupted() {
    let (address, server) = raw_server(1, |mut socket| {
        let body = stream_events()[..2].concat();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
            body.len() + 500
        );
        socket.write_all(head.as_bytes()).expect("write");
        socket.write_all(body.as_bytes()).expect("write");
        // Dropping the socket closes the connection 500 bytes short.
    });
    let config = OpenAiConfig {
        base_url: format!("http://{address}/v1"),
        api_key: Some(KEY.into()),
        ..OpenAiConfig::default()
    };
    let provider = OpenAiProvider::new(&config).expect("provider");
    let events = collect(provider.stream(&request("m")).await.expect("opens")).await;
    server.join().expect("server thread");
    assert_eq!(deltas(&events), "Added ");
    assert_eq!(
        events.last(),
        Some(&Err(LlmError::StreamInterrupted {
            provider: "openai".into()
        }))
    );
}

/// The head arrives at once, then the body stalls: the timeout covers reading the body
/// (whole answers) and each wait for the next chunk (streams).
#[tokio::test]
async fn body_that_stalls_times_out() {
    let (address, _server) = raw_server(2, |mut socket| {
        let body = stream_events()[..2].concat();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
            body.len() + 500
        );
        socket.write_all(head.as_bytes()).expect("write");
        socket.write_all(body.as_bytes()).expect("write");
        socket.flush().expect("flush");
        std::thread::sleep(Duration::from_secs(3));
    });
    let config = OpenAiConfig {
        base_url: format!("http://{address}/v1"),
        api_key: Some(KEY.into()),
        timeout: Duration::from_millis(400),
        stream: StreamTimeouts {
            idle: Duration::from_millis(400),
            total: Duration::from_secs(30),
        },
        ..OpenAiConfig::default()
    };
    let provider = OpenAiProvider::new(&config).expect("provider");
    let timeout = LlmError::Timeout {
        provider: "openai".into(),
        seconds: 1,
    };

    let start = Instant::now();
    let events = collect(provider.stream(&request("m")).await.expect("opens")).await;
    assert_eq!(
        events,
        [
            Ok(StreamEvent::Delta("Added ".into())),
            Err(timeout.clone())
        ]
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    let start = Instant::now();
    let error = provider.complete(&request("m")).await.expect_err("stalls");
    assert_eq!(error, timeout);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

/// A server that keeps the connection busy (keep-alive comments, a token now and then) does
/// not keep a stream alive: comments are no progress for the idle timeout, and the deadline
/// bounds the whole stream.
#[tokio::test]
async fn streams_that_trickle_meet_their_idle_timeout_and_deadline() {
    let connection = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (address, _server) = raw_server(2, move |mut socket| {
        let tokens = connection.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
        let _ = socket.write_all(head.as_bytes());
        let _ = socket.write_all(stream_events()[..2].concat().as_bytes());
        for _ in 0..30 {
            std::thread::sleep(Duration::from_millis(100));
            let event = if tokens {
                format!("data: {}\n\n", chunk(&json!({"content": "."}), None))
            } else {
                ": keep-alive\n\n".to_owned()
            };
            if socket
                .write_all(event.as_bytes())
                .and_then(|()| socket.flush())
                .is_err()
            {
                return;
            }
        }
    });
    let config = OpenAiConfig {
        base_url: format!("http://{address}/v1"),
        api_key: Some(KEY.into()),
        stream: StreamTimeouts {
            idle: Duration::from_millis(500),
            total: Duration::from_millis(1_500),
        },
        ..OpenAiConfig::default()
    };
    let provider = OpenAiProvider::new(&config).expect("provider");

    // Comments only: the idle timeout.
    let start = Instant::now();
    let events = collect(provider.stream(&request("m")).await.expect("opens")).await;
    assert_eq!(
        events,
        [
            Ok(StreamEvent::Delta("Added ".into())),
            Err(LlmError::Timeout {
                provider: "openai".into(),
                seconds: 1
            })
        ]
    );
    assert!(
        start.elapsed() < Duration::from_millis(1_200),
        "{:?}",
        start.elapsed()
    );

    // A token every 100 ms: the deadline.
    let start = Instant::now();
    let events = collect(provider.stream(&request("m")).await.expect("opens")).await;
    assert_eq!(
        events.last(),
        Some(&Err(LlmError::StreamDeadline {
            provider: "openai".into(),
            seconds: 2
        }))
    );
    assert!(events.len() > 5, "{events:?}");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1_400) && elapsed < Duration::from_millis(2_500),
        "{elapsed:?}"
    );
}

/// Errors that arrive where an answer was expected keep their message and type: a JSON error
/// body sent to a stream request, a 200 whose body is an error.
#[tokio::test]
async fn errors_in_place_of_an_answer_keep_their_cause() {
    let server = MockServer::start().await;
    let body = json!({"error": {"message": "The server had an error while processing your request.", "type": "server_error", "param": null, "code": null}});
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let provider = openai(&server);
    let streamed = match provider.stream(&request("m")).await {
        Err(error) => error,
        Ok(stream) => collect(stream)
            .await
            .into_iter()
            .find_map(Result::err)
            .expect("an error"),
    };
    let whole = provider
        .complete(&request("m"))
        .await
        .expect_err("an error");
    for error in [streamed, whole] {
        let shown = assert_no_key(&error);
        assert!(shown.contains("while processing your request"), "{shown}");
        assert!(shown.contains("server_error"), "{shown}");
        assert!(!shown.contains("stopped streaming"), "{shown}");
        assert!(!shown.contains("no choices"), "{shown}");
        assert!(error.is_retryable(), "{error:?}");
    }
}

/// A password in the base URL shows in no error.
#[tokio::test]
async fn a_password_in_the_base_url_shows_in_no_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let config = OpenAiConfig {
        base_url: format!("http://user:hunter2secret@{address}/v1"),
        api_key: Some(KEY.into()),
        ..OpenAiConfig::default()
    };
    let provider = OpenAiProvider::new(&config).expect("provider");
    let error = provider.complete(&request("m")).await.expect_err("refused");
    let shown = assert_no_key(&error);
    let debug = format!("{error:?}");
    assert!(matches!(error, LlmError::Connection { .. }), "{debug}");
    assert!(
        !shown.contains("hunter2secret") && !debug.contains("hunter2secret"),
        "{debug}"
    );
    assert!(!shown.contains("user@"), "{shown}");
    assert!(shown.contains(&address.to_string()), "{shown}");
}

#[tokio::test]
async fn rate_limited_twice_then_answers_through_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(
            error(
                429,
                "requests",
                "rate_limit_exceeded",
                "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3.",
            )
            .insert_header("retry-after", "1"),
        )
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ok("gpt-4o-mini", "finally"))
        .expect(1)
        .mount(&server)
        .await;

    let retry = Retry::new(Arc::new(openai(&server)), fast_retry());
    let start = Instant::now();
    let completion = retry
        .complete(&request("gpt-4o-mini"))
        .await
        .expect("third");
    let waited = start.elapsed();

    assert_eq!(completion.text, "finally");
    assert_eq!(bodies(&server).await.len(), 3);
    assert!(waited >= Duration::from_millis(1950), "waited {waited:?}");
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
    server.verify().await;
}

#[tokio::test]
async fn rate_limit_error_carries_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(
            error(429, "tokens", "rate_limit_exceeded", "Slow down.")
                .insert_header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
        )
        .mount(&server)
        .await;
    let error = openai(&server)
        .complete(&request("m"))
        .await
        .expect_err("429");
    assert_eq!(
        error,
        LlmError::Status {
            provider: "openai".into(),
            status: 429,
            message: "Slow down.".into(),
            retry_after: Some(Duration::ZERO), // a date long past
        }
    );
    assert!(error.is_retryable());
}

/// A wait longer than the retry deadline allows is not waited for, and the error says why.
#[tokio::test]
async fn a_retry_after_past_the_deadline_is_explained() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(
            error(429, "tokens", "rate_limit_exceeded", "Slow down.")
                .insert_header("retry-after", "3600"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let retried = Retry::new(Arc::new(openai(&server)), fast_retry());
    let start = Instant::now();
    let error = retried.complete(&request("m")).await.expect_err("429");
    assert!(start.elapsed() < Duration::from_secs(2));
    let shown = error.to_string();
    assert!(shown.contains("Slow down."), "{shown}");
    assert!(
        shown.contains("Retry-After") && shown.contains("3600"),
        "{shown}"
    );
    assert!(shown.contains("retry deadline of 30 s"), "{shown}");
}

#[tokio::test]
async fn server_error_then_answers_through_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(error(
            500,
            "server_error",
            "server_error",
            "The server had an error while processing your request. Sorry about that!",
        ))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ok("gpt-4o-mini", "second time"))
        .expect(1)
        .mount(&server)
        .await;

    let retry = Retry::new(Arc::new(openai(&server)), fast_retry());
    let completion = retry.complete(&request("gpt-4o-mini")).await.expect("ok");
    assert_eq!(completion.text, "second time");
    assert_eq!(bodies(&server).await.len(), 2);
    server.verify().await;
}

#[tokio::test]
async fn bad_request_is_neither_retried_nor_falls_back() {
    let server = MockServer::start().await;
    let message = "Invalid 'messages[1].content': string too long. Expected a string with maximum length 1048576.";
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(body_partial_json(json!({"model": "gpt-4o-mini"})))
        .respond_with(error(
            400,
            "invalid_request_error",
            "string_above_max_length",
            message,
        ))
        .expect(2) // once through Retry, once through Fallback
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(body_partial_json(json!({"model": "gpt-4o"})))
        .respond_with(ok("gpt-4o", "must not be asked"))
        .expect(0)
        .mount(&server)
        .await;
    let provider: Arc<dyn LlmProvider> = Arc::new(openai(&server));

    let retry = Retry::new(provider.clone(), fast_retry());
    let error = retry
        .complete(&request("gpt-4o-mini"))
        .await
        .expect_err("400");
    assert_eq!(
        error,
        LlmError::Status {
            provider: "openai".into(),
            status: 400,
            message: message.into(),
            retry_after: None,
        }
    );
    assert_eq!(bodies(&server).await.len(), 1, "not retried");

    let fallback = Fallback::new(vec![
        (provider.clone(), "gpt-4o-mini".into()),
        (provider, "gpt-4o".into()),
    ]);
    let error = fallback.complete(&request("any")).await.expect_err("400");
    assert!(error.is_request_fault(), "{error:?}");
    assert_eq!(bodies(&server).await.len(), 2, "no second model");
    server.verify().await;
}

#[tokio::test]
async fn slow_answer_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ok("m", "late").set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let config = OpenAiConfig {
        timeout: Duration::from_millis(300),
        ..openai_config(&server)
    };
    let start = Instant::now();
    let error = OpenAiProvider::new(&config)
        .expect("provider")
        .complete(&request("m"))
        .await
        .expect_err("too slow");
    assert_eq!(
        error,
        LlmError::Timeout {
            provider: "openai".into(),
            seconds: 1
        }
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn unreadable_answers_are_invalid_responses() {
    for body in [
        "<html><body>502 Bad Gateway</body></html>",
        "{\"choices\": [",
        "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[]}",
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(PATH))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
        let error = openai(&server)
            .complete(&request("m"))
            .await
            .expect_err(body);
        assert!(
            matches!(&error, LlmError::InvalidResponse { provider, .. } if provider == "openai"),
            "{body}: {error:?}"
        );
        assert!(!error.is_retryable());
    }
}

#[tokio::test]
async fn unreadable_stream_chunk_is_an_invalid_response() {
    let server = MockServer::start().await;
    let mut events = stream_events();
    events.insert(2, "data: {not json}\n\n".to_owned());
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(sse(&events))
        .mount(&server)
        .await;
    let events = collect(openai(&server).stream(&request("m")).await.expect("opens")).await;
    assert_eq!(deltas(&events), "Added ");
    assert!(
        matches!(events.last(), Some(Err(LlmError::InvalidResponse { .. }))),
        "{events:?}"
    );
}

#[tokio::test]
async fn falls_back_to_the_second_model() {
    for (status, kind, code) in [
        (404, "invalid_request_error", "model_not_found"),
        (500, "server_error", "server_error"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(PATH))
            .and(body_partial_json(json!({"model": "gpt-5-preview"})))
            .respond_with(error(
                status,
                kind,
                code,
                "The model `gpt-5-preview` failed.",
            ))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(PATH))
            .and(body_partial_json(json!({"model": "gpt-4o-mini"})))
            .respond_with(ok("gpt-4o-mini-2024-07-18", "from the second"))
            .expect(1)
            .mount(&server)
            .await;
        let provider: Arc<dyn LlmProvider> = Arc::new(openai(&server));
        let fallback = Fallback::new(vec![
            (provider.clone(), "gpt-5-preview".into()),
            (provider, "gpt-4o-mini".into()),
        ]);

        let completion = fallback.complete(&request("unused")).await.expect("second");

        assert_eq!(completion.text, "from the second");
        let models: Vec<Value> = bodies(&server)
            .await
            .iter()
            .map(|b| b["model"].clone())
            .collect();
        assert_eq!(
            models,
            [json!("gpt-5-preview"), json!("gpt-4o-mini")],
            "{status}"
        );
        server.verify().await;
    }
}

#[tokio::test]
async fn all_models_failing_is_exhausted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(error(503, "server_error", "overloaded", "Overloaded"))
        .expect(2)
        .mount(&server)
        .await;
    let provider: Arc<dyn LlmProvider> = Arc::new(openai(&server));
    let fallback = Fallback::new(vec![(provider.clone(), "a".into()), (provider, "b".into())]);
    let error = fallback.stream(&request("x")).await.err().expect("fails");
    match error {
        LlmError::Exhausted { last } => assert_eq!(
            *last,
            LlmError::Status {
                provider: "openai".into(),
                status: 503,
                message: "Overloaded".into(),
                retry_after: None
            }
        ),
        other => panic!("{other:?}"),
    }
    server.verify().await;
}

#[tokio::test]
async fn api_key_never_shows_in_errors_or_debug_output() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(error(
            401,
            "invalid_request_error",
            "invalid_api_key",
            &format!("Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com/account/api-keys."),
        ))
        .mount(&server)
        .await;
    let provider = openai(&server);

    let error = provider.complete(&request("m")).await.expect_err("401");
    let shown = assert_no_key(&error);
    assert!(
        shown.contains("Incorrect API key provided: [REDACTED]."),
        "{shown}"
    );
    assert!(matches!(error, LlmError::Status { status: 401, .. }));

    // A key echoed in a plain-text error page, and inside a stream.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(body_partial_json(json!({"stream": false})))
        .respond_with(ResponseTemplate::new(403).set_body_string(format!("forbidden key={KEY}")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(sse(&[
            stream_events()[1].clone(),
            format!("data: {{\"error\":{{\"message\":\"key {KEY} revoked\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}}}\n\n"),
        ]))
        .mount(&server)
        .await;
    let provider = openai(&server);
    let error = provider.complete(&request("m")).await.expect_err("403");
    assert!(assert_no_key(&error).contains("forbidden key=[REDACTED]"));
    let events = collect(provider.stream(&request("m")).await.expect("opens")).await;
    let Some(Err(error)) = events.last() else {
        panic!("{events:?}")
    };
    assert!(assert_no_key(error).contains("key [REDACTED] revoked"));
    assert_eq!(
        error.to_string(),
        "openai answered with an error (an error chunk in the stream, type invalid_api_key): key [REDACTED] revoked"
    );

    let config = openai_config(&server);
    assert!(!format!("{config:?}").contains(KEY));
    assert!(!format!("{provider:?}").contains(KEY));
}

#[tokio::test]
async fn azure_sends_the_key_in_an_api_key_header_and_the_api_version() {
    let server = MockServer::start().await;
    let deployment = "/openai/deployments/gpt-4o-mini";
    Mock::given(method("POST"))
        .and(path(format!("{deployment}/chat/completions")))
        .and(query_param("api-version", "2024-10-21"))
        .and(header("api-key", KEY))
        .respond_with(ok("gpt-4o-mini", "from azure"))
        .expect(1)
        .mount(&server)
        .await;
    let config = OpenAiConfig::azure(format!("{}{deployment}/", server.uri()), "2024-10-21")
        .with_api_key(KEY);
    assert_eq!(config.auth, AuthStyle::ApiKeyHeader);
    let provider = OpenAiProvider::new(&config).expect("provider");
    assert_eq!(provider.name(), "azure-openai");

    let completion = provider.complete(&request("ignored")).await.expect("ok");

    assert_eq!(completion.text, "from azure");
    assert_eq!(header_of(&server, "authorization").await, None);
    server.verify().await;
}

#[tokio::test]
async fn local_server_needs_no_key_but_a_remote_one_does() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ok("llama3.2", "from ollama"))
        .expect(1)
        .mount(&server)
        .await;
    let config = OpenAiConfig {
        api_key: None,
        api_key_env: UNSET_VARIABLE.into(),
        ..OpenAiConfig::local("ollama", format!("{}/v1", server.uri()))
    };
    let provider = OpenAiProvider::new(&config).expect("no key needed");
    let completion = provider.complete(&request("llama3.2")).await.expect("ok");
    assert_eq!(completion.text, "from ollama");
    assert_eq!(header_of(&server, "authorization").await, None);

    let remote = OpenAiConfig {
        api_key_env: UNSET_VARIABLE.into(),
        ..OpenAiConfig::default()
    };
    assert_eq!(
        OpenAiProvider::new(&remote).err(),
        Some(LlmError::MissingApiKey {
            provider: "openai".into(),
            variable: UNSET_VARIABLE.into()
        })
    );
}

#[tokio::test]
async fn key_is_read_from_the_environment_variable() {
    // Cargo sets CARGO_PKG_NAME for the tests it runs; no test may set variables itself.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ok("m", "ok"))
        .mount(&server)
        .await;
    let config = OpenAiConfig {
        api_key: None,
        api_key_env: "CARGO_PKG_NAME".into(),
        base_url: "https://api.example.com/v1".into(),
        ..openai_config(&server)
    };
    match std::env::var("CARGO_PKG_NAME") {
        Ok(value) => {
            let config = OpenAiConfig {
                base_url: format!("{}/v1", server.uri()),
                ..config
            };
            let provider = OpenAiProvider::new(&config).expect("key from the environment");
            provider.complete(&request("m")).await.expect("ok");
            assert_eq!(
                header_of(&server, "authorization").await,
                Some(format!("Bearer {value}"))
            );
        }
        Err(_) => assert!(matches!(
            OpenAiProvider::new(&config),
            Err(LlmError::MissingApiKey { .. })
        )),
    }
}

#[tokio::test]
async fn refused_connection_is_a_connection_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let config = OpenAiConfig {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        api_key: Some(KEY.into()),
        ..OpenAiConfig::default()
    };
    let error = OpenAiProvider::new(&config)
        .expect("provider")
        .complete(&request("m"))
        .await
        .expect_err("nothing listens");
    match &error {
        LlmError::Connection { provider, url, .. } => {
            assert_eq!(provider, "openai");
            assert_eq!(url, &format!("http://127.0.0.1:{port}/v1/chat/completions"));
        }
        other => panic!("{other:?}"),
    }
    assert!(error.is_retryable());
    assert_no_key(&error);
}

#[tokio::test]
async fn reasoning_models_get_max_completion_tokens_and_no_temperature() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ok("o3-mini-2025-01-31", "Added a `--json` flag."))
        .expect(3)
        .mount(&server)
        .await;

    let provider = openai(&server);
    for model in ["o3-mini", "gpt-5-mini", "azure/o1"] {
        provider.complete(&request(model)).await.expect("answer");
    }
    for (body, model) in bodies(&server)
        .await
        .iter()
        .zip(["o3-mini", "gpt-5-mini", "azure/o1"])
    {
        assert_eq!(body["model"], model);
        assert_eq!(body["max_completion_tokens"], 256);
        assert!(body.get("max_tokens").is_none(), "{body}");
        assert!(body.get("temperature").is_none(), "{body}");
    }
    for model in ["gpt-4o", "gpt-5-chat-latest", "llama3.1", "olmo-2"] {
        assert!(
            !changelog_core::llm::openai::is_reasoning_model(model),
            "{model}"
        );
    }
    server.verify().await;
}
