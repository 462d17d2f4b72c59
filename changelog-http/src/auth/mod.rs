//! Who is calling: access tokens (JWT), API keys, passwords, and the extractors handlers use.

pub mod jwt;
pub mod password;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use changelog_core::store::api_key::KEY_PREFIX;
use changelog_core::store::audit::MAX_USER_AGENT_LEN;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// What the caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes {
    /// Read its own objects.
    pub read: bool,
    /// Create, change and delete them.
    pub write: bool,
}

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token of the sign-in (refresh-token family) `session`.
    Session {
        /// The refresh-token family of the sign-in.
        session: Uuid,
    },
    /// An API key.
    ApiKey {
        /// The key's id.
        id: Uuid,
    },
}

/// An authenticated caller. Extracting it answers 401 when the request carries no valid
/// credential; nothing on this path hashes a password.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The user.
    pub user_id: Uuid,
    /// What the credential allows.
    pub scopes: Scopes,
    /// The credential.
    pub credential: Credential,
}

impl Caller {
    /// 403 unless the credential may write.
    pub fn require_write(&self) -> Result<(), ApiError> {
        if self.scopes.write {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "this API key has the read scope only; this request needs write",
            ))
        }
    }

    /// 403 unless the caller signed in with a password (API keys cannot manage keys or
    /// sessions).
    pub fn require_session(&self) -> Result<Uuid, ApiError> {
        match self.credential {
            Credential::Session { session } => Ok(session),
            Credential::ApiKey { .. } => Err(ApiError::forbidden(
                "this request needs a signed-in session, not an API key",
            )),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let bearer = match parts.headers.get(AUTHORIZATION) {
            Some(value) => {
                let value = value
                    .to_str()
                    .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
                let (scheme, token) = value.split_once(' ').ok_or_else(|| {
                    ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
                })?;
                if !scheme.eq_ignore_ascii_case("bearer") {
                    return Err(ApiError::unauthorized(
                        "the Authorization header must be `Bearer <token>`",
                    ));
                }
                Some(token.trim())
            }
            None => None,
        };
        let api_key = match parts.headers.get("x-api-key") {
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| ApiError::unauthorized("malformed X-API-Key header"))?
                    .trim(),
            ),
            None => None,
        };
        match (bearer, api_key) {
            (Some(token), _) if !token.starts_with(KEY_PREFIX) => {
                let claims = state.jwt().verify_access(token)?;
                if !state.sessions().live(state.store(), claims.sid).await? {
                    return Err(ApiError::unauthorized(
                        "this sign-in has ended (signed out or revoked): sign in again",
                    ));
                }
                Ok(Self {
                    user_id: claims.sub,
                    scopes: Scopes {
                        read: true,
                        write: true,
                    },
                    credential: Credential::Session {
                        session: claims.sid,
                    },
                })
            }
            (Some(key), _) | (None, Some(key)) => {
                let key = state
                    .store()
                    .authenticate_api_key(key)
                    .await?
                    .ok_or_else(|| {
                        ApiError::unauthorized("the API key is unknown, revoked or expired")
                    })?;
                let has = |scope: &str| key.scopes.iter().any(|s| s == scope);
                Ok(Self {
                    user_id: key.user_id,
                    scopes: Scopes {
                        read: has("read") || has("write"),
                        write: has("write"),
                    },
                    credential: Credential::ApiKey { id: key.id },
                })
            }
            (None, None) => Err(ApiError::unauthorized(
                "not signed in: send `Authorization: Bearer <token>` or `X-API-Key`",
            )),
        }
    }
}

/// The sign-ins seen live lately, so that an access token costs a store read once every
/// [`SESSION_RECHECK`] per sign-in rather than on every request. A sign-out on this instance
/// takes effect at once; on another instance sharing the database, within [`SESSION_RECHECK`].
#[derive(Debug, Default)]
pub struct SessionCache {
    seen: std::sync::Mutex<std::collections::HashMap<uuid::Uuid, std::time::Instant>>,
}

/// How long a sign-in found live is trusted before it is read again.
pub const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// The most sign-ins remembered; past it the cache starts over.
const MAX_CACHED_SESSIONS: usize = 100_000;

impl SessionCache {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<uuid::Uuid, std::time::Instant>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the sign-in `sid` is live.
    pub async fn live(
        &self,
        store: &dyn changelog_core::store::Storage,
        sid: uuid::Uuid,
    ) -> Result<bool, ApiError> {
        let fresh = self
            .lock()
            .get(&sid)
            .is_some_and(|seen| seen.elapsed() < SESSION_RECHECK);
        if fresh {
            return Ok(true);
        }
        let live = store.session_live(sid).await?;
        let mut seen = self.lock();
        if live {
            if seen.len() >= MAX_CACHED_SESSIONS {
                seen.clear();
            }
            seen.insert(sid, std::time::Instant::now());
        } else {
            seen.remove(&sid);
        }
        Ok(live)
    }

    /// Forgets every sign-in: one ended here (a sign-out, a revoked family).
    pub fn forget_all(&self) {
        self.lock().clear();
    }
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The peer address, when the server was started with connection info.
    pub ip: Option<IpAddr>,
    /// The `User-Agent`, cut to what the audit log keeps.
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(MAX_USER_AGENT_LEN).collect());
        Ok(Self { ip, user_agent })
    }
}
