//! `changelog generate --provider ...` against OpenAI-compatible servers on 127.0.0.1
//! (wiremock speaking the chat completions wire format) and the simulated provider.

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use changelog_core::budget::{ModelInfo, TokenCounter};
use changelog_core::llm::simulated::SimulatedProvider;
use changelog_core::llm::{ChatRequest, Message, Role};
use changelog_core::testing::TestRepo;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Runs the binary with a private cache directory and no keys from the environment.
async fn changelog(args: Vec<String>, cache: &Path) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_changelog"));
    command
        .args(args)
        .env("CHANGELOG_CACHE_DIR", cache)
        .env("OPENAI_API_KEY", "sk-test-not-a-real-key")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("CHANGELOG_PROVIDER")
        .env_remove("CHANGELOG_MODEL")
        .env_remove("CHANGELOG_BASE_URL");
    command.output().await.expect("run changelog")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Answers chat completions like the simulated model, plus one invented bullet and one
/// without a citation; records each prompt's size by the model's own count.
#[derive(Clone, Default)]
struct Model {
    prompt_tokens: Arc<Mutex<Vec<usize>>>,
}

impl Respond for Model {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).expect("JSON request");
        let messages: Vec<Message> = body["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| Message {
                role: if m["role"] == "system" {
                    Role::System
                } else {
                    Role::User
                },
                content: m["content"].as_str().unwrap_or_default().to_owned(),
            })
            .collect();
        let counter = TokenCounter::new(&ModelInfo::for_model(body["model"].as_str().unwrap()));
        self.prompt_tokens
            .lock()
            .unwrap()
            .push(counter.count_messages(&messages));
        let chat = ChatRequest {
            model: body["model"].as_str().unwrap().to_owned(),
            messages,
            temperature: 0.0,
            max_output_tokens: 4_000,
        };
        let mut answer = SimulatedProvider::answer(&chat);
        answer.push_str(
            "\n### Other\n\n- A feature nobody wrote [deadbee]\n- Something with no citation\n",
        );
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": chat.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "finish_reason": "stop"
            }],
            "usage": {"prompt_tokens": 321, "completion_tokens": 45, "total_tokens": 366}
        }))
    }
}

fn two_releases() -> (TestRepo, Vec<String>) {
    let mut repo = TestRepo::new();
    repo.commit("feat: before");
    repo.tag("v0.1.0");
    let ids = vec![
        repo.commit("feat(api): list widgets").to_string(),
        repo.commit("fix: crash on empty list").to_string(),
        repo.commit("perf: cache the widget index").to_string(),
    ];
    repo.tag("v0.2.0");
    repo.commit("feat: after");
    (repo, ids)
}

