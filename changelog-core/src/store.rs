//! What the server and the bindings persist, as traits: users (with their GitHub token),
//! changelogs (revisioned, tagged, annotated, listed with keyset cursors), API keys, refresh
//! tokens, repositories, generation jobs, usage per day, the audit log and cached answers of
//! language models.
//!
//! The traits are object safe (`Arc<dyn Storage>`), so a server holds one store whatever its
//! backend. [`memory::MemoryStore`] implements them in process memory for tests and small
//! embedders; `changelog-store` implements them on SQLite and PostgreSQL.
//!
//! Rules every implementation follows:
//! - an update names the revision it expects; a stale revision is [`StoreError::Conflict`],
//!   never a silent overwrite, and every revision is kept as a [`ChangelogVersion`];
//! - tags are normalised with [`normalize_tag`] and created on first use;
//! - a write either happens whole or not at all;
//! - listings page with an opaque cursor on (sort key, id), so a page boundary does not move
//!   when rows are inserted, and at most [`MAX_PAGE_SIZE`] rows come back per page.

pub mod annotation;
pub mod api_key;
pub mod audit;
pub mod cache;
pub mod job;
pub mod limits;
pub mod memory;
pub mod refresh;
pub mod repository;
pub mod usage;

pub use annotation::{Annotation, AnnotationStore};
pub use api_key::{ApiKey, ApiKeyStore, IssuedApiKey, NewApiKey};
pub use audit::{AuditEvent, AuditOutcome, AuditQuery, AuditStore, NewAuditEvent};
pub use cache::{CacheEntryStore, StoreCache};
pub use job::{Job, JobOutcome, JobStatus, JobStore};
pub use refresh::{IssuedRefreshToken, RefreshToken, RefreshTokenStore, Rotation};
pub use repository::{NewRepository, Repository, RepositoryProvider, RepositoryStore};
pub use usage::{UsageAmount, UsageDay, UsageStore};

use std::cmp::Ordering;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Changelog;

/// The largest page a listing returns, whatever the query asks for.
pub const MAX_PAGE_SIZE: u32 = 100;

pub use limits::MAX_TAG_LEN;

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record does not exist.
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// What kind of record (`user`, `changelog`, `revision`).
        entity: &'static str,
        /// Its identifier, as given.
        id: String,
    },

    /// The update named a revision that is no longer the current one.
    #[error("stale revision: expected {expected}, the changelog is at revision {actual}")]
    Conflict {
        /// The revision the caller based its update on.
        expected: i64,
        /// The current revision.
        actual: i64,
    },

    /// A value that must be unique is already taken.
    #[error("{field} is already taken")]
    Duplicate {
        /// The field (`username`, `email`, `github_id`, ...).
        field: String,
    },

    /// The input cannot be stored as given (a tag too long, a malformed cursor, ...).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was wrong.
        what: &'static str,
        /// Why.
        reason: String,
    },

    /// The backend failed (connection, I/O, encryption, a corrupt row).
    #[error("{context}")]
    Backend {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// The kind of failure, mapped by each front end as [`crate::Error::kind`]'s is.
    #[must_use]
    pub fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind;
        match self {
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Conflict { .. } | Self::Duplicate { .. } => ErrorKind::Conflict,
            Self::Invalid { .. } => ErrorKind::InvalidInput,
            Self::Backend { .. } => ErrorKind::Internal,
        }
    }

    /// A backend error with its context.
    pub fn backend(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Backend {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// Result alias of the store traits.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable identifier.
    pub id: Uuid,
    /// Unique login name.
    pub username: String,
    /// Unique e-mail address.
    pub email: String,
    /// Password hash (PHC string); absent for GitHub-only users.
    pub password_hash: Option<String>,
    /// GitHub account id (unique), for users who signed in with GitHub.
    pub github_id: Option<i64>,
    /// GitHub login.
    pub github_username: Option<String>,
    /// Whether a GitHub access token is stored (see [`UserStore::github_token`]).
    pub has_github_token: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Whether a changelog is ready to be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ChangelogStatus {
    /// Being written or reviewed.
    #[default]
    Draft,
    /// Released.
    Published,
}

impl ChangelogStatus {
    /// The name stored in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> StoreResult<Self> {
        match name {
            "draft" => Ok(Self::Draft),
            "published" => Ok(Self::Published),
            other => Err(StoreError::Invalid {
                what: "status",
                reason: format!("`{other}`"),
            }),
        }
    }
}

/// The fields of a new user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    /// Unique login name.
    pub username: String,
    /// Unique e-mail address.
    pub email: String,
    /// Password hash, if the user has a password.
    pub password_hash: Option<String>,
    /// GitHub account id.
    pub github_id: Option<i64>,
    /// GitHub login.
    pub github_username: Option<String>,
}

