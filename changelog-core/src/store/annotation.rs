//! Annotations: a user's notes on a changelog, kept beside it and not part of its revisions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoreResult;

pub use super::limits::MAX_ANNOTATION_LEN;

/// A note on a changelog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// Stable identifier.
    pub id: Uuid,
    /// The changelog it is about.
    pub changelog_id: Uuid,
    /// Who wrote it.
    pub user_id: Uuid,
    /// The note (Markdown).
    pub body: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last edit.
    pub updated_at: DateTime<Utc>,
}

/// Checks an annotation's body: not blank, no NUL, at most [`MAX_ANNOTATION_LEN`] characters.
pub fn check_body(body: &str) -> StoreResult<()> {
    super::limits::check_annotation(body)
}

/// Annotations.
#[async_trait]
pub trait AnnotationStore: Send + Sync {
    /// Adds a note by `user_id` to a changelog.
    async fn add_annotation(
        &self,
        changelog_id: Uuid,
        user_id: Uuid,
        body: &str,
    ) -> StoreResult<Annotation>;

    /// The notes on a changelog, oldest first.
    async fn annotations(&self, changelog_id: Uuid) -> StoreResult<Vec<Annotation>>;

    /// Replaces a note's text.
    async fn edit_annotation(&self, id: Uuid, body: &str) -> StoreResult<Annotation>;

    /// Deletes a note.
    async fn delete_annotation(&self, id: Uuid) -> StoreResult<()>;
}
