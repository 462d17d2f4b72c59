//! Health, readiness, metrics, the error format on unknown routes and methods, request ids,
//! security headers and CORS.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::{Server, error};

crate::suite!(
    health_ready_and_metrics,
    unknown_routes_and_methods_answer_in_the_error_format,
    security_headers_request_ids_and_cors,
);

async fn health_ready_and_metrics(s: &Server) {
    for path in ["/health", "/ready", "/api/v1/health", "/api/v1/ready"] {
        let response = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ok");
    }
    let alice = s.user("alice").await;
    let id = "00000000-0000-0000-0000-000000000000";
    let _ = s
        .as_user(&alice, Method::GET, &format!("/changelogs/{id}"))
        .send()
        .await
        .unwrap();
    let metrics = s.client.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total")
            && l.contains("route=\"/api/v1/changelogs/{id}\"")
            && l.contains("status=\"404\"")),
        "requests are counted by route template and status:\n{text}"
    );
    assert!(text.contains("http_request_duration_seconds"), "{text}");
    assert!(!text.contains(id), "ids never become labels");
}

async fn unknown_routes_and_methods_answer_in_the_error_format(s: &Server) {
    error(
        s.client.get(s.url("/nowhere")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    error(
        s.api(Method::GET, "/nowhere").send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    error(
        s.api(Method::DELETE, "/auth/login").send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
}

async fn security_headers_request_ids_and_cors(s: &Server) {
    let response = s.client.get(s.url("/health")).send().await.unwrap();
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(
        headers["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(!headers["x-request-id"].is_empty());

    let echoed = s
        .client
        .get(s.url("/nowhere"))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-123");
    let body = error(echoed, StatusCode::NOT_FOUND).await;
    assert_eq!(body["request_id"], "trace-123");

    let preflight = |origin: &'static str| {
        s.client
            .request(Method::OPTIONS, s.url("/api/v1/changelogs"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.example.net").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