fn args(repo: &TestRepo, server: &MockServer, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--range",
        "v0.1.0..v0.2.0",
        "--provider",
        "openai",
        "--base-url",
        &format!("{}/v1", server.uri()),
        "--model",
        "gpt-4o-mini",
        "--format",
        "json",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_answers_are_verified_and_cached() {
    let (repo, in_range) = two_releases();
    let server = MockServer::start().await;
    let model = Model::default();
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(model.clone())
        .expect(1)
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();

    let out = changelog(args(&repo, &server, &[]), cache.path()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries: Vec<&Value> = doc["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["entries"].as_array().unwrap())
        .collect();
    assert_eq!(entries.len(), 3, "{doc:#}");
    for entry in &entries {
        for id in entry["commits"].as_array().unwrap() {
            assert!(in_range.contains(&id.as_str().unwrap().to_owned()), "{id}");
        }
    }
    assert_eq!(doc["verification"]["dropped_entries"], 2);
    assert_eq!(doc["verification"]["coverage"], 1.0);
    assert_eq!(doc["usage"]["input_tokens"], 321);
    assert_eq!(doc["usage"]["output_tokens"], 45);
    assert_eq!(doc["usage"]["requests"], 1);
    assert!(doc["usage"]["cost_usd"].as_f64().unwrap() > 0.0);
    assert!(stderr(&out).contains("2 entries of the answer were dropped"));

    // The same run again: answered from the cache, nothing sent (the mock expects 1 request).
    let again = changelog(args(&repo, &server, &[]), cache.path()).await;
    assert!(again.status.success(), "{}", stderr(&again));
    let doc: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(doc["usage"]["requests"], 0);
    assert_eq!(doc["usage"]["cached_requests"], 1);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn estimate_sends_nothing() {
    let (repo, _) = two_releases();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let out = changelog(args(&repo, &server, &["--estimate"]), cache.path()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let estimate: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(estimate["requests"], 1);
    assert!(estimate["input_tokens"].as_u64().unwrap() > 50);
    assert!(estimate["cost_usd"].as_f64().unwrap() > 0.0);

    // A model without a known price: null, and a note, never 0.
    for model in ["claude-9-mystery", "llama3.1:8b"] {
        let mut unpriced = args(&repo, &server, &["--estimate"]);
        let at = unpriced.iter().position(|a| a == "--model").unwrap();
        unpriced[at + 1] = model.to_owned();
        let out = changelog(unpriced, cache.path()).await;
        assert!(out.status.success(), "{}", stderr(&out));
        let estimate: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(estimate["cost_usd"], Value::Null, "{model}");
        assert!(
            stderr(&out).contains("no price is known"),
            "{}",
            stderr(&out)
        );
    }
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_are_waited_out() {
    let (repo, _) = two_releases();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(
                    json!({"error": {"message": "Rate limit reached", "type": "requests"}}),
                ),
        )
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(Model::default())
        .expect(1)
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = changelog(args(&repo, &server, &["--no-cache"]), cache.path()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_request_fails_at_once_without_the_key_in_the_message() {
    let (repo, _) = two_releases();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {"message": "Invalid request from key sk-test-not-a-real-key", "type": "invalid_request_error"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let out = changelog(args(&repo, &server, &["--no-cache"]), cache.path()).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("400"), "{err}");
    assert!(!err.contains("sk-test-not-a-real-key"), "{err}");
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn four_thousand_commits_map_reduce_within_the_budget() {
    let mut repo = TestRepo::new();
    repo.commit_empty("chore: start");
    repo.tag("v0.1.0");
    for n in 0..4_000 {
        let message = match n % 4 {
            0 => format!("feat(api): endpoint {n} lists widgets by owner and by date"),
            1 => format!("fix: widget {n} no longer disappears after a refresh"),
            2 => format!("perf: faster widget search path {n}"),
            _ => format!("Improve the error shown for widget {n}"),
        };
        repo.commit_empty(&message);
    }
    repo.tag("v0.2.0");
    let server = MockServer::start().await;
    let model = Model::default();
    Mock::given(method("POST"))
        .respond_with(model.clone())
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let out = changelog(
        args(
            &repo,
            &server,
            &[
                "--no-cache",
                "--max-input-tokens",
                "4000",
                "--max-output-tokens",
                "1000",
            ],
        ),
        cache.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let sizes = model.prompt_tokens.lock().unwrap().clone();
    assert!(sizes.len() > 10, "map-reduce: {} requests", sizes.len());
    let largest = sizes.iter().max().copied().unwrap_or_default();
    assert!(largest <= 4_000, "a request of {largest} tokens");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["usage"]["requests"].as_u64().unwrap() as usize,
        sizes.len()
    );
    assert!(doc["verification"]["dropped_entries"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulated_provider_needs_no_key_or_network() {
    let (repo, _) = two_releases();
    let cache = tempfile::tempdir().unwrap();
    let out = changelog(
        [
            "generate",
            "--repo",
            repo.path().to_str().unwrap(),
            "--range",
            "v0.2.0",
            "--provider",
            "simulated",
            "--style",
            "release-notes",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        cache.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("list widgets"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn llm_only_styles_and_flags_need_a_provider() {
    let (repo, _) = two_releases();
    let cache = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args: Vec<String> = vec![
            "generate".into(),
            "--repo".into(),
            repo.path().to_str().unwrap().into(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        changelog(args, cache.path())
    };
    for extra in [&["--style", "social"][..], &["--repair"], &["--stream"]] {
        let out = run(extra).await;
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("provider"), "{}", stderr(&out));
    }
    // An estimate sends nothing, so it needs neither a provider nor a key: it counts for the
    // model named (or the default one), as the Python module does.
    let out = run(&["--estimate", "--model", "gpt-4o"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("model: gpt-4o\n"), "{text}");
    assert!(text.contains("requests: 1"), "{text}");
}

fn simulated_args(repo: &TestRepo, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "generate",
        "--repo",
        repo.path().to_str().unwrap(),
        "--range",
        "v0.2.0",
        "--provider",
        "simulated",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn streaming_prints_the_answer_and_writes_the_verified_document() {
    let (repo, _) = two_releases();
    let cache = tempfile::tempdir().unwrap();
    let target = cache.path().join("CHANGELOG.json");
    let out = changelog(
        simulated_args(
            &repo,
            &[
                "--stream",
                "--no-cache",
                "--format",
                "json",
                "--output",
                target.to_str().unwrap(),
            ],
        ),
        cache.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let streamed = stderr(&out);
    assert!(streamed.starts_with("## Changes"), "{streamed}");
    assert!(streamed.contains("list widgets ["), "{streamed}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert_eq!(doc["verification"]["coverage"], 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_are_read_and_checked() {
    let (repo, _) = two_releases();
    let cache = tempfile::tempdir().unwrap();
    let good = cache.path().join("good.j2");
    std::fs::write(&good, "Release {{ version }}: {{ citation_rule }}").unwrap();
    let out = changelog(
        simulated_args(&repo, &["--template", good.to_str().unwrap()]),
        cache.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));

    let broken = cache.path().join("broken.j2");
    std::fs::write(&broken, "{% if %}").unwrap();
    let out = changelog(
        simulated_args(&repo, &["--template", broken.to_str().unwrap()]),
        cache.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("invalid prompt template"),
        "{}",
        stderr(&out)
    );

    let missing = cache.path().join("missing.j2");
    let out = changelog(
        simulated_args(&repo, &["--template", missing.to_str().unwrap()]),
        cache.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing.j2"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_api_key_is_named_without_sending_anything() {
    let (repo, _) = two_releases();
    let cache = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_changelog"));
    let out = command
        .args([
            "generate",
            "--repo",
            repo.path().to_str().unwrap(),
            "--provider",
            "anthropic",
        ])
        .env("CHANGELOG_CACHE_DIR", cache.path())
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("CHANGELOG_BASE_URL")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("ANTHROPIC_API_KEY"),
        "{}",
        stderr(&out)
    );
}

/// An OpenAI chat completions stream (`text/event-stream`) carrying `answer` in a few chunks.
fn openai_sse(answer: &str, finish_reason: &str) -> String {
    let mut body = String::new();
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        })
    };
    body.push_str(&format!(
        "data: {}\n\n",
        chunk(json!({"role": "assistant", "content": ""}), Value::Null)
    ));
    for line in answer.split_inclusive('\n') {
        body.push_str(&format!(
            "data: {}\n\n",
            chunk(json!({"content": line}), Value::Null)
        ));
    }
    body.push_str(&format!(
        "data: {}\n\n",
        chunk(json!({}), json!(finish_reason))
    ));
    body.push_str(&format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
               "model": "gpt-4o-mini", "choices": [],
               "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}})
    ));
    body.push_str("data: [DONE]\n\n");
    body
}

fn sse_response(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/event-stream")
        .set_body_string(body)
}

/// A chat completions answer (not streamed) with this text.
fn openai_json(content: &Value, finish_reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": finish_reason
        }],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    }))
}

#[tokio::test(flavor = "multi_thread")]
async fn streaming_to_stdout_prints_only_the_verified_document_in_its_format() {
    let (repo, ids) = two_releases();
    let server = MockServer::start().await;
    let answer = format!(
        "### Features\n\n- List widgets [{}]\n- A feature nobody wrote [0badf00]\n- No citation at all\n",
        &ids[0][..7]
    );
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(sse_response(openai_sse(&answer, "stop")))
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let out = changelog(
        args(&repo, &server, &["--stream", "--no-cache"]),
        cache.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let doc: Value = serde_json::from_str(&stdout).expect("the verified JSON");
    // The dropped bullets are only reported as dropped, never kept.
    let sections = doc["sections"].to_string();
    assert!(sections.contains("List widgets"), "{sections}");
    assert!(
        !sections.contains("0badf00") && !sections.contains("nobody wrote"),
        "{sections}"
    );
    assert!(!stdout.contains("### Features"), "{stdout}");
    assert_eq!(doc["verification"]["dropped_entries"], 2);
    // The tokens were shown live, apart from the document.
    assert!(stderr(&out).contains("List widgets"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_with_no_usable_entry_fails_and_is_not_cached() {
    let (repo, _) = two_releases();
    let cache = tempfile::tempdir().unwrap();
    for (content, came_back) in [
        (Value::Null, "the answer was empty"),
        (
            json!("### Features\n\n- A feature nobody wrote [0badf00]\n- No citation\n"),
            "dropped",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(openai_json(&content, "stop"))
            .expect(2)
            .mount(&server)
            .await;
        for _ in 0..2 {
            let out = changelog(args(&repo, &server, &[]), cache.path()).await;
            assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
            assert!(out.stdout.is_empty());
            let message = stderr(&out);
            assert!(message.contains("gpt-4o-mini"), "{message}");
            assert!(message.contains(came_back), "{message}");
            assert!(message.contains("--on-empty deterministic"), "{message}");
        }
    }

    // On request, the changelog written without a model instead.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(openai_json(&Value::Null, "stop"))
        .mount(&server)
        .await;
    let out = changelog(
        args(&repo, &server, &["--on-empty", "deterministic"]),
        cache.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["model"], Value::Null);
    assert_eq!(doc["stats"]["entries"], 3, "{doc}");
    assert!(stderr(&out).contains("without a model"), "{}", stderr(&out));
}

/// A chat completions answer from `model`.
fn openai_json_from(model: &str, content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    }))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_breaks_midway_is_asked_again_and_falls_back() {
    let (repo, ids) = two_releases();
    let answer = format!("### Features\n\n- List widgets [{}]\n", &ids[0][..7]);
    // The first half of a stream, then the connection closes: no finish, no [DONE].
    let full = openai_sse(&answer, "stop");
    let cut = full[..full.find("List").unwrap() + 20].to_owned();
    let cut = cut[..cut.rfind("\n\n").unwrap() + 2].to_owned();
    let cache = tempfile::tempdir().unwrap();

    // The same model, asked again.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(sse_response(cut.clone()))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"stream": false})))
        .respond_with(openai_json_from("gpt-4o-mini", &answer))
        .expect(1)
        .mount(&server)
        .await;
    let out = changelog(
        args(&repo, &server, &["--stream", "--no-cache"]),
        cache.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["stats"]["entries"], 1, "{doc}");

    // The model fails again as a whole answer: the fallback model answers.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"model": "gpt-4o-mini", "stream": true}),
        ))
        .respond_with(sse_response(cut))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"model": "gpt-4o-mini", "stream": false})))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"error": {"message": "The model does not exist", "type": "invalid_request_error", "code": "model_not_found"}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"model": "backup-model"})))
        .respond_with(openai_json_from("backup-model", &answer))
        .mount(&server)
        .await;
    let out = changelog(
        args(
            &repo,
            &server,
            &["--stream", "--no-cache", "--fallback-model", "backup-model"],
        ),
        cache.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["model"], "backup-model", "{doc}");
    assert_eq!(doc["stats"]["entries"], 1, "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_answer_warns_is_asked_again_with_more_room_and_is_not_cached() {
    let (repo, ids) = two_releases();
    let answer = format!("### Features\n\n- List widgets [{}]\n- Fix", &ids[0][..7]);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(openai_json(&json!(answer), "length"))
        .expect(4)
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = changelog(args(&repo, &server, &[]), cache.path()).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("finish_reason: length"),
            "{}",
            stderr(&out)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["usage"]["truncated_answers"], 1, "{doc}");
    }
    let limits: Vec<u64> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.body_json::<Value>().unwrap()["max_tokens"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(limits, [4_096, 8_192, 4_096, 8_192]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fallback_answer_is_cached_under_its_own_model_and_named() {
    let (repo, ids) = two_releases();
    let answer = format!("### Features\n\n- List widgets [{}]\n", &ids[0][..7]);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"model": "gpt-4o-mini"})))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"error": {"message": "The model does not exist", "type": "invalid_request_error", "code": "model_not_found"}}),
        ))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"model": "backup-model"})))
        .respond_with(openai_json_from("backup-model", &answer))
        .expect(1)
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = changelog(
            args(&repo, &server, &["--fallback-model", "backup-model"]),
            cache.path(),
        )
        .await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("fallback model `backup-model` answered"),
            "{}",
            stderr(&out)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["model"], "backup-model");
    }
}
