//! The OpenAPI 3.1 document of the API and the API page that shows it.
//!
//! The document is made from the same declarations as the router: every handler carries a
//! `#[utoipa::path]` annotation, and [`crate::app_routes`] registers handlers with
//! `utoipa_axum::routes!`, which adds the route to the router and the operation to the document
//! at once. A route cannot be served without being documented, nor documented without being
//! served.
//!
//! Error answers are declared per operation with the response sets of this module
//! ([`Unauthorized`], [`NotFound`], [`JsonBody`], ...), all with the [`ErrorBody`] schema; the
//! statuses every route can answer (408 past the request timeout, 500) are added to every
//! operation by [`document`].
//!
//! [`ErrorBody`]: crate::error::ErrorBody

pub(crate) mod docs;
pub mod schema;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};
use utoipa::{IntoResponses, Modify, PartialSchema, ToSchema};

use crate::error::ErrorBody;

/// The security scheme of access tokens (`Authorization: Bearer <JWT>`).
pub const BEARER_TOKEN: &str = "bearer_token";
/// The security scheme of API keys sent as `Authorization: Bearer clk_...`.
pub const BEARER_API_KEY: &str = "bearer_api_key";
/// The security scheme of API keys sent as `X-API-Key: clk_...`.
pub const API_KEY_HEADER: &str = "api_key_header";

/// The document's fixed parts: its title, version, description, security schemes, tags and the
/// error responses the operations refer to.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Changelog API",
        description = "Accounts, API keys and changelogs of the changelog engine's server. \
            Every error answer has the same body (`ApiError`): `detail`, `status: \"error\"`, \
            `code`, the request id and, for invalid input, the fields at fault. Another user's \
            object is answered 404, as one that does not exist.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    modifiers(&Components),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "api-keys", description = "API keys: created with a signed-in session, shown once"),
        (name = "changelogs", description = "Changelogs: revisioned, tagged, annotated, exported"),
        (name = "operations", description = "Liveness, readiness and metrics"),
        (name = "docs", description = "This document and the API page"),
    ),
)]
pub(crate) struct ApiDoc;

/// Adds the security schemes and the error responses to the components.
struct Components;

impl Modify for Components {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The `access_token` of `POST /api/v1/auth/login` or `/auth/refresh`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            BEARER_API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("API key (clk_...)")
                    .description(Some(
                        "An API key (`clk_...`) as a bearer token. Keys cannot manage keys or \
                         sessions.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY_HEADER,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key (`clk_...`) in the `X-API-Key` header.",
            ))),
        );
        let (name, schema) = (ErrorBody::name(), ErrorBody::schema());
        components.schemas.insert(name.into_owned(), schema);
        let mut schemas = Vec::new();
        ErrorBody::schemas(&mut schemas);
        components.schemas.extend(schemas);
        for error in ERRORS {
            components
                .responses
                .insert(error.name.to_owned(), error_response(error.description));
        }
    }
}

/// An error answer the document describes once and operations refer to.
struct ErrorStatus {
    status: u16,
    name: &'static str,
    description: &'static str,
}

const ERRORS: &[ErrorStatus] = &[
    ErrorStatus {
        status: 400,
        name: "BadRequest",
        description: "The request body could not be read.",
    },
    ErrorStatus {
        status: 401,
        name: "Unauthorized",
        description: "No valid credential: none was sent, or the access token or API key is \
            malformed, expired, revoked or unknown. Answered with `WWW-Authenticate: Bearer`.",
    },
    ErrorStatus {
        status: 403,
        name: "Forbidden",
        description: "The credential does not allow this request: an API key with the `read` \
            scope only on a request that writes, or an API key where a signed-in session is \
            needed.",
    },
    ErrorStatus {
        status: 404,
        name: "NotFound",
        description: "No such object for this caller: it does not exist, belongs to another \
            user, or the id is not an id.",
    },
    ErrorStatus {
        status: 408,
        name: "RequestTimeout",
        description: "The request took longer than the server's request timeout.",
    },
    ErrorStatus {
        status: 409,
        name: "Conflict",
        description: "The request conflicts with the current state: a stale revision, or a \
            name that is taken.",
    },
    ErrorStatus {
        status: 413,
        name: "PayloadTooLarge",
        description: "The request body is larger than the server accepts.",
    },
    ErrorStatus {
        status: 415,
        name: "UnsupportedMediaType",
        description: "The body is not JSON (`Content-Type: application/json`).",
    },
    ErrorStatus {
        status: 422,
        name: "UnprocessableEntity",
        description: "Invalid input: `errors` names each field at fault.",
    },
    ErrorStatus {
        status: 426,
        name: "UpgradeRequired",
        description: "The route speaks WebSocket: the request must ask to upgrade to it.",
    },
    ErrorStatus {
        status: 428,
        name: "PreconditionRequired",
        description: "The update names no revision: send `If-Match: \"<revision>\"` or \
            `revision` in the body.",
    },
    ErrorStatus {
        status: 500,
        name: "InternalServerError",
        description: "An internal error, logged with the request id; the answer has no detail.",
    },
    ErrorStatus {
        status: 501,
        name: "NotImplemented",
        description: "This server cannot do this yet.",
    },
    ErrorStatus {
        status: 503,
        name: "ServiceUnavailable",
        description: "The database does not answer.",
    },
];

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                    .build(),
            )
            .build(),
    )
}