/// Where a changelog came from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangelogSource {
    /// Generated from commit history.
    #[default]
    Git,
    /// Written by hand.
    Manual,
}

impl ChangelogSource {
    /// The name stored in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Git => "git",
            Self::Manual => "manual",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> StoreResult<Self> {
        match name {
            "git" => Ok(Self::Git),
            "manual" => Ok(Self::Manual),
            other => Err(StoreError::Invalid {
                what: "source",
                reason: format!("`{other}`"),
            }),
        }
    }
}

/// The fields of a new changelog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewChangelog {
    /// Its id; a new random one when `None`. A generation job names its own id, so that a job
    /// run twice (its first worker died after storing) stores one changelog.
    pub id: Option<Uuid>,
    /// The owning user.
    pub owner_id: Uuid,
    /// The repository it describes (full name or URL), if any.
    pub repository: Option<String>,
    /// Title.
    pub title: String,
    /// Release version (`v1.2.0`), if any.
    pub version: Option<String>,
    /// The rendered Markdown.
    pub content: String,
    /// The structured document it was rendered from.
    pub document: Option<Changelog>,
    /// Generated or written by hand.
    pub source: ChangelogSource,
    /// The commit range it covers (`v1.1.0..v1.2.0`).
    pub commit_range: Option<String>,
    /// The model that wrote it.
    pub model: Option<String>,
    /// Input tokens spent.
    pub input_tokens: i64,
    /// Output tokens spent.
    pub output_tokens: i64,
    /// Cost in US dollars.
    pub cost_usd: f64,
    /// Whether anyone may read it.
    pub is_public: bool,
    /// Draft or published.
    pub status: ChangelogStatus,
    /// Tags (normalised on write).
    pub tags: Vec<String>,
}

/// A stored changelog at its current revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangelogRecord {
    /// Stable identifier.
    pub id: Uuid,
    /// The owning user.
    pub owner_id: Uuid,
    /// The repository it describes.
    pub repository: Option<String>,
    /// Title.
    pub title: String,
    /// Release version.
    pub version: Option<String>,
    /// The rendered Markdown.
    pub content: String,
    /// The structured document (`None` in a listing with
    /// [`ChangelogQuery::skip_documents`]).
    pub document: Option<Changelog>,
    /// Generated or written by hand.
    pub source: ChangelogSource,
    /// The commit range it covers.
    pub commit_range: Option<String>,
    /// The model that wrote it.
    pub model: Option<String>,
    /// Input tokens spent.
    pub input_tokens: i64,
    /// Output tokens spent.
    pub output_tokens: i64,
    /// Cost in US dollars.
    pub cost_usd: f64,
    /// Whether anyone may read it.
    pub is_public: bool,
    /// Draft or published.
    pub status: ChangelogStatus,
    /// Normalised tags, sorted.
    pub tags: Vec<String>,
    /// Current revision, 1 at creation and one more per update.
    pub revision: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A change to a changelog. Fields left `None` keep their value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangelogUpdate {
    /// New title.
    pub title: Option<String>,
    /// New version (`Some(None)` clears it).
    pub version: Option<Option<String>>,
    /// New Markdown.
    pub content: Option<String>,
    /// New structured document (`Some(None)` clears it).
    pub document: Option<Option<Changelog>>,
    /// New visibility.
    pub is_public: Option<bool>,
    /// New status.
    pub status: Option<ChangelogStatus>,
    /// New tag set (replaces the old one).
    pub tags: Option<Vec<String>>,
}

