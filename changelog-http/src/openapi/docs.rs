//! `GET /docs`: the API page (Swagger UI 5, vendored under `assets/swagger-ui/`), served from
//! the binary so it needs no internet access.
//!
//! The page has a Content Security Policy of its own that allows `'self'` only: its script
//! and style are these files, and it starts Swagger UI from `init.js`, not an inline script.
//! Every other answer keeps the router's `default-src 'none'`.

use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

/// The page's policy: everything from the server itself, nothing inline, never framed. Images
/// may also be `data:` URLs: Swagger UI draws its icons as inline SVG images (an image cannot
/// run script).
pub(crate) const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../../assets/swagger-ui/index.html");
const INIT: &str = include_str!("../../assets/swagger-ui/init.js");
const BUNDLE: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");

/// The page is checked each time; its scripts and style sheet are kept for an hour.
fn asset(content_type: &'static str, body: &'static [u8], cache: &'static str) -> Response {
    let mut response = ([(CONTENT_TYPE, content_type)], body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

const PAGE_CACHE: &str = "no-cache";
const ASSET_CACHE: &str = "public, max-age=3600";

/// The API page.
#[utoipa::path(
    get,
    path = "/docs",
    operation_id = "docs",
    tag = "docs",
    responses((status = 200, description = "The API page (Swagger UI)", content_type = "text/html", body = String)),
)]
pub(crate) async fn page() -> Response {
    asset("text/html; charset=utf-8", INDEX.as_bytes(), PAGE_CACHE)
}

/// The page's start-up script.
#[utoipa::path(
    get,
    path = "/docs/init.js",
    operation_id = "docs_init_js",
    tag = "docs",
    responses((status = 200, description = "Starts Swagger UI on `/openapi.json`", content_type = "text/javascript", body = String)),
)]
pub(crate) async fn init_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        INIT.as_bytes(),
        ASSET_CACHE,
    )
}

/// Swagger UI's script.
#[utoipa::path(
    get,
    path = "/docs/swagger-ui-bundle.js",
    operation_id = "docs_bundle_js",
    tag = "docs",
    responses((status = 200, description = "Swagger UI (swagger-ui-dist 5.35.0)", content_type = "text/javascript", body = String)),
)]
pub(crate) async fn bundle_js() -> Response {
    asset("text/javascript; charset=utf-8", BUNDLE, ASSET_CACHE)
}

/// Swagger UI's style sheet.
#[utoipa::path(
    get,
    path = "/docs/swagger-ui.css",
    operation_id = "docs_css",
    tag = "docs",
    responses((status = 200, description = "Swagger UI's style sheet", content_type = "text/css", body = String)),
)]
pub(crate) async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS, ASSET_CACHE)
}
