//! The one error format of the API: `{"detail": "...", "status": "error", "code": <status>}`,
//! with the request id and, for invalid input, the fields at fault.
//!
//! Handlers return [`ApiError`]; the extractors in this module ([`Json`], [`Query`]) turn
//! malformed input into 422 answers that name the field; [`json_errors`] rewrites any other
//! error answer (an unknown route, a wrong method, a timeout) into the same format.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use changelog_core::store::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

tokio::task_local! {
    /// The id of the request being answered, for error bodies and logs.
    pub(crate) static REQUEST_ID: String;
}

/// The current request's id, if the request-id middleware runs.
pub(crate) fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// One field at fault in a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field (`title`, `tags[2]`, `body`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    errors: Vec<FieldError>,
    authenticate: bool,
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ApiError)]
pub struct ErrorBody {
    /// What went wrong, for a human.
    pub detail: String,
    /// Always `error`.
    #[schema(schema_with = error_status)]
    pub status: &'static str,
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    pub code: u16,
    /// The request's id (also in the `x-request-id` header), to find it in the server's log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The fields at fault, for invalid input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

fn error_status() -> utoipa::openapi::schema::Schema {
    crate::openapi::schema::constant("error")
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            errors: Vec::new(),
            authenticate: false,
        }
    }

    /// 404 for `what` (`changelog`, `API key`) with the id as given.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} `{id}` not found"))
    }

    /// 401, with a `WWW-Authenticate: Bearer` challenge.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self {
            authenticate: true,
            ..Self::new(StatusCode::UNAUTHORIZED, detail)
        }
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    /// 422 naming `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            errors: vec![FieldError {
                field: field.to_owned(),
                message: message.clone(),
            }],
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid `{field}`: {message}"),
            )
        }
    }

    /// 500, logged with the request id; the caller sees no detail.
    pub fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = error.to_string();
        let mut cause = error.source();
        while let Some(inner) = cause {
            chain.push_str(": ");
            chain.push_str(&inner.to_string());
            cause = inner.source();
        }
        tracing::error!(request_id = request_id().as_deref().unwrap_or("-"), error = %chain, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }

    /// The message.
    #[must_use]
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<changelog_core::Error> for ApiError {
    /// Mapped once, by kind (see [`changelog_core::ErrorKind`]).
    fn from(error: changelog_core::Error) -> Self {
        use changelog_core::ErrorKind;
        if let changelog_core::Error::InvalidRequest { field, reason } = &error {
            return Self::invalid(field, reason.clone());
        }
        let status = match error.kind() {
            ErrorKind::InvalidInput | ErrorKind::Source | ErrorKind::Budget => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Provider => StatusCode::BAD_GATEWAY,
            _ => return Self::internal(&error),
        };
        Self::new(status, error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, error.to_string()),
            StoreError::Conflict { .. } | StoreError::Duplicate { .. } => {
                Self::new(StatusCode::CONFLICT, error.to_string())
            }
            StoreError::Invalid { what, reason } => Self::invalid(what, reason.clone()),
            _ => Self::internal(&error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            detail: self.detail,
            status: "error",
            code: self.status.as_u16(),
            request_id: request_id(),
            errors: self.errors,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.authenticate {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A JSON body whose rejections are answered in the error format: 422 naming the field for
/// malformed JSON, wrong types, missing and unknown fields; 413 past the body limit; 415
/// without a JSON content type.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text())
                }
            })?;
        object_body(&bytes)?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

/// `application/json` or a `+json` type, as axum's own `Json` accepts.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

/// Refuses a body that is a JSON array: serde reads a struct from an array of its fields in
/// order, but every body of the API is an object (and the OpenAPI document says so).
pub(crate) fn object_body(bytes: &[u8]) -> Result<(), ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    Ok(())
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the request body is larger than the server accepts",
    )
}

/// Room for a whole answer up to a page of changelogs (some 12 KB): axum's `Json` starts at
/// 128 bytes and doubles, seven times on the way to a page, copying what it holds each time.
const ANSWER_CAPACITY: usize = 16 * 1024;

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(ANSWER_CAPACITY);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => (
                [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            )
                .into_response(),
            Err(error) => ApiError::internal(&error).into_response(),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => body_error(&e.body_text()),
        JsonRejection::JsonSyntaxError(e) => body_error(&e.body_text()),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON (Content-Type: application/json)",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        other => ApiError::new(StatusCode::BAD_REQUEST, other.body_text()),
    }
}

/// A 422 from serde's message, naming the field it is about. axum reports the path to the
/// value before `: ` (`tags[2]: invalid type ...`, `is_admin: unknown field ...`); a missing
/// field is reported at its parent (`.: missing field `title``).
pub(crate) fn body_error(text: &str) -> ApiError {
    let mut error = field_error(text);
    error.detail = format!("invalid request body: {}", error.errors[0].message);
    error
}

fn field_error(text: &str) -> ApiError {
    // axum prefixes serde's message with its own sentence.
    let text = match text.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("Failed to") => rest,
        _ => text,
    };
    let text = text.rsplit_once(" at line ").map_or(text, |(m, _)| m);
    let (path, message) = match text.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => (Some(path), message),
        _ => (None, text),
    };
    let path = path.filter(|p| *p != ".");
    let field = match (missing_field(message), path) {
        (Some(name), Some(parent)) => format!("{parent}.{name}"),
        (Some(name), None) => name.to_owned(),
        (None, Some(path)) => path.to_owned(),
        (None, None) => "body".to_owned(),
    };
    ApiError::invalid(&field, message.to_owned())
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.split_once("missing field `")?.1;
    rest.split('`').next()
}

/// A query string whose rejections are 422 answers naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    let mut error = field_error(&rejection.body_text());
    error.detail = format!("invalid query string: {}", error.errors[0].message);
    error
}

/// Middleware: gives the request an id (`x-request-id`, kept when the client sent a sane one),
/// makes it available to error bodies and logs, and echoes it in the answer.
pub(crate) async fn request_ids(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let mut response = REQUEST_ID.scope(id.clone(), next.run(request)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Middleware: an error answer that is not JSON yet (an unknown route, a wrong method, the
/// request timeout, a body over the limit caught by a layer) is rewritten into the format.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let detail = match status {
        StatusCode::NOT_FOUND => "no such route".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "this route does not take this method".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "the request took too long".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than the server accepts".to_owned()
        }
        other => other.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let (parts, _) = response.into_parts();
    let mut rewritten = ApiError::new(status, detail).into_response();
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}
