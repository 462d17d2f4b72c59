//! Annotations: a user's notes on a changelog, kept beside it and not part of its revisions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{StoreError, StoreResult};

/// The longest annotation, in characters.
pub const MAX_ANNOTATION_LEN: usize = 10_000;

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

/// Checks an annotation's body: not blank, at most [`MAX_ANNOTATION_LEN`] characters.
pub fn check_body(body: &str) -> StoreResult<()> {
    let invalid = |reason: String| {
        Err(StoreError::Invalid {
            what: "annotation",
            reason,
        })
    };
    if body.trim().is_empty() {
        return invalid("the note is empty".into());
    }
    let len = body.chars().count();
    if len > MAX_ANNOTATION_LEN {
        return invalid(format!(
            "the note is {len} characters long, more than {MAX_ANNOTATION_LEN}"
        ));
    }
    Ok(())
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