/// One kept revision of a changelog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangelogVersion {
    /// The changelog.
    pub changelog_id: Uuid,
    /// Its revision number.
    pub revision: i64,
    /// Title at that revision.
    pub title: String,
    /// Version at that revision.
    pub version: Option<String>,
    /// Markdown at that revision.
    pub content: String,
    /// Document at that revision.
    pub document: Option<Changelog>,
    /// Tags at that revision.
    pub tags: Vec<String>,
    /// Who wrote the revision, if known.
    pub edited_by: Option<Uuid>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// How a tag filter combines its tags.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagMatch {
    /// At least one of the tags.
    #[default]
    Any,
    /// Every tag.
    All,
}

/// The order of a listing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangelogSort {
    /// Creation time.
    #[default]
    Created,
    /// Last change.
    Updated,
    /// Title (byte order).
    Title,
    /// Version, as semantic versions where they parse (see [`version_sort_key`]).
    Version,
}

impl ChangelogSort {
    fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Title => "title",
            Self::Version => "version",
        }
    }
}

/// Ascending or descending.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    #[default]
    Desc,
}

/// Filters, order and page of a changelog listing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangelogQuery {
    /// Only this owner's changelogs.
    pub owner_id: Option<Uuid>,
    /// Exactly this version.
    pub version: Option<String>,
    /// Tags to filter on (normalised before matching); empty means no tag filter.
    pub tags: Vec<String>,
    /// Whether any or all of `tags` must be present.
    pub tag_match: TagMatch,
    /// Created at or after.
    pub created_since: Option<DateTime<Utc>>,
    /// Created strictly before.
    pub created_until: Option<DateTime<Utc>>,
    /// Exactly this repository.
    pub repository: Option<String>,
    /// Only public (`Some(true)`) or private (`Some(false)`) changelogs.
    pub is_public: Option<bool>,
    /// Only drafts or only published changelogs.
    pub status: Option<ChangelogStatus>,
    /// Full-text search over title and content: every word must occur (whole words, any case).
    pub text: Option<String>,
    /// Sort key.
    pub sort: ChangelogSort,
    /// Sort direction.
    pub direction: Direction,
    /// Page size; 0 means the default (20), anything above [`MAX_PAGE_SIZE`] is capped.
    pub limit: u32,
    /// Where to continue: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Leave [`ChangelogRecord::document`] out (`None`) of the page's records: a listing that
    /// shows the Markdown alone need not read and decode the largest field.
    #[serde(default)]
    pub skip_documents: bool,
}

impl ChangelogQuery {
    /// The page size this query gets.
    #[must_use]
    pub fn page_size(&self) -> u32 {
        match self.limit {
            0 => 20,
            n => n.min(MAX_PAGE_SIZE),
        }
    }

