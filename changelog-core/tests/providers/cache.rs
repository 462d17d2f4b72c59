//! The `Cached` layer over a real provider: hits send nothing.

use std::sync::Arc;

use changelog_core::llm::{
    Cached, CompletionCache, DiskCache, FinishReason, LlmProvider, MemoryCache, StreamEvent,
};
use pretty_assertions::assert_eq;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{bodies, collect, openai, request};

const PATH: &str = "/v1/chat/completions";

fn answer(text: &str, finish_reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_741_569_952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "logprobs": null, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 19, "completion_tokens": 5, "total_tokens": 24}
    }))
}

async fn server_answering(times: u64, finish_reason: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(answer("Cached answer.", finish_reason))
        .expect(times)
        .mount(&server)
        .await;
    server
}

fn cached(server: &MockServer, cache: Arc<dyn CompletionCache>) -> Cached {
    Cached::new(Arc::new(openai(server)), cache)
}

#[tokio::test]
async fn memory_hit_sends_no_request() {
    let server = server_answering(1, "stop").await;
    let provider = cached(&server, Arc::new(MemoryCache::new(16)));

    let first = provider
        .complete(&request("gpt-4o-mini"))
        .await
        .expect("miss");
    let second = provider
        .complete(&request("gpt-4o-mini"))
        .await
        .expect("hit");

    assert!(!first.cached);
    assert!(second.cached);
    assert_eq!(second.text, first.text);
    assert_eq!(second.usage, first.usage);
    assert_eq!(second.model, first.model);
    server.verify().await;
}

#[tokio::test]
async fn another_request_is_a_miss() {
    let server = server_answering(2, "stop").await;
    let provider = cached(&server, Arc::new(MemoryCache::new(16)));
    provider
        .complete(&request("gpt-4o-mini"))
        .await
        .expect("miss");
    let other = provider.complete(&request("gpt-4o")).await.expect("miss");
    assert!(!other.cached);
    server.verify().await;
}

#[tokio::test]
async fn disk_hit_sends_no_request_even_from_a_new_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache_dir = dir.path().join("changelog/llm");
    let server = server_answering(1, "stop").await;

    let first = cached(&server, Arc::new(DiskCache::new(&cache_dir)))
        .complete(&request("gpt-4o-mini"))
        .await
        .expect("miss");
    // As another run would: new provider, new cache over the same directory.
    let second = cached(&server, Arc::new(DiskCache::new(&cache_dir)))
        .complete(&request("gpt-4o-mini"))
        .await
        .expect("hit");

    assert!(!first.cached);
    assert!(second.cached);
    assert_eq!(second.text, "Cached answer.");
    let files: Vec<_> = std::fs::read_dir(&cache_dir)
        .expect("created")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(files.len(), 1, "one file, no temporary left: {files:?}");
    server.verify().await;
}

#[tokio::test]
async fn corrupt_disk_entry_is_a_miss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server_answering(2, "stop").await;
    let disk = DiskCache::new(dir.path());
    let provider = cached(&server, Arc::new(disk.clone()));
    let request = request("gpt-4o-mini");

    provider.complete(&request).await.expect("miss");
    let file = disk.path_of(&provider.key(&request));
    assert!(file.is_file());
    std::fs::write(&file, b"{\"text\": \"half a wri").expect("corrupt");

    let again = provider
        .complete(&request)
        .await
        .expect("miss, not an error");

    assert!(!again.cached);
    assert_eq!(bodies(&server).await.len(), 2);
    // The fresh answer replaced the corrupt file.
    assert_eq!(
        disk.get(&provider.key(&request)).await.map(|c| c.text),
        Some(again.text)
    );
    server.verify().await;
}

#[tokio::test]
async fn cut_answers_are_not_cached() {
    let server = server_answering(2, "length").await;
    let provider = cached(&server, Arc::new(MemoryCache::new(16)));
    let first = provider
        .complete(&request("gpt-4o-mini"))
        .await
        .expect("ok");
    assert_eq!(first.finish_reason, FinishReason::Length);
    let second = provider
        .complete(&request("gpt-4o-mini"))
        .await
        .expect("ok");
    assert!(!second.cached);
    server.verify().await;
}

#[tokio::test]
async fn streamed_answer_is_cached_and_replayed() {
    let server = MockServer::start().await;
    let body = [
        r#"data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"Cached "},"finish_reason":null}]}"#,
        r#"data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"answer."},"finish_reason":"stop"}]}"#,
        r#"data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":5,"total_tokens":24}}"#,
        "data: [DONE]",
    ]
    .map(|line| format!("{line}\n\n"))
    .concat();
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .expect(1)
        .mount(&server)
        .await;
    let cache = Arc::new(MemoryCache::new(16));
    let provider = cached(&server, cache.clone());

    let first = collect(provider.stream(&request("m")).await.expect("miss")).await;
    let second = collect(provider.stream(&request("m")).await.expect("hit")).await;
    let whole = provider.complete(&request("m")).await.expect("hit");

    assert_eq!(first.len(), 3);
    assert_eq!(
        second,
        [
            Ok(StreamEvent::Delta("Cached answer.".into())),
            first[2].clone()
        ]
    );
    assert!(whole.cached);
    assert_eq!(whole.text, "Cached answer.");
    assert_eq!(cache.len(), 1);
    server.verify().await;
}
