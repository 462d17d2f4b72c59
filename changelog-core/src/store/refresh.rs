//! Refresh tokens: long-lived, single-use secrets that buy a new access token.
//!
//! Stores keep a token's SHA-256, never the token. Each token belongs to a family, started at
//! sign-in; using a token marks it used and issues its successor in the same family. A used
//! token presented again means it was copied (the legitimate holder already has the
//! successor), so the whole family is revoked: the thief and the victim both sign in again.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoreResult;
use super::job::lease_end;

/// What every refresh token starts with, so that leaked tokens are recognisable.
pub const REFRESH_PREFIX: &str = "clr_";

/// A stored refresh token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    /// Stable identifier.
    pub id: Uuid,
    /// The user it signs in.
    pub user_id: Uuid,
    /// The sign-in it descends from.
    pub family_id: Uuid,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for its successor, if it was.
    pub used_at: Option<DateTime<Utc>>,
    /// When its family was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A token just issued: the record, and the secret, which is never available again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedRefreshToken {
    /// What is stored.
    pub token: RefreshToken,
    /// The token to hand to the client.
    pub secret: String,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was valid: it is now used, and this is its successor.
    Rotated(IssuedRefreshToken),
    /// The token had already been used: its family is now revoked.
    Reused {
        /// The user whose sign-in was revoked.
        user_id: Uuid,
        /// The revoked family.
        family_id: Uuid,
    },
    /// Unknown, revoked, or expired before it was used.
    Rejected,
}

/// A fresh refresh token secret: `clr_` and 64 random hex characters (from UUIDv4s).
#[must_use]
pub fn generate_secret() -> String {
    format!(
        "{REFRESH_PREFIX}{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    )
}

/// When a token issued `at` for `ttl` expires.
#[must_use]
pub fn expiry(at: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    lease_end(at, ttl)
}

/// Refresh tokens.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Starts a new family (a sign-in) with its first token, valid for `ttl`.
    async fn issue_refresh_token(
        &self,
        user_id: Uuid,
        ttl: Duration,
    ) -> StoreResult<IssuedRefreshToken>;

    /// Exchanges a presented token for its successor (valid for `ttl`), or revokes its family
    /// when it was already used. Of two concurrent exchanges of one token, one rotates and the
    /// other is a reuse.
    async fn rotate_refresh_token(&self, secret: &str, ttl: Duration) -> StoreResult<Rotation>;

    /// Revokes every token of a family (sign-out); returns how many were still live.
    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<u64>;

    /// Revokes every token of a user (sign-out everywhere); returns how many were still live.
    async fn revoke_user_refresh_tokens(&self, user_id: Uuid) -> StoreResult<u64>;

    /// Whether a sign-in (a family) is still live: not signed out, not revoked for reuse. The
    /// access tokens of a dead sign-in are refused.
    async fn session_live(&self, family_id: Uuid) -> StoreResult<bool>;
}
