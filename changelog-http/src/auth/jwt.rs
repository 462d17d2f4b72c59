//! Access tokens: HS256 JWTs, 15 minutes by default, with an audience and a `typ` of
//! `access`, so that a token of another kind or for another service is refused. The keys and
//! the validation rules are built once, when the server starts.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

/// The audience every access token names.
pub const AUDIENCE: &str = "changelog-api";

/// The `typ` claim of access tokens.
pub const ACCESS_TYPE: &str = "access";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The sign-in (refresh-token family) the token belongs to.
    pub sid: Uuid,
    /// Audience: [`AUDIENCE`].
    pub aud: String,
    /// Kind: [`ACCESS_TYPE`].
    pub typ: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
}

/// The signing and checking keys, and the rules, built once.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl JwtKeys {
    /// Keys for `secret`, issuing tokens valid for `ttl`.
    #[must_use]
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// How long issued tokens are valid.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A signed access token for `user` in the sign-in `session`.
    pub fn issue(&self, user: Uuid, session: Uuid) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            sid: session,
            aud: AUDIENCE.to_owned(),
            typ: ACCESS_TYPE.to_owned(),
            iat: now,
            exp: now + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal(&e))
    }

    /// The claims of a valid access token; 401 for anything else (expired, tampered, another
    /// algorithm including `none`, another audience or kind).
    pub fn verify_access(&self, token: &str) -> Result<Claims, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                let reason = match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the token has expired",
                    _ => "the token is not a valid access token",
                };
                ApiError::unauthorized(reason)
            })?;
        if data.claims.typ != ACCESS_TYPE {
            return Err(ApiError::unauthorized("the token is not an access token"));
        }
        Ok(data.claims)
    }
}
