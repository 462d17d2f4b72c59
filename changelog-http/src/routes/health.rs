//! Operations: liveness, readiness (the database answers) and Prometheus metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use changelog_core::store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, Json};
use crate::openapi::{NotFound, Unavailable, schema};
use crate::state::AppState;

/// The body of `/health` and `/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`.
    #[schema(schema_with = ok)]
    pub status: &'static str,
}

fn ok() -> utoipa::openapi::schema::Schema {
    schema::constant("ok")
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "operations",
    responses((status = 200, description = "The process answers", body = HealthResponse)),
)]
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse { status: "ok" })
}

/// Readiness: the database answers a query.
#[utoipa::path(
    get,
    path = "/ready",
    operation_id = "ready",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = HealthResponse),
        Unavailable,
    ),
)]
pub async fn ready(State(state): State<AppState>) -> Result<Json<HealthResponse>, ApiError> {
    match state.store().user(Uuid::nil()).await {
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(Json(HealthResponse { status: "ok" })),
        Err(error) => {
            tracing::warn!(%error, "readiness check: the database does not answer");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not reachable",
            ))
        }
    }
}

/// Prometheus text exposition of the server's metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        NotFound,
    ),
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics() {
        Some(handle) => (
            [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            handle.render(),
        )
            .into_response(),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "metrics are not enabled on this server",
        )
        .into_response(),
    }
}

/// A request that takes longer than this is logged (a warning with its id, route and time);
/// the event streams and WebSockets of jobs are left out, being long by design.
const SLOW_REQUEST: std::time::Duration = std::time::Duration::from_secs(1);

/// Middleware: counts requests by route template, method and status, records their latency,
/// and logs those slower than [`SLOW_REQUEST`].
pub(crate) async fn record(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16().to_string();
    let streams = route.ends_with("/events")
        || route
            .strip_prefix(crate::API_PREFIX)
            .is_some_and(|r| r.starts_with("/ws/"));
    if elapsed > SLOW_REQUEST && !streams {
        tracing::warn!(
            request_id = crate::error::request_id().as_deref().unwrap_or("-"),
            %method,
            %route,
            %status,
            elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            "slow request"
        );
    }
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2])
        .record(elapsed.as_secs_f64());
    response
}