/// References to the error responses with these statuses.
fn error_refs(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .filter_map(|status| ERRORS.iter().find(|e| e.status == *status))
        .map(|error| {
            (
                error.status.to_string(),
                RefOr::Ref(Ref::from_response_name(error.name)),
            )
        })
        .collect()
}

macro_rules! error_set {
    ($($(#[$doc:meta])* $name:ident => [$($status:literal),+];)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                error_refs(&[$($status),+])
            }
        }
    )+};
}

error_set! {
    /// 401: the route needs a credential.
    Unauthorized => [401];
    /// 403: the route needs a write scope or a signed-in session.
    Forbidden => [403];
    /// 404: the route looks up an object by id.
    NotFound => [404];
    /// 409: a stale revision or a taken name.
    Conflict => [409];
    /// 428: an update that names no revision.
    PreconditionRequired => [428];
    /// 400, 413, 415 and 422: the route reads a JSON body.
    JsonBody => [400, 413, 415, 422];
    /// 400, 413 and 422: the route reads a body that may be empty.
    OptionalBody => [400, 413, 422];
    /// 422: the route checks its parameters.
    Invalid => [422];
    /// 426: the route speaks WebSocket only.
    UpgradeRequired => [426];
    /// 501: not available on this server yet.
    NotImplemented => [501];
    /// 503: the database does not answer.
    Unavailable => [503];
}

/// The statuses any route can answer: the request timeout and internal errors.
const EVERY_ROUTE: &[u16] = &[408, 500];

/// The whole OpenAPI document of the server, as [`crate::router`] serves it.
#[must_use]
pub fn document() -> OpenApi {
    let mut openapi = crate::app_routes().into_openapi();
    for (path, item) in &mut openapi.paths.paths {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            for (status, response) in error_refs(EVERY_ROUTE) {
                operation
                    .responses
                    .responses
                    .entry(status)
                    .or_insert(response);
            }
            // Liveness and readiness are served at the root and under the API prefix from one
            // declaration; the second place gets an id of its own.
            if path.starts_with(crate::API_PREFIX)
                && let Some(id) = &mut operation.operation_id
                && (id == "health" || id == "ready")
            {
                *id = format!("api_{id}");
            }
        }
    }
    cross_field_rules(&mut openapi);
    openapi
}

/// Rules between fields that the derives cannot state: a `manual` changelog needs its
/// `content` (a string, not `null`), a `git` one its `repo_url`.
fn cross_field_rules(openapi: &mut OpenApi) {
    use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, Type};
    let Some(schemas) = openapi.components.as_mut().map(|c| &mut c.schemas) else {
        return;
    };
    if let Some(create) = schemas.get_mut("CreateChangelog") {
        let derived = std::mem::replace(create, RefOr::T(Default::default()));
        let git = ObjectBuilder::new()
            .property(
                "source",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["git"])),
            )
            .required("source")
            .property("repo_url", ObjectBuilder::new().schema_type(Type::String))
            .required("repo_url");
        let with_content = ObjectBuilder::new()
            .property("content", ObjectBuilder::new().schema_type(Type::String))
            .required("content");
        *create = AllOfBuilder::new()
            .item(derived)
            .item(AnyOfBuilder::new().item(git).item(with_content))
            .into();
    }
}

/// `GET /openapi.json`: the document, made once per process.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "docs",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub(crate) async fn openapi_json() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| document().to_pretty_json().unwrap_or_default());
    ([(CONTENT_TYPE, "application/json")], json.as_str())
}
