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
pub mod openapi;
pub mod routes;
pub mod state;

#[cfg(feature = "cli")]
mod bump;
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
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    api_router().split_for_parts().0
}

/// The API routes with their OpenAPI operations: each `routes!` adds a route and documents it.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(auth_routes::register))
        .routes(routes!(auth_routes::login))
        .routes(routes!(auth_routes::refresh))
        .routes(routes!(auth_routes::logout))
        .routes(routes!(auth_routes::me))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(changelogs::list, changelogs::create))
        .routes(routes!(
            changelogs::get,
            changelogs::replace,
            changelogs::patch,
            changelogs::delete
        ))
        .routes(routes!(changelogs::versions))
        .routes(routes!(changelogs::restore))
        .routes(routes!(changelogs::set_tags))
        .routes(routes!(changelogs::export))
        .routes(routes!(changelogs::annotations, changelogs::add_annotation))
        .routes(routes!(
            changelogs::edit_annotation,
            changelogs::delete_annotation
        ))
        .routes(routes!(changelogs::estimate))
        .routes(routes!(changelogs::tags))
        .routes(routes!(job_routes::get, job_routes::cancel))
        .routes(routes!(job_routes::events))
        .routes(routes!(job_routes::websocket))
        .merge(health_router())
}

/// Liveness and readiness, served at the root and under [`API_PREFIX`].
fn health_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
}

/// Every route of the server with its OpenAPI operation (see [`openapi::document`]).
pub(crate) fn app_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest(API_PREFIX, api_router())
        .merge(health_router())
        .routes(routes!(health::metrics))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(openapi::docs::page))
        .routes(routes!(openapi::docs::init_js))
        .routes(routes!(openapi::docs::bundle_js))
        .routes(routes!(openapi::docs::css))
}

/// The whole server: the API under `/api/v1`, `/health`, `/ready` and `/metrics` at the root,
/// the OpenAPI document at `/openapi.json` and the API page at `/docs`, with request ids, the error format, metrics, CORS from the configured origins, security
/// headers, the body limit and the request timeout.
///
/// Layers run outside in: request id, metrics, security headers, CORS, JSON errors, timeout,
/// then (where a rate limiter or quotas will plug in) the routes.
pub fn router(state: AppState) -> Router {
    let config = state.config().clone();
    let cors = cors_layer(&config.cors_origins);
    let (routes, _) = app_routes().split_for_parts();
    let routes = routes
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