    /// The words of the text search, lowercased: runs of letters and digits, as a full-text
    /// index splits them.
    #[must_use]
    pub fn text_terms(&self) -> Vec<String> {
        self.text
            .as_deref()
            .unwrap_or_default()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows, in order.
    pub items: Vec<T>,
    /// Pass it as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl Page<ChangelogRecord> {
    /// A page of a changelog listing; when more rows follow, the cursor points after its last
    /// row in the query's order.
    #[must_use]
    pub fn of_changelogs(items: Vec<ChangelogRecord>, more: bool, query: &ChangelogQuery) -> Self {
        let next_cursor = if more {
            items
                .last()
                .map(|r| Cursor::after(r, query.sort, query.direction).encode())
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

/// The position a page ends at: the sort key of its last row and that row's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort the cursor belongs to.
    pub sort: ChangelogSort,
    /// The direction the cursor belongs to.
    pub direction: Direction,
    /// The sort key: microseconds since the epoch for times, the text otherwise.
    pub key: CursorKey,
    /// The id of the last row.
    pub id: Uuid,
}

/// The sort key stored in a cursor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CursorKey {
    /// A time, in microseconds since the epoch.
    Micros(i64),
    /// A title or a version sort key.
    Text(String),
}

impl Cursor {
    /// The cursor after `record` in a listing sorted by `sort`.
    #[must_use]
    pub fn after(record: &ChangelogRecord, sort: ChangelogSort, direction: Direction) -> Self {
        let key = match sort {
            ChangelogSort::Created => CursorKey::Micros(record.created_at.timestamp_micros()),
            ChangelogSort::Updated => CursorKey::Micros(record.updated_at.timestamp_micros()),
            ChangelogSort::Title => CursorKey::Text(record.title.clone()),
            ChangelogSort::Version => CursorKey::Text(version_sort_key(record.version.as_deref())),
        };
        Self {
            sort,
            direction,
            key,
            id: record.id,
        }
    }

    /// The opaque form handed to clients (hex of a small JSON object).
    #[must_use]
    pub fn encode(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let json = serde_json::to_vec(self).unwrap_or_default();
        let mut text = String::with_capacity(json.len() * 2);
        for byte in json {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        text
    }

    /// Reads an opaque cursor and checks it belongs to `query`'s sort and direction.
    pub fn decode(text: &str, query: &ChangelogQuery) -> StoreResult<Self> {
        let invalid = |reason: &str| StoreError::Invalid {
            what: "cursor",
            reason: reason.into(),
        };
        if !text.len().is_multiple_of(2) || !text.is_ascii() {
            return Err(invalid("not a cursor from this listing"));
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| invalid("not a cursor from this listing"))?;
        let cursor: Self = serde_json::from_slice(&bytes)
            .map_err(|_| invalid("not a cursor from this listing"))?;
        let key_fits = matches!(
            (&cursor.key, cursor.sort),
            (
                CursorKey::Micros(_),
                ChangelogSort::Created | ChangelogSort::Updated
            ) | (
                CursorKey::Text(_),
                ChangelogSort::Title | ChangelogSort::Version
            )
        );
        if cursor.sort != query.sort || cursor.direction != query.direction || !key_fits {
            return Err(invalid(&format!(
                "the cursor was made for another order than {} {:?}",
                query.sort.as_str(),
                query.direction
            )));
        }
        Ok(cursor)
    }
}

/// Lowercases and trims a tag; `None` for a tag that is empty once trimmed.
#[must_use]
pub fn normalize_tag(tag: &str) -> Option<String> {
    let tag = tag.trim().to_lowercase();
    (!tag.is_empty()).then_some(tag)
}

/// Normalises a tag list: lowercased, trimmed, empty ones dropped, sorted and deduplicated.
#[must_use]
pub fn normalize_tags(tags: &[String]) -> Vec<String> {
    let mut tags: Vec<String> = tags.iter().filter_map(|t| normalize_tag(t)).collect();
    tags.sort();
    tags.dedup();
    tags
}

/// A text key whose byte order is the order of versions.
///
/// Versions that parse as semantic versions (an optional leading `v`, `MAJOR.MINOR.PATCH`, an
/// optional pre-release, build metadata ignored) sort by semver precedence; they come after
/// changelogs without a version and before versions that do not parse, which sort by text.
#[must_use]
pub fn version_sort_key(version: Option<&str>) -> String {
    let Some(version) = version else {
        return "0".to_owned();
    };
    match parse_semver(version) {
        Some((core, pre)) => {
            let mut key = format!("1{:020}.{:020}.{:020}", core[0], core[1], core[2]);
            if pre.is_empty() {
                // A release sorts after all of its pre-releases.
                key.push('~');
            } else {
                key.push('!');
                for (i, ident) in pre.iter().enumerate() {
                    if i > 0 {
                        // Lower than any identifier character, so a shorter list sorts first.
                        key.push(' ');
                    }
                    match ident.parse::<u64>() {
                        // Numeric identifiers sort numerically and before alphanumeric ones.
                        Ok(n) if !ident.starts_with('+') => key.push_str(&format!("0{n:020}")),
                        _ => {
                            key.push('1');
                            key.push_str(ident);
                        }
                    }
                }
            }
            key
        }
        None => format!("2{version}"),
    }
}

fn parse_semver(version: &str) -> Option<([u64; 3], Vec<&str>)> {
    let v = version.strip_prefix('v').unwrap_or(version);
    let v = v.split_once('+').map_or(v, |(v, _build)| v);
    let (core, pre) = match v.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (v, None),
    };
    let mut numbers = [0u64; 3];
    let mut parts = core.split('.');
    for n in &mut numbers {
        let part = parts.next()?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *n = part.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    let pre = match pre {
        None => Vec::new(),
        Some(pre) => {
            let idents: Vec<&str> = pre.split('.').collect();
            let valid = |s: &&str| {
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            };
            if !idents.iter().all(valid) {
                return None;
            }
            idents
        }
    };
    Some((numbers, pre))
}

/// Compares two records in the order of a listing (ties broken by id).
#[must_use]
pub fn compare_records(
    a: &ChangelogRecord,
    b: &ChangelogRecord,
    sort: ChangelogSort,
    direction: Direction,
) -> Ordering {
    let ka = Cursor::after(a, sort, direction);
    let kb = Cursor::after(b, sort, direction);
    let ordering = (&ka.key, ka.id).cmp(&(&kb.key, kb.id));
    match direction {
        Direction::Asc => ordering,
        Direction::Desc => ordering.reverse(),
    }
}

/// The current time as stores record it: UTC, truncated to microseconds (what both SQL
/// backends keep).
#[must_use]
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Users and their GitHub credentials.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user. A taken username, e-mail or GitHub id is [`StoreError::Duplicate`].
    async fn create_user(&self, user: &NewUser) -> StoreResult<User>;

    /// The user with this id.
    async fn user(&self, id: Uuid) -> StoreResult<User>;

    /// The user with this username, if any.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;

    /// The user with this e-mail address (compared as stored), if any.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;

    /// The user linked to this GitHub account, if any.
    async fn user_by_github_id(&self, github_id: i64) -> StoreResult<Option<User>>;

    /// Stores (or with `None` removes) the user's GitHub access token. SQL stores encrypt it.
    async fn set_github_token(&self, user_id: Uuid, token: Option<&str>) -> StoreResult<()>;

    /// The user's GitHub access token in clear, if one is stored.
    async fn github_token(&self, user_id: Uuid) -> StoreResult<Option<String>>;
}

/// Changelogs, their revisions and their tags.
#[async_trait]
pub trait ChangelogStore: Send + Sync {
    /// Creates a changelog at revision 1, with its tags and its first kept version, in one
    /// transaction.
    async fn create_changelog(&self, changelog: &NewChangelog) -> StoreResult<ChangelogRecord>;

    /// The changelog with this id.
    async fn changelog(&self, id: Uuid) -> StoreResult<ChangelogRecord>;

    /// Applies `update` if the changelog is still at `expected_revision`, making a new
    /// revision; otherwise [`StoreError::Conflict`].
    async fn update_changelog(
        &self,
        id: Uuid,
        expected_revision: i64,
        update: &ChangelogUpdate,
        edited_by: Option<Uuid>,
    ) -> StoreResult<ChangelogRecord>;

    /// Makes a new revision whose title, version, content, document and tags are those of
    /// `revision`, if the changelog is still at `expected_revision`.
    async fn restore_revision(
        &self,
        id: Uuid,
        revision: i64,
        expected_revision: i64,
        edited_by: Option<Uuid>,
    ) -> StoreResult<ChangelogRecord>;

    /// Every kept revision, oldest first.
    async fn versions(&self, id: Uuid) -> StoreResult<Vec<ChangelogVersion>>;

    /// Deletes a changelog with its versions and tag links (tags themselves stay).
    async fn delete_changelog(&self, id: Uuid) -> StoreResult<()>;

    /// One page of changelogs.
    async fn list_changelogs(&self, query: &ChangelogQuery) -> StoreResult<Page<ChangelogRecord>>;

    /// Every tag that exists, sorted.
    async fn tags(&self) -> StoreResult<Vec<String>>;

    /// The tags on `owner_id`'s changelogs, sorted, without duplicates.
    async fn owner_tags(&self, owner_id: Uuid) -> StoreResult<Vec<String>>;
}

/// Everything a server needs from one store.
pub trait Storage:
    UserStore
    + ChangelogStore
    + AnnotationStore
    + ApiKeyStore
    + RefreshTokenStore
    + RepositoryStore
    + JobStore
    + UsageStore
    + AuditStore
    + CacheEntryStore
{
}

impl<T> Storage for T where
    T: UserStore
        + ChangelogStore
        + AnnotationStore
        + ApiKeyStore
        + RefreshTokenStore
        + RepositoryStore
        + JobStore
        + UsageStore
        + AuditStore
        + CacheEntryStore
        + ?Sized
{
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_as_semver_where_they_parse() {
        let ordered = [
            None,
            Some("0.9.0"),
            Some("v1.0.0-alpha"),
            Some("1.0.0-alpha.1"),
            Some("1.0.0-alpha.beta"),
            Some("1.0.0-beta"),
            Some("1.0.0-beta.2"),
            Some("1.0.0-beta.11"),
            Some("1.0.0-rc.1"),
            Some("1.0.0"),
            Some("v1.2.0"),
            Some("1.10.0"),
            Some("10.0.0"),
            Some("nightly"),
        ];
        for pair in ordered.windows(2) {
            let (a, b) = (version_sort_key(pair[0]), version_sort_key(pair[1]));
            assert!(a < b, "{:?} should sort before {:?}", pair[0], pair[1]);
        }
        assert_eq!(
            version_sort_key(Some("1.0.0+build")),
            version_sort_key(Some("v1.0.0"))
        );
    }

    #[test]
    fn tags_are_normalised() {
        let tags = normalize_tags(&[" API ".into(), "api".into(), "  ".into(), "Docs".into()]);
        assert_eq!(tags, ["api", "docs"]);
    }

    #[test]
    fn cursors_round_trip_and_are_tied_to_their_order() {
        let query = ChangelogQuery {
            sort: ChangelogSort::Title,
            ..ChangelogQuery::default()
        };
        let cursor = Cursor {
            sort: ChangelogSort::Title,
            direction: Direction::Desc,
            key: CursorKey::Text("a \"title\"".into()),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode(), &query).unwrap(), cursor);
        // The form clients hold: lowercase hex of the JSON, two digits a byte.
        let by_id = Cursor {
            sort: ChangelogSort::Created,
            direction: Direction::Asc,
            key: CursorKey::Micros(1),
            id: Uuid::nil(),
        };
        let json = serde_json::to_string(&by_id).unwrap();
        assert!(json.starts_with("{\"sort\":\"created\""), "{json}");
        let hex: String = json.bytes().map(|b| format!("{b:02x}")).collect();
        assert_eq!(by_id.encode(), hex);
        let other = ChangelogQuery {
            sort: ChangelogSort::Created,
            ..query
        };
        assert!(Cursor::decode(&cursor.encode(), &other).is_err());
        assert!(Cursor::decode("zz", &other).is_err());
    }
}
