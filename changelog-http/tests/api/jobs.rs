//! Generation jobs: `POST /changelogs` with `source: "git"` over a repository under the
//! server's root, followed through Server-Sent Events and a WebSocket, cancelled, taken over by
//! another instance after its worker died, and given back on shutdown.

use std::time::Duration;

use changelog_core::llm::simulated::SimulatedProvider;
use changelog_core::llm::stack::{CacheChoice, ProviderKind, StackConfig};
use changelog_core::llm::{ChatRequest, Message, Role};
use changelog_core::testing::TestRepo;
use changelog_http::ServerConfig;
use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::harness::{Server, User, error, invalid};

crate::suite!(
    a_git_request_is_a_job_whose_events_end_with_the_stored_changelog,
    events_resume_after_the_last_event_seen,
    a_websocket_carries_the_same_events_and_answers_pings,
    generation_requests_are_checked_before_they_are_queued,
    another_users_job_is_not_found,
    a_cancelled_job_stops_and_stores_nothing,
    a_job_whose_worker_died_is_finished_by_another_instance,
    a_stopping_server_gives_its_running_job_back,
    an_estimate_counts_tokens_and_sends_nothing,
    drafts_and_published_changelogs,
);

/// Two releases in a repository under the server's root; returns its directory's name there.
fn repository(server: &Server) -> (TestRepo, String) {
    let mut repo = TestRepo::new_in(server.repos.path());
    repo.commit("feat: first steps");
    repo.tag("v0.1.0");
    repo.commit("feat(api): list widgets");
    repo.commit("fix: crash on an empty list");
    repo.commit("perf: cache the widget index");
    repo.tag("v0.2.0");
    let name = repo
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("directory name")
        .to_owned();
    (repo, name)
}

async fn queue(server: &Server, user: &User, body: Value) -> Value {
    let response = server
        .as_user(user, Method::POST, "/changelogs")
        .json(&body)
        .send()
        .await
        .expect("queue");
    assert_eq!(response.status(), StatusCode::ACCEPTED, "queue a job");
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_owned();
    let job: Value = response.json().await.expect("job");
    assert_eq!(
        location,
        format!("/api/v1/jobs/{}", job["id"].as_str().unwrap())
    );
    job
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
struct Sse {
    id: i64,
    event: String,
    data: Value,
}

fn parse_sse(text: &str) -> Vec<Sse> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            Some(Sse {
                id: id?,
                event: event?,
                data: serde_json::from_str(&data).expect("event data is JSON"),
            })
        })
        .collect()
}

/// Reads a job's event stream to its end.
async fn events(server: &Server, user: &User, job: &str, last_event_id: Option<i64>) -> Vec<Sse> {
    let mut request = server
        .as_user(user, Method::GET, &format!("/jobs/{job}/events"))
        .timeout(Duration::from_secs(60));
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let response = request.send().await.expect("events");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    parse_sse(&response.text().await.expect("the stream ends"))
}

async fn job(server: &Server, user: &User, id: &str) -> Value {
    let response = server
        .as_user(user, Method::GET, &format!("/jobs/{id}"))
        .send()
        .await
        .expect("job");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("job")
}

