//! The bundled HTTP server of the changelog engine, as a library, and the `changelog` binary's
//! commands (behind the default `cli` feature).
//!
//! A Rust application mounts the API with [`router`]:
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use changelog_http::{AppState, ServerConfig, router};
//!
//! let store = changelog_store::Store::open("sqlite://changelogs.db?mode=rwc").await?;
//! let state = AppState::new(store.storage(), ServerConfig::new(vec![7; 32]))?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, router(state)).await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod error;
pub mod jobs;
pub mod routes;
pub mod state;

#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "cli")]
mod generate;
#[cfg(feature = "cli")]
mod providers;

#[cfg(feature = "cli")]
pub use cli::{Cli, Command, GenerateArgs, LlmArgs, run};
pub use error::ApiError;
pub use jobs::Workers;
pub use state::{AppState, ConfigError, ServerConfig};

use std::sync::OnceLock;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{self, HeaderName};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::routing::{delete, get, post, put};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::routes::{api_keys, auth as auth_routes, changelogs, health, jobs as job_routes};

/// The prefix of every API route.
pub const API_PREFIX: &str = "/api/v1";

/// The process's Prometheus recorder, installed on first use (a process has one global
/// recorder, shared by every router it builds).
#[must_use]
pub fn metrics_recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed by the embedding application; its
            // metrics then go there and this handle renders an empty page.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The API routes (under [`API_PREFIX`]), without the layers of [`router`].
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(auth_routes::register))
        .route("/auth/login", post(auth_routes::login))
        .route("/auth/refresh", post(auth_routes::refresh))
        .route("/auth/logout", post(auth_routes::logout))
        .route("/auth/me", get(auth_routes::me))
        .route("/auth/api-keys", post(api_keys::create).get(api_keys::list))
        .route("/auth/api-keys/{id}", delete(api_keys::revoke))
        .route(
            "/changelogs",
            get(changelogs::list).post(changelogs::create),
        )
        .route(
            "/changelogs/{id}",
            get(changelogs::get)
                .put(changelogs::replace)
                .patch(changelogs::patch)
                .delete(changelogs::delete),
        )
        .route("/changelogs/estimate", post(changelogs::estimate))
        .route("/changelogs/{id}/versions", get(changelogs::versions))
        .route(
            "/changelogs/{id}/versions/{rev}/restore",
            post(changelogs::restore),
        )
        .route("/changelogs/{id}/tags", put(changelogs::set_tags))
        .route("/changelogs/{id}/export", get(changelogs::export))
        .route(
            "/changelogs/{id}/annotations",
            get(changelogs::annotations).post(changelogs::add_annotation),
        )
        .route(
            "/changelogs/{id}/annotations/{note}",
            axum::routing::patch(changelogs::edit_annotation).delete(changelogs::delete_annotation),
        )
        .route("/tags", get(changelogs::tags))
        .route(
            "/jobs/{id}",
            get(job_routes::get).delete(job_routes::cancel),
        )
        .route("/jobs/{id}/events", get(job_routes::events))
        .route("/ws/jobs/{id}", get(job_routes::websocket))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
}

/// The whole server: the API under `/api/v1`, `/health`, `/ready` and `/metrics` at the root,
/// with request ids, the error format, metrics, CORS from the configured origins, security
/// headers, the body limit and the request timeout.
///
/// Layers run outside in: request id, metrics, security headers, CORS, JSON errors, timeout,
/// then (where a rate limiter or quotas will plug in) the routes.
pub fn router(state: AppState) -> Router {
    let config = state.config().clone();
    let cors = cors_layer(&config.cors_origins);
    let routes = Router::new()
        .nest(API_PREFIX, api_routes())
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(middleware::from_fn(error::json_errors));
    let routes = match cors {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes
        .layer(header_layer(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
        .layer(header_layer(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header_layer(header::REFERRER_POLICY, "no-referrer"))
        .layer(middleware::from_fn(health::record))
        .layer(middleware::from_fn(error::request_ids))
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                HeaderName::from_static("x-api-key"),
            ])
            .expose_headers([header::ETAG, HeaderName::from_static("x-request-id")]),
    )
}
