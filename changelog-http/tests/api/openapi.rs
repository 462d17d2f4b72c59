//! The OpenAPI document (`/openapi.json`) and the API page (`/docs`): the document is the one
//! the code makes (snapshot), every operation in it is served, it is self-consistent, and the
//! page renders in a headless browser with no request leaving the server.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::{Server, User};

crate::suite!(every_documented_operation_is_routed);

/// The document the router serves.
async fn spec(s: &Server) -> Value {
    let response = s.client.get(s.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// Every (path, method, operation) of the document.
fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                operations.push((path.clone(), method.to_owned(), operation.clone()));
            }
        }
    }
    operations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_the_code_s_document() {
    let server = Server::sqlite().await;
    let served = spec(&server).await;
    server.stop().await;
    let made = serde_json::to_value(changelog_http::openapi::document()).unwrap();
    assert_eq!(served, made);
    assert_eq!(served["openapi"], "3.1.0");
    insta::assert_json_snapshot!("openapi", served);
}

/// Each operation answers something other than the router's fallback (404 `no such route`)
/// and 405: every path and method of the document is routed. (The router and the document are
/// made from the same `routes!` declarations, so the converse holds by construction.)
async fn every_documented_operation_is_routed(s: &Server) {
    let alice = s.user("alice").await;
    let spec = spec(s).await;
    let operations = operations(&spec);
    assert!(operations.len() >= 30, "{} operations", operations.len());
    for (path, method, _) in &operations {
        let concrete = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{note}", "00000000-0000-0000-0000-000000000000")
            .replace("{rev}", "1");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = s
            .client
            .request(method.clone(), s.url(&concrete))
            .bearer_auth(&alice.access)
            .header("if-match", "\"1\"")
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        if status == StatusCode::NOT_FOUND {
            let body: Value = response.json().await.unwrap_or_default();
            assert_ne!(
                body["detail"], "no such route",
                "{method} {path} is not routed"
            );
        }
    }
    // The fallback is what the loop above would have caught.
    let unrouted = s
        .client
        .get(s.url("/api/v1/nowhere"))
        .bearer_auth(&alice.access)
        .send()
        .await
        .unwrap();
    assert_eq!(unrouted.status(), StatusCode::NOT_FOUND);
    let body: Value = unrouted.json().await.unwrap();
    assert_eq!(body["detail"], "no such route");
    logout(s, &alice).await;
}

async fn logout(s: &Server, user: &User) {
    let _ = s
        .as_user(user, Method::POST, "/auth/logout")
        .send()
        .await
        .unwrap();
}

/// Every `$ref` in `value`.
fn refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref"
                    && let Some(target) = inner.as_str()
                {
                    out.insert(target.to_owned());
                }
                refs(inner, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_consistent() {
    let spec = serde_json::to_value(changelog_http::openapi::document()).unwrap();
    // Every reference resolves.
    let mut targets = BTreeSet::new();
    refs(&spec, &mut targets);
    for target in &targets {
        let pointer = target.strip_prefix('#').expect("local reference");
        assert!(spec.pointer(pointer).is_some(), "dangling {target}");
    }
    let schemes = spec["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    for name in ["bearer_token", "bearer_api_key", "api_key_header"] {
        assert!(schemes.contains_key(name), "{name}");
    }
    let mut ids = BTreeSet::new();
    for (path, method, operation) in operations(&spec) {
        let label = format!("{method} {path}");
        let id = operation["operationId"].as_str().expect("operation id");
        assert!(ids.insert(id.to_owned()), "operation id `{id}` twice");
        assert!(
            operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{label}: no tag"
        );
        let responses = operation["responses"].as_object().expect("responses");
        for status in ["408", "500"] {
            assert!(responses.contains_key(status), "{label}: no {status}");
        }
        let secured = operation.get("security").and_then(Value::as_array);
        if let Some(requirements) = secured {
            for requirement in requirements {
                for name in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(name), "{label}: scheme `{name}`");
                }
            }
            assert!(responses.contains_key("401"), "{label}: secured, no 401");
        }
        if path.contains("{id}") {
            assert!(responses.contains_key("404"), "{label}: no 404");
        }
        if operation
            .pointer("/requestBody/content/application~1json")
            .is_some()
        {
            for status in ["413", "422"] {
                assert!(responses.contains_key(status), "{label}: body, no {status}");
            }
        }
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                let target = response["$ref"]
                    .as_str()
                    .expect("error responses are shared");
                let shared = spec
                    .pointer(target.trim_start_matches('#'))
                    .expect("shared response");
                assert_eq!(
                    shared["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ApiError",
                    "{label} {status}"
                );
            }
        }
    }
    // Request bodies that refuse unknown fields say so.
    for name in [
        "RegisterRequest",
        "RefreshRequest",
        "LogoutRequest",
        "CreateApiKey",
        "CreateChangelog",
        "ReplaceChangelog",
        "PatchChangelog",
        "RestoreRequest",
        "SetTags",
        "AnnotationBody",
    ] {
        let schema = &spec["components"]["schemas"][name];
        // A schema with rules across fields is the derived object and those rules (`allOf`).
        let object = schema.pointer("/allOf/0").unwrap_or(schema);
        assert_eq!(object["additionalProperties"], false, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_and_its_files_are_served_with_a_self_only_policy() {
    let s = Server::sqlite().await;
    let page = s.client.get(s.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'self';"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    // No inline script: every <script> loads a file.
    for script in html.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap_or_default();
        assert!(
            tag.contains("src="),
            "inline script in the page: <script{tag}>"
        );
    }
    for (path, content_type, needle) in [
        ("/docs/init.js", "text/javascript", "SwaggerUIBundle("),
        (
            "/docs/swagger-ui-bundle.js",
            "text/javascript",
            "SwaggerUIBundle",
        ),
        ("/docs/swagger-ui.css", "text/css", ".swagger-ui"),
    ] {
        let response = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let served = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(served.starts_with(content_type), "{path}: {served}");
        assert_eq!(response.headers()["content-security-policy"], csp.as_str());
        assert!(response.text().await.unwrap().contains(needle), "{path}");
    }
    // The API keeps the router's policy.
    for path in ["/openapi.json", "/health", "/api/v1/changelogs"] {
        let response = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(
            response.headers()["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
    }
    s.stop().await;
}

/// The Chromium binary, if the machine has one.
fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            std::process::Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(str::to_owned)
}

/// `/docs` in headless Chromium: Swagger UI renders the operations from `/openapi.json`, and
/// the page's policy refuses nothing it needs (no violation in the console).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_renders_the_operations_in_a_browser() {
    let Some(chromium) = chromium() else {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "CI=true and no Chromium: .ci/run installs it");
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"notice: no Chromium on this machine: the /docs rendering test is skipped\n",
        );
        return;
    };
    let s = Server::sqlite().await;
    let profile = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(s.url("/docs"))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("Chromium finishes within two minutes")
        .expect("Chromium runs");
    s.stop().await;
    let dom = String::from_utf8_lossy(&output.stdout);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Chromium failed:\n{log}");
    for needle in [
        "Changelog API",
        "opblock",
        "/api/v1/changelogs/{id}/versions/{rev}/restore",
        "/api/v1/auth/api-keys",
        "list_changelogs",
    ] {
        assert!(
            dom.contains(needle),
            "the rendered page lacks `{needle}`:\n{dom:.2000}\n{log}"
        );
    }
    assert!(
        !log.contains("Content Security Policy") && !log.contains("Content-Security-Policy"),
        "the page's policy refused something:\n{log}"
    );
}
