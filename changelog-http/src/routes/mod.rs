//! The API's resources, one module each, with their request and response types beside them.

pub mod api_keys;
pub mod auth;
pub mod changelogs;
pub mod health;
pub mod jobs;
pub(crate) mod timestamp;

use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::error::ApiError;

/// Parses an id from a path; anything that is not a UUID is 404 for `what`, as a missing
/// object is.
pub(crate) fn parse_id(what: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::not_found(what, text))
}

/// An optional integer as JSON Schema's `integer` has it: `3`, `3.0` and `3e0` alike (serde's
/// `i64` refuses the last two, which the OpenAPI document allows).
pub(crate) fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    // 2^63 is the first float past `i64::MAX`; `i64::MIN` is exactly -2^63.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    number
        .as_i64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && (-LIMIT..LIMIT).contains(f))
                .map(|f| f as i64)
        })
        .map(Some)
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid value: {number}, expected a whole number between -2^63 and 2^63 - 1"
            ))
        })
}
