//! Accounts and sessions: register, log in (JSON or the OAuth2 password form), refresh with
//! rotation, log out, and who am I.

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use changelog_core::store::{AuditOutcome, NewUser, Rotation, StoreError, User};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Caller, ClientInfo, password};
use crate::error::{ApiError, Json, body_error};
use crate::openapi::{Conflict, Forbidden, JsonBody, OptionalBody, Unauthorized, schema};
use crate::state::AppState;

/// The longest e-mail address, in characters.
pub const MAX_EMAIL_CHARS: usize = 254;

/// `POST /auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3 to 64 letters, digits, `-`, `_` or `.`.
    #[schema(schema_with = schema::username)]
    pub username: String,
    /// An e-mail address (stored trimmed and lowercased).
    #[schema(schema_with = schema::email)]
    pub email: String,
    /// 10 to 1,024 characters, 5 of them different, neither the username nor the address.
    #[schema(schema_with = schema::password)]
    pub password: String,
}

/// A user as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserResponse {
    /// Id.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserResponse {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            username: user.username,
            email: user.email,
            created_at: user.created_at,
        }
    }
}

/// `POST /auth/login` as JSON: the username or the e-mail address, and the password.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The username (or the e-mail address).
    #[serde(default)]
    pub username: Option<String>,
    /// The e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// The password.
    pub password: String,
}

/// `POST /auth/login` as the OAuth2 password form (`application/x-www-form-urlencoded`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginForm {
    /// `password` when sent.
    #[serde(default)]
    #[schema(schema_with = grant_type)]
    pub grant_type: Option<String>,
    /// The username or the e-mail address.
    pub username: String,
    /// The password.
    pub password: String,
    /// Ignored.
    #[serde(default)]
    #[schema(value_type = String)]
    pub scope: Option<String>,
    /// Ignored.
    #[serde(default)]
    #[schema(value_type = String)]
    pub client_id: Option<String>,
    /// Ignored.
    #[serde(default)]
    #[schema(value_type = String)]
    pub client_secret: Option<String>,
}

fn grant_type() -> utoipa::openapi::schema::Schema {
    schema::constant("password")
}

impl utoipa::PartialSchema for LoginRequest {
    /// `password`, and the username or the e-mail address (`null` counts as missing).
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, AllOfBuilder, AnyOfBuilder, ObjectBuilder, Type,
        };
        let login = |name: &str| {
            ObjectBuilder::new()
                .property(name, ObjectBuilder::new().schema_type(Type::String))
                .required(name)
        };
        AllOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .property(
                        "username",
                        schema::nullable_text("The username (or the e-mail address)."),
                    )
                    .property("email", schema::nullable_text("The e-mail address."))
                    .property(
                        "password",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .description(Some("The password.")),
                    )
                    .required("password")
                    .additional_properties(Some(AdditionalProperties::FreeForm(false))),
            )
            .item(
                AnyOfBuilder::new()
                    .item(login("username"))
                    .item(login("email")),
            )
            .description(Some(
                "`POST /auth/login` as JSON: the username or the e-mail address, and the password.",
            ))
            .into()
    }
}

impl ToSchema for LoginRequest {}

/// Tokens of a sign-in.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT) for `Authorization: Bearer`.
    pub access_token: String,
    /// Exchange it at `/auth/refresh` for new tokens; valid once.
    pub refresh_token: String,
    /// Always `bearer`.
    #[schema(schema_with = bearer)]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

fn bearer() -> utoipa::openapi::schema::Schema {
    schema::constant("bearer")
}

/// `POST /auth/refresh`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token of the last sign-in or refresh.
    pub refresh_token: String,
}

/// `POST /auth/logout`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// Sign out of every session of the user, not only this one.
    #[serde(default)]
    pub everywhere: bool,
}

fn check_username(username: &str) -> Result<(), ApiError> {
    let ok_len = (3..=64).contains(&username.chars().count());
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "username",
            "must be 3 to 64 letters, digits, `-`, `_` or `.`",
        ))
    }
}

fn check_email(email: &str) -> Result<(), ApiError> {
    let valid = email.chars().count() <= MAX_EMAIL_CHARS
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                && !domain.contains('@')
        });
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid("email", "is not an e-mail address"))
    }
}

/// Checks a new account's username, (normalised) e-mail address and password.
pub fn check_account(username: &str, email: &str, password: &str) -> Result<(), ApiError> {
    check_username(username)?;
    check_email(email)?;
    password::check_strength(password, username, email)
}

/// Registers an account.
#[utoipa::path(
    post,
    path = "/auth/register",
    operation_id = "register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The account", body = UserResponse),
        Conflict,
        JsonBody,
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    // The limit counts the address as sent, as the document's `maxLength` does.
    if body.email.chars().count() > MAX_EMAIL_CHARS {
        return Err(ApiError::invalid(
            "email",
            format!("at most {MAX_EMAIL_CHARS} characters"),
        ));
    }
    let email = body.email.trim().to_lowercase();
    check_account(&body.username, &email, &body.password)?;
    let hash = password::hash(body.password).await?;
    let user = state
        .store()
        .create_user(&NewUser {
            username: body.username,
            email,
            password_hash: Some(hash),
            ..NewUser::default()
        })
        .await
        .map_err(|e| match e {
            StoreError::Duplicate { field } => ApiError::new(
                StatusCode::CONFLICT,
                format!("this {field} is already registered"),
            ),
            other => other.into(),
        })?;
    state
        .audit(
            "user.register",
            Some(user.id),
            None,
            AuditOutcome::Success,
            &client,
        )
        .await;
    Ok((StatusCode::CREATED, Json(UserResponse::from(user))))
}

