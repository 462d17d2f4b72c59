//! API keys: created with a signed-in session, shown once, listed without their secret,
//! revoked by id.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use changelog_core::store::{ApiKey, AuditOutcome, NewApiKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use uuid::Uuid;

use crate::auth::{Caller, ClientInfo};
use crate::error::{ApiError, Json};
use crate::openapi::{Forbidden, JsonBody, NotFound, Unauthorized, schema};
use crate::routes::parse_id;
use crate::state::AppState;

/// The scopes a key can have.
pub const SCOPES: [&str; 2] = ["read", "write"];

/// The longest key name, in characters as sent (it is stored trimmed).
pub const MAX_KEY_NAME_CHARS: usize = 100;

/// `POST /auth/api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// A name to recognise the key by (1 to 100 characters).
    #[schema(schema_with = schema::key_name)]
    pub name: String,
    /// `read`, `write` or both (default: both).
    #[serde(default)]
    #[schema(schema_with = requested_scopes)]
    pub scopes: Option<Vec<String>>,
    /// When the key stops working (default: never); in the future.
    #[serde(default)]
    #[schema(schema_with = schema::future_time)]
    pub expires_at: Option<DateTime<Utc>>,
}

fn scope() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(SCOPES))
}

fn scopes() -> Schema {
    ArrayBuilder::new().items(scope()).into()
}

fn requested_scopes() -> Schema {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(scope())
        .min_items(Some(1))
        .into()
}

/// A key as listed (never with its secret).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyResponse {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// The visible start of the key (`clk_1234abcd`).
    pub prefix: String,
    /// Scopes.
    #[schema(schema_with = scopes)]
    pub scopes: Vec<String>,
    /// Expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last use, if any.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Uses so far.
    pub use_count: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<ApiKey> for ApiKeyResponse {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            scopes: key.scopes,
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            use_count: key.use_count,
            revoked_at: key.revoked_at,
            created_at: key.created_at,
        }
    }
}

/// A key just created: the record and, this once, the key itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key record.
    #[serde(flatten)]
    pub record: ApiKeyResponse,
    /// The key: send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`. It is not
    /// shown again.
    pub key: String,
}

/// Creates a key (with a signed-in session); the answer shows the key, this once.
#[utoipa::path(
    post,
    path = "/auth/api-keys",
    operation_id = "create_api_key",
    tag = "api-keys",
    request_body = CreateApiKey,
    security(("bearer_token" = [])),
    responses(
        (status = 201, description = "The key, shown this once", body = CreatedApiKey),
        Unauthorized,
        Forbidden,
        JsonBody,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Json(body): Json<CreateApiKey>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_session()?;
    let name = body.name.trim();
    // The length as sent, whitespace included, as the document's `maxLength` counts.
    if name.is_empty() || body.name.chars().count() > MAX_KEY_NAME_CHARS {
        return Err(ApiError::invalid(
            "name",
            format!("must be 1 to {MAX_KEY_NAME_CHARS} characters"),
        ));
    }
    let mut scopes = body
        .scopes
        .unwrap_or_else(|| SCOPES.iter().map(|s| (*s).to_owned()).collect());
    if scopes.is_empty() {
        return Err(ApiError::invalid("scopes", "give `read`, `write` or both"));
    }
    if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(ApiError::invalid(
            "scopes",
            format!("`{bad}` is not a scope (read, write)"),
        ));
    }
    scopes.sort();
    scopes.dedup();
    if body.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::invalid("expires_at", "must be in the future"));
    }
    let issued = state
        .store()
        .create_api_key(&NewApiKey {
            user_id: caller.user_id,
            name: name.to_owned(),
            scopes,
            expires_at: body.expires_at,
        })
        .await?;
    state
        .audit(
            "api_key.create",
            Some(caller.user_id),
            Some(issued.key.id.to_string()),
            AuditOutcome::Success,
            &client,
        )
        .await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            record: issued.key.into(),
            key: issued.secret,
        }),
    ))
}

/// The caller's keys, oldest first (for a signed-in session: a key does not see the others).
#[utoipa::path(
    get,
    path = "/auth/api-keys",
    operation_id = "list_api_keys",
    tag = "api-keys",
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The caller's keys", body = Vec<ApiKeyResponse>),
        Unauthorized,
        Forbidden,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiKeyResponse>>, ApiError> {
    caller.require_session()?;
    let keys = state.store().api_keys(caller.user_id).await?;
    Ok(Json(keys.into_iter().map(ApiKeyResponse::from).collect()))
}

/// Revokes one of the caller's keys; another user's key is 404.
#[utoipa::path(
    delete,
    path = "/auth/api-keys/{id}",
    operation_id = "revoke_api_key",
    tag = "api-keys",
    params(("id" = Uuid, Path, description = "The key's id")),
    security(("bearer_token" = [])),
    responses(
        (status = 204, description = "Revoked"),
        Unauthorized,
        Forbidden,
        NotFound,
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_session()?;
    let key_id = parse_id("API key", &id)?;
    let owned = state
        .store()
        .api_keys(caller.user_id)
        .await?
        .iter()
        .any(|k| k.id == key_id);
    if !owned {
        return Err(ApiError::not_found("API key", &id));
    }
    state.store().revoke_api_key(key_id).await?;
    state
        .audit(
            "api_key.revoke",
            Some(caller.user_id),
            Some(key_id.to_string()),
            AuditOutcome::Success,
            &client,
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
