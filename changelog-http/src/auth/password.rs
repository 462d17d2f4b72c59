//! Passwords: a minimum strength on registration, argon2id hashes computed on the blocking
//! pool (never on the async threads).

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::ApiError;

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// The longest password accepted, in characters (argon2 has no limit; this bounds the work to
/// 4 KiB of UTF-8). Characters, like every other limit of the API, so that the OpenAPI
/// document's `maxLength` states it exactly.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Checks a new password: long enough, not too long, not mostly one character, and not the
/// user's own name or address.
pub fn check_strength(password: &str, username: &str, email: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters long"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(ApiError::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters long"),
        ));
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 5 {
        return Err(ApiError::invalid(
            "password",
            "must use at least 5 different characters",
        ));
    }
    let lower = password.to_lowercase();
    if lower == username.to_lowercase() || lower == email.to_lowercase() {
        return Err(ApiError::invalid(
            "password",
            "must not be the username or the e-mail address",
        ));
    }
    Ok(())
}

/// The argon2id PHC string of `password`, computed on the blocking pool.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(|e| ApiError::internal(&PasswordError(e.to_string())))
}

/// Whether `password` matches `hash`, checked on the blocking pool. Without a hash (an unknown
/// user) a dummy hash is checked, so the answer takes as long either way.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && matches
    })
    .await
    .map_err(|e| ApiError::internal(&e))
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"not a password anyone has", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
struct PasswordError(String);