/// The login body: JSON or the OAuth2 password form, by content type.
#[derive(Debug)]
pub struct Login {
    login: String,
    password: String,
}

impl<S: Send + Sync> FromRequest<S> for Login {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_form = req.headers().get(CONTENT_TYPE).is_some_and(|v| {
            v.as_bytes()
                .starts_with(b"application/x-www-form-urlencoded")
        });
        if is_form {
            let axum::Form(form) = axum::Form::<LoginForm>::from_request(req, state)
                .await
                .map_err(|rejection| body_error(&rejection.body_text()))?;
            if form.grant_type.as_deref().is_some_and(|g| g != "password") {
                return Err(ApiError::invalid("grant_type", "must be `password`"));
            }
            return Ok(Self {
                login: form.username,
                password: form.password,
            });
        }
        let Json(body) = Json::<LoginRequest>::from_request(req, state).await?;
        let login = body.username.or(body.email).ok_or_else(|| {
            ApiError::invalid("username", "give the username or the e-mail address")
        })?;
        Ok(Self {
            login,
            password: body.password,
        })
    }
}

/// Signs in with a password: JSON, or the OAuth2 password form.
#[utoipa::path(
    post,
    path = "/auth/login",
    operation_id = "login",
    tag = "auth",
    request_body(content(
        (LoginRequest = "application/json"),
        (LoginForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        Unauthorized,
        JsonBody,
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    login: Login,
) -> Result<Json<TokenResponse>, ApiError> {
    let store = state.store();
    let user = if login.login.contains('@') {
        store
            .user_by_email(&login.login.trim().to_lowercase())
            .await?
    } else {
        store.user_by_username(&login.login).await?
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = password::verify(login.password, hash).await?;
    let user_id = user.as_ref().map(|u| u.id);
    let Some(user) = user.filter(|_| ok) else {
        state
            .audit("auth.login", user_id, None, AuditOutcome::Denied, &client)
            .await;
        return Err(ApiError::unauthorized("wrong username or password"));
    };
    let refresh = store
        .issue_refresh_token(user.id, state.config().refresh_ttl)
        .await?;
    state
        .audit(
            "auth.login",
            Some(user.id),
            None,
            AuditOutcome::Success,
            &client,
        )
        .await;
    tokens(&state, user.id, refresh.token.family_id, refresh.secret)
}

fn tokens(
    state: &AppState,
    user: Uuid,
    session: Uuid,
    refresh_token: String,
) -> Result<Json<TokenResponse>, ApiError> {
    Ok(Json(TokenResponse {
        access_token: state.jwt().issue(user, session)?,
        refresh_token,
        token_type: "bearer",
        expires_in: state.jwt().ttl().as_secs(),
    }))
}

/// Exchanges a refresh token for new tokens; a token used twice revokes its sign-in.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    operation_id = "refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        Unauthorized,
        JsonBody,
    ),
)]
pub async fn refresh(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    match state
        .store()
        .rotate_refresh_token(&body.refresh_token, state.config().refresh_ttl)
        .await?
    {
        Rotation::Rotated(next) => tokens(
            &state,
            next.token.user_id,
            next.token.family_id,
            next.secret,
        ),
        Rotation::Reused { user_id, family_id } => {
            state.sessions().forget_all();
            state
                .audit(
                    "auth.refresh_reuse",
                    Some(user_id),
                    Some(family_id.to_string()),
                    AuditOutcome::Denied,
                    &client,
                )
                .await;
            Err(ApiError::unauthorized(
                "the refresh token was already used; its sign-in is now revoked",
            ))
        }
        Rotation::Rejected => Err(ApiError::unauthorized(
            "the refresh token is unknown, revoked or expired",
        )),
    }
}

/// Signs out: the refresh tokens of this sign-in (or of every sign-in) stop working. The access
/// token stays valid until it expires (15 minutes at most).
#[utoipa::path(
    post,
    path = "/auth/logout",
    operation_id = "logout",
    tag = "auth",
    request_body(content = Option<LogoutRequest>, description = "Optional; an empty body signs out of this session only"),
    security(("bearer_token" = [])),
    responses(
        (status = 204, description = "Signed out"),
        Unauthorized,
        Forbidden,
        OptionalBody,
    ),
)]
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let session = caller.require_session()?;
    let everywhere = if body.iter().all(u8::is_ascii_whitespace) {
        false
    } else {
        // `null` is no body, as the document's `LogoutRequest | null` says.
        crate::error::object_body(&body)?;
        serde_json::from_slice::<Option<LogoutRequest>>(&body)
            .map_err(|e| body_error(&e.to_string()))?
            .is_some_and(|request| request.everywhere)
    };
    if everywhere {
        state
            .store()
            .revoke_user_refresh_tokens(caller.user_id)
            .await?;
    } else {
        state.store().revoke_refresh_family(session).await?;
    }
    state.sessions().forget_all();
    state
        .audit(
            "auth.logout",
            Some(caller.user_id),
            None,
            AuditOutcome::Success,
            &client,
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(
    get,
    path = "/auth/me",
    operation_id = "me",
    tag = "auth",
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The caller", body = UserResponse),
        Unauthorized,
    ),
)]
pub async fn me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<UserResponse>, ApiError> {
    let user = state
        .store()
        .user(caller.user_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound { .. } => ApiError::unauthorized("the account no longer exists"),
            other => other.into(),
        })?;
    Ok(Json(UserResponse::from(user)))
}