async fn wait_for(server: &Server, user: &User, id: &str, status: &str) -> Value {
    for _ in 0..400 {
        let job = job(server, user, id).await;
        if job["status"] == status {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} never became {status}");
}

async fn a_git_request_is_a_job_whose_events_end_with_the_stored_changelog(server: &Server) {
    let (repo, name) = repository(server);
    let user = server.user("ada").await;
    let queued = queue(
        server,
        &user,
        json!({
            "source": "git",
            "repo_url": name,
            "commit_range": "v0.1.0..v0.2.0",
            "version": "v0.2.0",
            "tags": ["release"],
        }),
    )
    .await;
    assert!(
        matches!(queued["status"].as_str(), Some("queued" | "running")),
        "{queued}"
    );
    let id = queued["id"].as_str().unwrap();
    assert_eq!(queued["events_url"], format!("/api/v1/jobs/{id}/events"));

    let events = events(server, &user, id, None).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"attempt"), "{kinds:?}");
    assert!(kinds.contains(&"progress"), "{kinds:?}");
    assert!(
        kinds.contains(&"delta"),
        "the model's text is streamed: {kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"completed"), "{kinds:?}");
    assert!(events.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    let streamed: String = events
        .iter()
        .filter(|e| e.event == "delta")
        .map(|e| e.data["text"].as_str().unwrap())
        .collect();
    assert!(streamed.contains("list widgets"), "{streamed}");

    let changelog = &events.last().unwrap().data["changelog"];
    assert_eq!(changelog["source"], "git");
    assert_eq!(changelog["status"], "draft");
    assert_eq!(changelog["version"], "v0.2.0");
    assert_eq!(changelog["tags"], json!(["release"]));
    assert_eq!(changelog["commit_range"], "v0.1.0..v0.2.0");
    assert_eq!(changelog["model"], "simulated");
    let content = changelog["content"].as_str().unwrap();
    for subject in [
        "list widgets",
        "crash on an empty list",
        "cache the widget index",
    ] {
        assert!(content.contains(subject), "{content}");
    }
    assert!(
        !content.contains("first steps"),
        "outside the range: {content}"
    );
    assert!(changelog["input_tokens"].as_i64().unwrap() > 0);

    let done = job(server, &user, id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["progress"], 100);
    assert_eq!(done["changelog_id"], changelog["id"]);
    let stored = server
        .as_user(
            &user,
            Method::GET,
            &format!("/changelogs/{}", changelog["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), StatusCode::OK);
    assert_eq!(stored.json::<Value>().await.unwrap()["content"], content);

    // Usage is recorded from the provider's counts.
    let today = chrono::Utc::now().date_naive();
    let usage = server
        .store()
        .usage_total(user.id, today, today)
        .await
        .expect("usage");
    assert_eq!(
        usage.input_tokens,
        changelog["input_tokens"].as_i64().unwrap()
    );
    assert!(usage.requests >= 1);

    // Jobs by state and the model's tokens are in the metrics.
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "changelog_jobs_total{state=\"queued\"}",
        "changelog_jobs_total{state=\"succeeded\"}",
        "changelog_llm_tokens_total{direction=\"input\"}",
        "changelog_jobs_running",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
    drop(repo);
}

async fn events_resume_after_the_last_event_seen(server: &Server) {
    let (_repo, name) = repository(server);
    let user = server.user("ada").await;
    let job = queue(
        server,
        &user,
        json!({"source": "git", "repo_url": name, "commit_range": "v0.1.0..v0.2.0"}),
    )
    .await;
    let id = job["id"].as_str().unwrap();
    let all = events(server, &user, id, None).await;
    assert!(all.len() >= 4, "{all:?}");
    let seen = &all[1];
    let rest = events(server, &user, id, Some(seen.id)).await;
    assert_eq!(
        rest.iter().map(|e| e.id).collect::<Vec<_>>(),
        all[2..].iter().map(|e| e.id).collect::<Vec<_>>(),
        "resumes right after event {}",
        seen.id
    );
    // `after` does the same for clients that cannot set headers.
    let response = server
        .as_user(
            &user,
            Method::GET,
            &format!("/jobs/{id}/events?after={}", seen.id),
        )
        .send()
        .await
        .unwrap();
    let again = parse_sse(&response.text().await.unwrap());
    assert_eq!(again.len(), rest.len());
    let bad = server
        .as_user(&user, Method::GET, &format!("/jobs/{id}/events"))
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    invalid(bad, "Last-Event-ID").await;
}

async fn a_websocket_carries_the_same_events_and_answers_pings(server: &Server) {
    use tokio_tungstenite::tungstenite::Message as Ws;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

    let (_repo, name) = repository(server);
    let user = server.user("ada").await;
    let job = queue(
        server,
        &user,
        json!({"source": "git", "repo_url": name, "commit_range": "v0.1.0..v0.2.0"}),
    )
    .await;
    let id = job["id"].as_str().unwrap();
    let url = format!(
        "{}/api/v1/ws/jobs/{id}",
        server.base.replace("http://", "ws://")
    );
    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", user.access).parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the WebSocket opens");
    socket
        .send(Ws::Text(r#"{"type":"ping"}"#.into()))
        .await
        .unwrap();
    let mut frames = Vec::new();
    let mut pong = false;
    while let Some(message) = tokio::time::timeout(Duration::from_secs(60), socket.next())
        .await
        .expect("a message in time")
    {
        match message.expect("a message") {
            Ws::Text(text) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] == "pong" {
                    pong = true;
                } else {
                    frames.push(value);
                }
            }
            Ws::Close(_) => break,
            _ => {}
        }
    }
    assert!(pong, "a JSON ping is answered");
    let sse = events(server, &user, id, None).await;
    let kinds: Vec<&str> = frames
        .iter()
        .map(|f| f["event"].as_str().unwrap())
        .collect();
    let sse_kinds: Vec<&str> = sse.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, sse_kinds);
    assert_eq!(frames.last().unwrap()["data"]["changelog"]["source"], "git");

    // Without credentials the upgrade is refused.
    let refused = tokio_tungstenite::connect_async(url.as_str()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("expected 401, got {other:?}"),
    }
}

async fn generation_requests_are_checked_before_they_are_queued(server: &Server) {
    let (_repo, name) = repository(server);
    let user = server.user("ada").await;
    let outside = TestRepo::new();
    let outside_path = outside.path().to_str().unwrap().to_owned();
    let link = server.repos.path().join("escape");
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    let cases = [
        (json!({"source": "git"}), "repo_url"),
        (
            json!({"source": "git", "repo_url": outside_path}),
            "repo_url",
        ),
        (
            json!({"source": "git", "repo_url": format!("{name}/../..")}),
            "repo_url",
        ),
        (json!({"source": "git", "repo_url": "escape"}), "repo_url"),
        (json!({"source": "git", "repo_url": "missing"}), "repo_url"),
        (
            json!({"source": "git", "repo_url": "ssh://git@example.com/x.git"}),
            "repo_url",
        ),
        (
            json!({"source": "git", "repo_url": "git@example.com:x.git"}),
            "repo_url",
        ),
        (
            json!({"source": "git", "repo_url": "http://127.0.0.1/x.git"}),
            "repo_url",
        ),
        (
            json!({"source": "git", "repo_url": "--upload-pack=touch"}),
            "repo_url",
        ),
        (
            json!({"source": "git", "repo_url": name, "style": "haiku"}),
            "style",
        ),
        (
            json!({"source": "git", "repo_url": name, "commit_range": "main~1..HEAD"}),
            "commit_range",
        ),
        (
            json!({"source": "git", "repo_url": name, "commit_range": ":/fix"}),
            "commit_range",
        ),
        (
            json!({"source": "git", "repo_url": name, "provider": "openai"}),
            "provider",
        ),
        (
            json!({"source": "git", "repo_url": name, "content": "# hand"}),
            "content",
        ),
        (
            json!({"source": "git", "repo_url": name, "temperature": 9.5}),
            "temperature",
        ),
        (
            json!({"source": "git", "repo_url": name, "provider": "none", "style": "social"}),
            "style",
        ),
        (
            json!({"source": "manual", "content": "x", "provider": "none"}),
            "provider",
        ),
    ];
    for (body, field) in cases {
        let response = server
            .as_user(&user, Method::POST, "/changelogs")
            .json(&body)
            .send()
            .await
            .unwrap();
        invalid(response, field).await;
    }
    // Nothing was queued.
    assert!(listed(server, &user).await.is_empty());
    // The deterministic changelog needs no model.
    let job = queue(
        server,
        &user,
        json!({"source": "git", "repo_url": name, "provider": "none",
               "style": "keep-a-changelog", "commit_range": "v0.1.0..v0.2.0"}),
    )
    .await;
    let events = events(server, &user, job["id"].as_str().unwrap(), None).await;
    let last = events.last().unwrap();
    assert_eq!(last.event, "completed", "{last:?}");
    assert_eq!(last.data["changelog"]["model"], Value::Null);
    assert!(
        last.data["changelog"]["content"]
            .as_str()
            .unwrap()
            .contains("### Added")
    );
    assert!(!events.iter().any(|e| e.event == "delta"));
}

async fn another_users_job_is_not_found(server: &Server) {
    let (_repo, name) = repository(server);
    let ada = server.user("ada").await;
    let bob = server.user("bob").await;
    let job = queue(
        server,
        &ada,
        json!({"source": "git", "repo_url": name, "commit_range": "v0.1.0..v0.2.0"}),
    )
    .await;
    let id = job["id"].as_str().unwrap();
    for (verb, path) in [
        (Method::GET, format!("/jobs/{id}")),
        (Method::GET, format!("/jobs/{id}/events")),
        (Method::DELETE, format!("/jobs/{id}")),
        (Method::GET, format!("/ws/jobs/{id}")),
        (Method::GET, "/jobs/not-a-job".to_owned()),
        (Method::GET, format!("/jobs/{}", uuid::Uuid::new_v4())),
    ] {
        let response = server.as_user(&bob, verb, &path).send().await.unwrap();
        error(response, StatusCode::NOT_FOUND).await;
    }
    let response = server
        .api(Method::GET, &format!("/jobs/{id}"))
        .send()
        .await
        .unwrap();
    error(response, StatusCode::UNAUTHORIZED).await;
    // Ada's job was not touched by Bob's cancel.
    let done = events(server, &ada, id, None).await;
    assert_eq!(done.last().unwrap().event, "completed");
}

/// An OpenAI-compatible model that streams the simulated answer after `delay`.
#[derive(Clone)]
struct SlowModel {
    delay: Duration,
}

impl Respond for SlowModel {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).expect("JSON request");
        assert_eq!(body["stream"], true, "the job streams");
        let messages = body["messages"]
            .as_array()
            .unwrap()
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
        let answer = SimulatedProvider::answer(&ChatRequest {
            model: "gpt-4o-mini".into(),
            messages,
            temperature: 0.0,
            max_output_tokens: 4000,
        });
        let mut sse = String::new();
        for piece in answer.split_inclusive('\n') {
            let chunk = json!({
                "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]
            });
            sse.push_str(&format!("data: {chunk}\n\n"));
        }
        let end = json!({
            "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]
        });
        let usage = json!({
            "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-4o-mini", "choices": [],
            "usage": {"prompt_tokens": 321, "completion_tokens": 45, "total_tokens": 366}
        });
        sse.push_str(&format!("data: {end}\n\ndata: {usage}\n\ndata: [DONE]\n\n"));
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/event-stream")
            .set_body_string(sse)
            .set_delay(self.delay)
    }
}

