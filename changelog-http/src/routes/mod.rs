//! The API's resources, one module each, with their request and response types beside them.

pub mod api_keys;
pub mod auth;
pub mod changelogs;
pub mod health;
pub mod jobs;

use uuid::Uuid;

use crate::error::ApiError;

/// Parses an id from a path; anything that is not a UUID is 404 for `what`, as a missing
/// object is.
pub(crate) fn parse_id(what: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::not_found(what, text))
}