async fn slow_model(delay: Duration) -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(SlowModel { delay })
        .mount(&mock)
        .await;
    mock
}

fn with_model(base: ServerConfig, mock: &MockServer, lease: Duration) -> ServerConfig {
    ServerConfig {
        provider: Some(StackConfig {
            base_url: Some(format!("{}/v1", mock.uri())),
            api_key: Some("sk-test-key".into()),
            model: Some("gpt-4o-mini".into()),
            cache: CacheChoice::Off,
            ..StackConfig::new(ProviderKind::OpenAi)
        }),
        job_lease: lease,
        ..base
    }
}

/// The caller's changelogs (first page).
async fn listed(server: &Server, user: &User) -> Vec<Value> {
    let page: Value = server.get_json(user, "/changelogs").await;
    page["items"].as_array().cloned().unwrap_or_default()
}

/// A job running on a new instance (the suite's own workers stopped) whose model answers after
/// `delay`; its lease is `lease`.
struct Running {
    instance: Server,
    mock: MockServer,
    user: User,
    id: String,
    _repo: TestRepo,
}

async fn running_job(server: &Server, delay: Duration, lease: Duration) -> Running {
    server.kill_workers();
    let mock = slow_model(delay).await;
    let instance = server
        .another(with_model(server.config(), &mock, lease))
        .await;
    let (repo, name) = repository(&instance);
    let user = instance.user("ada").await;
    let job = queue(
        &instance,
        &user,
        json!({"source": "git", "repo_url": name, "commit_range": "v0.1.0..v0.2.0"}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_owned();
    wait_for(&instance, &user, &id, "running").await;
    Running {
        instance,
        mock,
        user,
        id,
        _repo: repo,
    }
}

async fn a_cancelled_job_stops_and_stores_nothing(server: &Server) {
    let Running {
        instance,
        user,
        id,
        _repo,
        ..
    } = running_job(server, Duration::from_secs(30), Duration::from_secs(5)).await;
    let cancel = || {
        instance
            .as_user(&user, Method::DELETE, &format!("/jobs/{id}"))
            .send()
    };
    let cancelled = cancel().await.unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(
        cancelled.json::<Value>().await.unwrap()["status"],
        "cancelled"
    );
    let events = events(&instance, &user, &id, None).await;
    assert_eq!(events.last().unwrap().event, "cancelled");
    // Cancelling again answers the job as it is.
    let again = cancel().await.unwrap();
    assert_eq!(again.json::<Value>().await.unwrap()["status"], "cancelled");
    assert!(listed(&instance, &user).await.is_empty());
    instance.stop().await;
}

async fn a_job_whose_worker_died_is_finished_by_another_instance(server: &Server) {
    let lease = Duration::from_secs(1);
    let Running {
        instance: first,
        mock,
        user,
        id,
        _repo,
    } = running_job(server, Duration::from_secs(2), lease).await;
    // The worker dies mid-run: its lease stays until it runs out.
    first.kill_workers();
    let second = first
        .another(with_model(server.config(), &mock, lease))
        .await;
    let events = events(&second, &user, &id, None).await;
    let last = events.last().unwrap();
    assert_eq!(last.event, "completed", "{events:?}");
    let attempts: Vec<i64> = events
        .iter()
        .filter(|e| e.event == "attempt")
        .map(|e| e.data["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2], "taken over once");
    let done = job(&second, &user, &id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["attempts"], 2);
    let stored = listed(&second, &user).await;
    assert_eq!(stored.len(), 1, "one changelog");
    let stored: Value = second
        .get_json(
            &user,
            &format!("/changelogs/{}", stored[0]["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(stored["input_tokens"], 321, "the provider's count");
    second.stop().await;
    first.stop().await;
}

async fn a_stopping_server_gives_its_running_job_back(server: &Server) {
    let lease = Duration::from_secs(30);
    let Running {
        instance: mut first,
        mock,
        user,
        id,
        _repo,
    } = running_job(server, Duration::from_secs(2), lease).await;
    // A restart: the old workers give the job back at once (no waiting for the 30 s lease)
    // and the new ones finish it.
    let started = std::time::Instant::now();
    first
        .restart(with_model(server.config(), &mock, lease))
        .await;
    let done = wait_for(&first, &user, &id, "succeeded").await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(done["attempts"], 1, "a returned attempt is not counted");
    first.stop().await;
}

async fn an_estimate_counts_tokens_and_sends_nothing(server: &Server) {
    let mock = MockServer::start().await;
    let priced = server
        .another(with_model(server.config(), &mock, Duration::from_secs(5)))
        .await;
    let (_repo, name) = repository(&priced);
    let user = priced.user("ada").await;
    let response = priced
        .as_user(&user, Method::POST, "/changelogs/estimate")
        .json(&json!({"source": "git", "repo_url": name, "commit_range": "v0.1.0..v0.2.0"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let estimate: Value = response.json().await.unwrap();
    assert_eq!(estimate["model"], "gpt-4o-mini");
    assert_eq!(estimate["requests"], 1);
    assert!(
        estimate["input_tokens"].as_u64().unwrap() > 50,
        "{estimate}"
    );
    assert!(estimate["cost_usd"].as_f64().unwrap() > 0.0, "{estimate}");
    assert!(
        mock.received_requests().await.unwrap().is_empty(),
        "nothing sent"
    );
    let manual = priced
        .as_user(&user, Method::POST, "/changelogs/estimate")
        .json(&json!({"source": "manual", "content": "x"}))
        .send()
        .await
        .unwrap();
    invalid(manual, "source").await;
    let outside = priced
        .as_user(&user, Method::POST, "/changelogs/estimate")
        .json(&json!({"source": "git", "repo_url": "/etc"}))
        .send()
        .await
        .unwrap();
    invalid(outside, "repo_url").await;
    priced.stop().await;
}

async fn drafts_and_published_changelogs(server: &Server) {
    let user = server.user("ada").await;
    let draft = server
        .changelog(
            &user,
            json!({"source": "manual", "content": "# a", "title": "A"}),
        )
        .await;
    assert_eq!(draft["status"], "draft");
    let published = server
        .changelog(
            &user,
            json!({"source": "manual", "content": "# b", "title": "B", "status": "published"}),
        )
        .await;
    assert_eq!(published["status"], "published");
    let list = |status: &'static str| {
        let request = server.as_user(&user, Method::GET, &format!("/changelogs?status={status}"));
        async move {
            let page: Value = request.send().await.unwrap().json().await.unwrap();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["title"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("draft").await, ["A"]);
    assert_eq!(list("published").await, ["B"]);
    let id = draft["id"].as_str().unwrap();
    let patched = server
        .as_user(&user, Method::PATCH, &format!("/changelogs/{id}"))
        .header("If-Match", "\"1\"")
        .json(&json!({"status": "published"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(
        patched.json::<Value>().await.unwrap()["status"],
        "published"
    );
    assert_eq!(list("published").await.len(), 2);
    let bad = server
        .as_user(&user, Method::GET, "/changelogs?status=final")
        .send()
        .await
        .unwrap();
    invalid(bad, "status").await;
}
