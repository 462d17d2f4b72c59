//! The SQL both backends share. This file is compiled once inside each backend module
//! (`sqlite`, `postgres`), whose `Db`, `db_time`, `get_time`, `push_text_search` and
//! `BackendStore` it uses, so that the two implementations cannot drift apart.

use async_trait::async_trait;
use changelog_core::Changelog;
use changelog_core::store::api_key::{PREFIX_ATTEMPTS, hash_key, key_prefix, prefix_exhausted};
use changelog_core::store::job::{
    Job, JobEvent, JobOutcome, JobStatus, JobStore, MAX_EVENTS_PER_READ, lease_end,
};
use changelog_core::store::{
    ApiKey, ApiKeyStore, ChangelogQuery, ChangelogRecord, ChangelogSort, ChangelogSource,
    ChangelogStatus, ChangelogStore, ChangelogUpdate, ChangelogVersion, Cursor, CursorKey,
    Direction, IssuedApiKey, NewApiKey, NewChangelog, NewUser, Page, StoreError, StoreResult,
    TagMatch, User, UserStore, limits, normalize_tags, now, version_sort_key,
};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use super::{
    BEGIN_WRITE, BackendStore, CLAIM_LOCK, Db, DbRow, db_time, get_optional_time, get_time,
    push_text_search,
};

type Tx<'c> = sqlx::Transaction<'c, Db>;

const USER_COLUMNS: &str = "id, username, email, password_hash, github_id, github_username, \
    github_token_ciphertext IS NOT NULL AS has_github_token, created_at, updated_at";

/// The columns of a changelog, before and after its document.
const CHANGELOG_COLUMNS: [&str; 2] = [
    "c.id, c.owner_id, c.repository, c.title, c.version, c.content",
    "c.source, c.commit_range, c.model, c.input_tokens, c.output_tokens, c.cost_usd, \
    c.is_public, c.status, c.revision, c.created_at, c.updated_at, c.tag_names AS tags",
];

/// `SELECT` of changelogs (as `c`) with their tags: each row carries its tag names, sorted, as a
/// JSON array (`tag_names`, written with the tags), so a page is one statement that reads no
/// other table. Without `documents`, the `document` column is NULL: it is the largest, and
/// decoding it was most of what a page of generated changelogs cost.
fn select_changelogs(documents: bool) -> String {
    let [before, after] = CHANGELOG_COLUMNS;
    let document = if documents {
        "c.document"
    } else {
        super::NO_DOCUMENT
    };
    format!("SELECT {before}, {document} AS document, {after} FROM changelogs c")
}

/// Turns a driver error into a store error: unique violations name their field, check
/// violations are invalid input, the rest is a backend failure.
pub(super) fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |error| {
        if let Some(db) = error.as_database_error() {
            if db.is_unique_violation() {
                return StoreError::Duplicate {
                    field: unique_field(db),
                };
            }
            if db.is_check_violation() {
                return StoreError::Invalid {
                    what: "value",
                    reason: db.message().to_owned(),
                };
            }
        }
        StoreError::backend(context, error)
    }
}

/// The column a unique violation is about: from PostgreSQL's constraint name
/// (`users_email_key`) or SQLite's message (`UNIQUE constraint failed: users.email`).
fn unique_field(db: &dyn sqlx::error::DatabaseError) -> String {
    if let Some(constraint) = db.constraint() {
        let field = constraint.strip_suffix("_key").unwrap_or(constraint);
        return field
            .split_once('_')
            .map_or(field, |(_table, field)| field)
            .to_owned();
    }
    let message = db.message();
    message
        .rsplit_once('.')
        .map_or(message, |(_, column)| column)
        .trim()
        .to_owned()
}

/// Whether a unique violation is about an API key's prefix: PostgreSQL names the constraint,
/// SQLite the column.
fn is_prefix_collision(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.is_unique_violation()
        && db.constraint().map_or_else(
            || db.message().ends_with("api_keys.prefix"),
            |constraint| constraint == "api_keys_prefix_key",
        )
}

pub(super) fn not_found(entity: &'static str, id: impl std::fmt::Display) -> StoreError {
    StoreError::NotFound {
        entity,
        id: id.to_string(),
    }
}

fn user_from_row(row: &DbRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        github_id: row.try_get("github_id")?,
        github_username: row.try_get("github_username")?,
        has_github_token: row.try_get("has_github_token")?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

pub(super) fn record_from_row(row: &DbRow) -> StoreResult<ChangelogRecord> {
    let read = db_err("cannot read a changelog row");
    let source: String = row.try_get("source").map_err(&read)?;
    let document: Option<Json<Changelog>> = row.try_get("document").map_err(&read)?;
    let tags: Json<Vec<String>> = row.try_get("tags").map_err(&read)?;
    Ok(ChangelogRecord {
        id: row.try_get("id").map_err(&read)?,
        owner_id: row.try_get("owner_id").map_err(&read)?,
        repository: row.try_get("repository").map_err(&read)?,
        title: row.try_get("title").map_err(&read)?,
        version: row.try_get("version").map_err(&read)?,
        content: row.try_get("content").map_err(&read)?,
        document: document.map(|d| d.0),
        source: ChangelogSource::parse(&source)?,
        commit_range: row.try_get("commit_range").map_err(&read)?,
        model: row.try_get("model").map_err(&read)?,
        input_tokens: row.try_get("input_tokens").map_err(&read)?,
        output_tokens: row.try_get("output_tokens").map_err(&read)?,
        cost_usd: row.try_get("cost_usd").map_err(&read)?,
        is_public: row.try_get("is_public").map_err(&read)?,
        status: ChangelogStatus::parse(&row.try_get::<String, _>("status").map_err(&read)?)?,
        tags: tags.0,
        revision: row.try_get("revision").map_err(&read)?,
        created_at: get_time(row, "created_at").map_err(&read)?,
        updated_at: get_time(row, "updated_at").map_err(&read)?,
    })
}

/// Replaces the tag links of a changelog (`tags` normalised), creating tags on first use. The
/// names themselves are the row's `tag_names`, which the caller writes.
async fn relink_tags(tx: &mut Tx<'_>, id: Uuid, tags: &[String]) -> StoreResult<()> {
    sqlx::query("DELETE FROM changelog_tags WHERE changelog_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(db_err("cannot unlink tags"))?;
    link_tags(tx, id, tags).await
}

/// Links a changelog that has no tag links to its tags (`tags` normalised), creating tags on
/// first use. The names themselves are the row's `tag_names`, which the caller writes.
async fn link_tags(tx: &mut Tx<'_>, id: Uuid, tags: &[String]) -> StoreResult<()> {
    for tag in tags {
        sqlx::query("INSERT INTO tags (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(tag)
            .execute(&mut **tx)
            .await
            .map_err(db_err("cannot create a tag"))?;
        sqlx::query(
            "INSERT INTO changelog_tags (changelog_id, tag_id) SELECT $1, id FROM tags WHERE name = $2",
        )
        .bind(id)
        .bind(tag)
        .execute(&mut **tx)
        .await
        .map_err(db_err("cannot link a tag"))?;
    }
    Ok(())
}

async fn load_changelog(tx: &mut Tx<'_>, id: Uuid) -> StoreResult<ChangelogRecord> {
    let row = sqlx::query(&format!("{} WHERE c.id = $1", select_changelogs(true)))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err("cannot read a changelog"))?
        .ok_or_else(|| not_found("changelog", id))?;
    record_from_row(&row)
}

async fn insert_version(
    tx: &mut Tx<'_>,
    record: &ChangelogRecord,
    edited_by: Option<Uuid>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO changelog_versions \
         (changelog_id, revision, title, version, content, document, tags, edited_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(record.id)
    .bind(record.revision)
    .bind(&record.title)
    .bind(&record.version)
    .bind(&record.content)
    .bind(record.document.as_ref().map(Json))
    .bind(Json(&record.tags))
    .bind(edited_by)
    .bind(db_time(record.updated_at))
    .execute(&mut **tx)
    .await
    .map_err(db_err("cannot keep a revision"))?;
    Ok(())
}

/// Moves a changelog from `expected` to the next revision, or says why it cannot. This is the
/// first statement of every update, so that SQLite takes its write lock before reading.
async fn claim_revision(
    tx: &mut Tx<'_>,
    id: Uuid,
    expected: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE changelogs SET revision = revision + 1, updated_at = $1 \
         WHERE id = $2 AND revision = $3",
    )
    .bind(db_time(at))
    .bind(id)
    .bind(expected)
    .execute(&mut **tx)
    .await
    .map_err(db_err("cannot update a changelog"))?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let actual: Option<i64> = sqlx::query_scalar("SELECT revision FROM changelogs WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err("cannot read a changelog"))?;
    Err(match actual {
        Some(actual) => StoreError::Conflict { expected, actual },
        None => not_found("changelog", id),
    })
}

/// Writes the fields an update sets (the revision is already claimed), its tags and the kept
/// version, and returns the new state.
async fn apply_update(
    tx: &mut Tx<'_>,
    id: Uuid,
    update: &ChangelogUpdate,
    edited_by: Option<Uuid>,
) -> StoreResult<ChangelogRecord> {
    let tags = update.tags.as_deref().map(normalize_tags);
    let mut qb = QueryBuilder::<Db>::new("UPDATE changelogs SET revision = revision");
    if let Some(tags) = &tags {
        qb.push(", tag_names = ").push_bind(Json(tags.clone()));
    }
    if let Some(title) = &update.title {
        qb.push(", title = ").push_bind(title.clone());
    }
    if let Some(version) = &update.version {
        qb.push(", version = ").push_bind(version.clone());
        qb.push(", version_key = ")
            .push_bind(version_sort_key(version.as_deref()));
    }
    if let Some(content) = &update.content {
        qb.push(", content = ").push_bind(content.clone());
    }
    if let Some(document) = &update.document {
        qb.push(", document = ")
            .push_bind(document.clone().map(Json));
    }
    if let Some(is_public) = update.is_public {
        qb.push(", is_public = ").push_bind(is_public);
    }
    if let Some(status) = update.status {
        qb.push(", status = ").push_bind(status.as_str());
    }
    qb.push(" WHERE id = ").push_bind(id);
    qb.build()
        .execute(&mut **tx)
        .await
        .map_err(db_err("cannot update a changelog"))?;
    if let Some(tags) = &tags {
        relink_tags(tx, id, tags).await?;
    }
    let record = load_changelog(tx, id).await?;
    insert_version(tx, &record, edited_by).await?;
    Ok(record)
}

#[async_trait]
impl UserStore for BackendStore {
    async fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        limits::check_new_user(user)?;
        let at = now();
        let row = sqlx::query(&format!(
            "INSERT INTO users \
             (id, username, email, password_hash, github_id, github_username, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {USER_COLUMNS}"
        ))
        .bind(Uuid::new_v4())
        .bind(&user.username)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.github_id)
        .bind(&user.github_username)
        .bind(db_time(at))
        .bind(db_time(at))
        .fetch_one(&self.writer)
        .await
        .map_err(db_err("cannot create a user"))?;
        user_from_row(&row).map_err(db_err("cannot read a user row"))
    }

    async fn user(&self, id: Uuid) -> StoreResult<User> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("cannot read a user"))?
            .ok_or_else(|| not_found("user", id))?;
        user_from_row(&row).map_err(db_err("cannot read a user row"))
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        if username.contains('\0') {
            // No stored text holds NUL, and PostgreSQL refuses it even as a parameter.
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("cannot read a user"))?;
        row.as_ref()
            .map(user_from_row)
            .transpose()
            .map_err(db_err("cannot read a user row"))
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        if email.contains('\0') {
            // No stored text holds NUL, and PostgreSQL refuses it even as a parameter.
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("cannot read a user"))?;
        row.as_ref()
            .map(user_from_row)
            .transpose()
            .map_err(db_err("cannot read a user row"))
    }

    async fn user_by_github_id(&self, github_id: i64) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE github_id = $1"
        ))
        .bind(github_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("cannot read a user"))?;
        row.as_ref()
            .map(user_from_row)
            .transpose()
            .map_err(db_err("cannot read a user row"))
    }

    async fn set_github_token(&self, user_id: Uuid, token: Option<&str>) -> StoreResult<()> {
        let (stored, key_id) = match token {
            Some(token) => {
                let (stored, key_id) = self.keys()?.encrypt(user_id, token)?;
                (Some(stored), Some(key_id))
            }
            None => (None, None),
        };
        let done = sqlx::query(
            "UPDATE users SET github_token_ciphertext = $1, github_token_key_id = $2, \
             updated_at = $3 WHERE id = $4",
        )
        .bind(stored)
        .bind(key_id)
        .bind(db_time(now()))
        .bind(user_id)
        .execute(&self.writer)
        .await
        .map_err(db_err("cannot store a token"))?;
        if done.rows_affected() == 0 {
            return Err(not_found("user", user_id));
        }
        Ok(())
    }

    async fn github_token(&self, user_id: Uuid) -> StoreResult<Option<String>> {
        let row = sqlx::query(
            "SELECT github_token_ciphertext, github_token_key_id FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("cannot read a token"))?
        .ok_or_else(|| not_found("user", user_id))?;
        let stored: Option<Vec<u8>> = row.try_get(0).map_err(db_err("cannot read a token"))?;
        let key_id: Option<String> = row.try_get(1).map_err(db_err("cannot read a token"))?;
        match (stored, key_id) {
            (Some(stored), Some(key_id)) => {
                self.keys()?.decrypt(user_id, &key_id, &stored).map(Some)
            }
            _ => Ok(None),
        }
    }
}

#[async_trait]
impl ChangelogStore for BackendStore {
    async fn create_changelog(&self, new: &NewChangelog) -> StoreResult<ChangelogRecord> {
        let tags = limits::check_new_changelog(new)?;
        let at = now();
        let id = new.id.unwrap_or_else(Uuid::new_v4);
        let mut tx = self
            .writer
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(db_err("cannot begin a transaction"))?;
        sqlx::query(
            "INSERT INTO changelogs (id, owner_id, repository, title, version, version_key, \
             content, document, source, commit_range, model, input_tokens, output_tokens, \
             cost_usd, is_public, status, revision, created_at, updated_at, tag_names) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1, $17, \
             $18, $19)",
        )
        .bind(id)
        .bind(new.owner_id)
        .bind(&new.repository)
        .bind(&new.title)
        .bind(&new.version)
        .bind(version_sort_key(new.version.as_deref()))
        .bind(&new.content)
        .bind(new.document.as_ref().map(Json))
        .bind(new.source.as_str())
        .bind(&new.commit_range)
        .bind(&new.model)
        .bind(new.input_tokens)
        .bind(new.output_tokens)
        .bind(new.cost_usd)
        .bind(new.is_public)
        .bind(new.status.as_str())
        .bind(db_time(at))
        .bind(db_time(at))
        .bind(Json(&tags))
        .execute(&mut *tx)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(db) if db.is_foreign_key_violation() => not_found("user", new.owner_id),
            _ => db_err("cannot create a changelog")(e),
        })?;
        link_tags(&mut tx, id, &tags).await?;
        let record = load_changelog(&mut tx, id).await?;
        insert_version(&mut tx, &record, Some(new.owner_id)).await?;
        tx.commit()
            .await
            .map_err(db_err("cannot commit a new changelog"))?;
        Ok(record)
    }

    async fn changelog(&self, id: Uuid) -> StoreResult<ChangelogRecord> {
        let row = sqlx::query(&format!("{} WHERE c.id = $1", select_changelogs(true)))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("cannot read a changelog"))?
            .ok_or_else(|| not_found("changelog", id))?;
        record_from_row(&row)
    }

    async fn update_changelog(
        &self,
        id: Uuid,
        expected_revision: i64,
        update: &ChangelogUpdate,
        edited_by: Option<Uuid>,
    ) -> StoreResult<ChangelogRecord> {
        limits::check_update(update)?;
        let mut tx = self
            .writer
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(db_err("cannot begin a transaction"))?;
        claim_revision(&mut tx, id, expected_revision, now()).await?;
        let record = apply_update(&mut tx, id, update, edited_by).await?;
        tx.commit()
            .await
            .map_err(db_err("cannot commit an update"))?;
        Ok(record)
    }

    async fn restore_revision(
        &self,
        id: Uuid,
        revision: i64,
        expected_revision: i64,
        edited_by: Option<Uuid>,
    ) -> StoreResult<ChangelogRecord> {
        let mut tx = self
            .writer
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(db_err("cannot begin a transaction"))?;
        claim_revision(&mut tx, id, expected_revision, now()).await?;
        let old = sqlx::query(
            "SELECT title, version, content, document, tags FROM changelog_versions \
             WHERE changelog_id = $1 AND revision = $2",
        )
        .bind(id)
        .bind(revision)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err("cannot read a revision"))?
        .ok_or_else(|| not_found("revision", format!("{id}@{revision}")))?;
        let read = db_err("cannot read a revision");
        let document: Option<Json<Changelog>> = old.try_get("document").map_err(&read)?;
        let tags: Json<Vec<String>> = old.try_get("tags").map_err(&read)?;
        let update = ChangelogUpdate {
            title: Some(old.try_get("title").map_err(&read)?),
            version: Some(old.try_get("version").map_err(&read)?),
            content: Some(old.try_get("content").map_err(&read)?),
            document: Some(document.map(|d| d.0)),
            is_public: None,
            status: None,
            tags: Some(tags.0),
        };
        let record = apply_update(&mut tx, id, &update, edited_by).await?;
        tx.commit()
            .await
            .map_err(db_err("cannot commit a restore"))?;
        Ok(record)
    }

    async fn versions(&self, id: Uuid) -> StoreResult<Vec<ChangelogVersion>> {
        let rows = sqlx::query(
            "SELECT changelog_id, revision, title, version, content, document, tags, edited_by, \
             created_at FROM changelog_versions WHERE changelog_id = $1 ORDER BY revision",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot read revisions"))?;
        if rows.is_empty() {
            return Err(not_found("changelog", id));
        }
        let read = db_err("cannot read a revision row");
        rows.iter()
            .map(|row| {
                let document: Option<Json<Changelog>> = row.try_get("document")?;
                let tags: Json<Vec<String>> = row.try_get("tags")?;
                Ok(ChangelogVersion {
                    changelog_id: row.try_get("changelog_id")?,
                    revision: row.try_get("revision")?,
                    title: row.try_get("title")?,
                    version: row.try_get("version")?,
                    content: row.try_get("content")?,
                    document: document.map(|d| d.0),
                    tags: tags.0,
                    edited_by: row.try_get("edited_by")?,
                    created_at: get_time(row, "created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(read)
    }

    async fn delete_changelog(&self, id: Uuid) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM changelogs WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db_err("cannot delete a changelog"))?;
        if done.rows_affected() == 0 {
            return Err(not_found("changelog", id));
        }
        Ok(())
    }

    async fn list_changelogs(&self, query: &ChangelogQuery) -> StoreResult<Page<ChangelogRecord>> {
        limits::check_query(query)?;
        let cursor = query
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, query))
            .transpose()?;
        let mut qb = QueryBuilder::<Db>::new(format!(
            "{}{} WHERE 1 = 1",
            super::PAGE_OPEN,
            select_changelogs(!query.skip_documents)
        ));
        if let Some(owner) = query.owner_id {
            qb.push(" AND c.owner_id = ").push_bind(owner);
        }
        if let Some(version) = &query.version {
            qb.push(" AND c.version = ").push_bind(version.clone());
        }
        if let Some(repository) = &query.repository {
            qb.push(" AND c.repository = ")
                .push_bind(repository.clone());
        }
        if let Some(status) = query.status {
            qb.push(" AND c.status = ").push_bind(status.as_str());
        }
        if let Some(is_public) = query.is_public {
            qb.push(" AND c.is_public = ").push_bind(is_public);
        }
        if let Some(since) = query.created_since {
            qb.push(" AND c.created_at >= ").push_bind(db_time(since));
        }
        if let Some(until) = query.created_until {
            qb.push(" AND c.created_at < ").push_bind(db_time(until));
        }
        let tags = normalize_tags(&query.tags);
        if !tags.is_empty() {
            let (head, tail) = match query.tag_match {
                TagMatch::Any => (" AND EXISTS (SELECT 1", ")"),
                TagMatch::All => (" AND (SELECT COUNT(*)", ") = "),
            };
            // The names become ids once per statement, in the backend's way (see `TAG_IDS`),
            // so that a candidate row costs one index probe, not a join with `tags`.
            let (open, close) = super::TAG_IDS;
            qb.push(head)
                .push(" FROM changelog_tags ct WHERE ct.changelog_id = c.id AND ct.tag_id")
                .push(open)
                .push("SELECT id FROM tags WHERE name IN (");
            let mut names = qb.separated(", ");
            for tag in &tags {
                names.push_bind(tag.clone());
            }
            qb.push(")").push(close).push(tail);
            if query.tag_match == TagMatch::All {
                qb.push_bind(i64::try_from(tags.len()).unwrap_or(i64::MAX));
            }
        }
        let terms = query.text_terms();
        if !terms.is_empty() {
            push_text_search(&mut qb, &terms);
        }
        let column = match query.sort {
            ChangelogSort::Created => "c.created_at",
            ChangelogSort::Updated => "c.updated_at",
            ChangelogSort::Title => "c.title",
            ChangelogSort::Version => "c.version_key",
        };
        let (compare, order) = match query.direction {
            Direction::Asc => (">", "ASC"),
            Direction::Desc => ("<", "DESC"),
        };
        if let Some(cursor) = cursor {
            qb.push(format!(" AND ({column}, c.id) {compare} ("));
            match cursor.key {
                CursorKey::Micros(micros) => {
                    let at = DateTime::from_timestamp_micros(micros).ok_or_else(|| {
                        StoreError::Invalid {
                            what: "cursor",
                            reason: "time out of range".into(),
                        }
                    })?;
                    qb.push_bind(db_time(at));
                }
                CursorKey::Text(text) => {
                    qb.push_bind(text);
                }
            }
            qb.push(", ").push_bind(cursor.id).push(")");
        }
        let size = query.page_size();
        qb.push(format!(" ORDER BY {column} {order}, c.id {order} LIMIT "))
            .push_bind(i64::from(size) + 1)
            .push(super::PAGE_CLOSE);
        // One more than the page: the extra record only says whether more follow.
        let mut items = super::fetch_page(qb, &self.pool).await?;
        let more = items.len() > size as usize;
        items.truncate(size as usize);
        Ok(Page::of_changelogs(items, more, query))
    }

    async fn tags(&self) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM tags ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("cannot list tags"))
    }

    async fn owner_tags(&self, owner_id: Uuid) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT DISTINCT t.name FROM tags t \
             JOIN changelog_tags ct ON ct.tag_id = t.id \
             JOIN changelogs c ON c.id = ct.changelog_id \
             WHERE c.owner_id = $1 ORDER BY t.name",
        )
        .bind(owner_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot list a user's tags"))
    }
}

const API_KEY_COLUMNS: &str = "id, user_id, name, prefix, scopes, expires_at, last_used_at, \
    use_count, revoked_at, created_at";

fn api_key_from_row(row: &DbRow) -> Result<ApiKey, sqlx::Error> {
    let scopes: Json<Vec<String>> = row.try_get("scopes")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        scopes: scopes.0,
        expires_at: get_optional_time(row, "expires_at")?,
        last_used_at: get_optional_time(row, "last_used_at")?,
        use_count: row.try_get("use_count")?,
        revoked_at: get_optional_time(row, "revoked_at")?,
        created_at: get_time(row, "created_at")?,
    })
}

#[async_trait]
impl ApiKeyStore for BackendStore {
    async fn create_api_key(&self, new: &NewApiKey) -> StoreResult<IssuedApiKey> {
        limits::check_new_api_key(new)?;
        for _ in 0..PREFIX_ATTEMPTS {
            let (prefix, secret) = self.key_generator.generate();
            let inserted = sqlx::query(&format!(
                "INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, scopes, \
                 expires_at, use_count, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8) \
                 RETURNING {API_KEY_COLUMNS}"
            ))
            .bind(Uuid::new_v4())
            .bind(new.user_id)
            .bind(&new.name)
            .bind(&prefix)
            .bind(hash_key(&secret))
            .bind(Json(&new.scopes))
            .bind(new.expires_at.map(db_time))
            .bind(db_time(now()))
            .fetch_one(&self.writer)
            .await;
            let row = match inserted {
                Ok(row) => row,
                // Another key has this prefix: draw again.
                Err(e) if e.as_database_error().is_some_and(is_prefix_collision) => continue,
                Err(e) => {
                    return Err(match e.as_database_error() {
                        Some(db) if db.is_foreign_key_violation() => not_found("user", new.user_id),
                        _ => db_err("cannot create an API key")(e),
                    });
                }
            };
            let key = api_key_from_row(&row).map_err(db_err("cannot read an API key row"))?;
            return Ok(IssuedApiKey { key, secret });
        }
        Err(prefix_exhausted())
    }

    async fn authenticate_api_key(&self, secret: &str) -> StoreResult<Option<ApiKey>> {
        let Some(prefix) = key_prefix(secret) else {
            return Ok(None);
        };
        let at = db_time(now());
        // One statement checks and counts, so concurrent uses are all counted.
        let row = sqlx::query(&format!(
            "UPDATE api_keys SET use_count = use_count + 1, last_used_at = $1 \
             WHERE prefix = $2 AND secret_hash = $3 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $4) RETURNING {API_KEY_COLUMNS}"
        ))
        .bind(at)
        .bind(prefix)
        .bind(hash_key(secret))
        .bind(at)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err("cannot check an API key"))?;
        row.as_ref()
            .map(api_key_from_row)
            .transpose()
            .map_err(db_err("cannot read an API key row"))
    }

    async fn api_keys(&self, user_id: Uuid) -> StoreResult<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot list API keys"))?;
        rows.iter()
            .map(api_key_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("cannot read an API key row"))
    }

    async fn revoke_api_key(&self, id: Uuid) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
                .bind(db_time(now()))
                .bind(id)
                .execute(&self.writer)
                .await
                .map_err(db_err("cannot revoke an API key"))?;
        if done.rows_affected() == 0 {
            return Err(not_found("api key", id));
        }
        Ok(())
    }
}

const JOB_COLUMNS: &str = "id, owner_id, status, progress, message, request, result, error, \
    attempts, lease_owner, lease_expires_at, created_at, updated_at";

fn job_from_row(row: &DbRow) -> StoreResult<Job> {
    let read = db_err("cannot read a job row");
    let status: String = row.try_get("status").map_err(&read)?;
    let request: Json<serde_json::Value> = row.try_get("request").map_err(&read)?;
    let result: Option<Json<serde_json::Value>> = row.try_get("result").map_err(&read)?;
    Ok(Job {
        id: row.try_get("id").map_err(&read)?,
        owner_id: row.try_get("owner_id").map_err(&read)?,
        status: JobStatus::parse(&status)?,
        progress: row.try_get("progress").map_err(&read)?,
        message: row.try_get("message").map_err(&read)?,
        request: request.0,
        result: result.map(|r| r.0),
        error: row.try_get("error").map_err(&read)?,
        attempts: row.try_get("attempts").map_err(&read)?,
        lease_owner: row.try_get("lease_owner").map_err(&read)?,
        lease_expires_at: get_optional_time(row, "lease_expires_at").map_err(&read)?,
        created_at: get_time(row, "created_at").map_err(&read)?,
        updated_at: get_time(row, "updated_at").map_err(&read)?,
    })
}

fn lease_lost(id: Uuid, worker: &str) -> StoreError {
    not_found("job lease", format!("{id} held by {worker}"))
}

#[async_trait]
impl JobStore for BackendStore {
    async fn enqueue_job(
        &self,
        owner_id: Option<Uuid>,
        request: &serde_json::Value,
    ) -> StoreResult<Job> {
        let at = db_time(now());
        let row = sqlx::query(&format!(
            "INSERT INTO jobs (id, owner_id, status, progress, request, attempts, created_at, \
             updated_at) VALUES ($1, $2, 'queued', 0, $3, 0, $4, $5) RETURNING {JOB_COLUMNS}"
        ))
        .bind(Uuid::new_v4())
        .bind(owner_id)
        .bind(Json(request))
        .bind(at)
        .bind(at)
        .fetch_one(&self.writer)
        .await
        .map_err(db_err("cannot queue a job"))?;
        job_from_row(&row)
    }

    async fn job(&self, id: Uuid) -> StoreResult<Job> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("cannot read a job"))?
            .ok_or_else(|| not_found("job", id))?;
        job_from_row(&row)
    }

    async fn claim_job(
        &self,
        worker: &str,
        lease: std::time::Duration,
    ) -> StoreResult<Option<Job>> {
        let at = now();
        // One statement: pick and take. PostgreSQL skips rows another claimer has locked;
        // SQLite runs one writer at a time.
        let row = sqlx::query(&format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1, \
             lease_expires_at = $2, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE status = 'queued' \
               OR (status = 'running' AND lease_expires_at < $4) \
               ORDER BY created_at, id LIMIT 1{CLAIM_LOCK}) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(worker)
        .bind(db_time(lease_end(at, lease)))
        .bind(db_time(at))
        .bind(db_time(at))
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err("cannot claim a job"))?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn report_progress(
        &self,
        id: Uuid,
        worker: &str,
        progress: i32,
        message: Option<&str>,
        lease: std::time::Duration,
    ) -> StoreResult<Job> {
        let at = now();
        let row = sqlx::query(&format!(
            "UPDATE jobs SET progress = $1, message = $2, lease_expires_at = $3, updated_at = $4 \
             WHERE id = $5 AND status = 'running' AND lease_owner = $6 RETURNING {JOB_COLUMNS}"
        ))
        .bind(progress.clamp(0, 100))
        .bind(message)
        .bind(db_time(lease_end(at, lease)))
        .bind(db_time(at))
        .bind(id)
        .bind(worker)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err("cannot record progress"))?
        .ok_or_else(|| lease_lost(id, worker))?;
        job_from_row(&row)
    }

    async fn finish_job(&self, id: Uuid, worker: &str, outcome: &JobOutcome) -> StoreResult<Job> {
        let (status, result, error, progress) = match outcome {
            JobOutcome::Succeeded(result) => {
                (JobStatus::Succeeded, Some(Json(result)), None, Some(100))
            }
            JobOutcome::Failed(error) => (JobStatus::Failed, None, Some(error.as_str()), None),
        };
        let row = sqlx::query(&format!(
            "UPDATE jobs SET status = $1, result = $2, error = $3, progress = COALESCE($4, progress), \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = $5 \
             WHERE id = $6 AND status = 'running' AND lease_owner = $7 RETURNING {JOB_COLUMNS}"
        ))
        .bind(status.as_str())
        .bind(result)
        .bind(error)
        .bind(progress)
        .bind(db_time(now()))
        .bind(id)
        .bind(worker)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err("cannot finish a job"))?
        .ok_or_else(|| lease_lost(id, worker))?;
        job_from_row(&row)
    }

    async fn release_job(&self, id: Uuid, worker: &str) -> StoreResult<Job> {
        let row = sqlx::query(&format!(
            "UPDATE jobs SET status = 'queued', attempts = CASE WHEN attempts > 0 \
             THEN attempts - 1 ELSE 0 END, lease_owner = NULL, lease_expires_at = NULL, \
             updated_at = $1 WHERE id = $2 AND status = 'running' AND lease_owner = $3 \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(db_time(now()))
        .bind(id)
        .bind(worker)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err("cannot release a job"))?
        .ok_or_else(|| lease_lost(id, worker))?;
        job_from_row(&row)
    }

    async fn append_job_events(
        &self,
        id: Uuid,
        worker: &str,
        events: &[(String, serde_json::Value)],
    ) -> StoreResult<i64> {
        let mut tx = self
            .writer
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(db_err("cannot begin a transaction"))?;
        // Taking the job's row first (a no-op update) holds off a takeover or a cancel until
        // the events are in, and tells whether `worker` still holds the job.
        let held = sqlx::query(
            "UPDATE jobs SET updated_at = updated_at WHERE id = $1 AND status = 'running' \
             AND lease_owner = $2",
        )
        .bind(id)
        .bind(worker)
        .execute(&mut *tx)
        .await
        .map_err(db_err("cannot record job events"))?;
        if held.rows_affected() == 0 {
            return Err(lease_lost(id, worker));
        }
        let mut seq: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM job_events WHERE job_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err("cannot record job events"))?;
        let at = db_time(now());
        for (kind, data) in events {
            seq += 1;
            sqlx::query(
                "INSERT INTO job_events (job_id, seq, kind, data, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(seq)
            .bind(kind)
            .bind(Json(data))
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_err("cannot record job events"))?;
        }
        tx.commit()
            .await
            .map_err(db_err("cannot commit job events"))?;
        Ok(seq)
    }

    async fn job_events(&self, id: Uuid, after: i64, limit: u32) -> StoreResult<Vec<JobEvent>> {
        let rows = sqlx::query(
            "SELECT seq, kind, data, created_at FROM job_events WHERE job_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(id)
        .bind(after)
        .bind(i64::from(limit.clamp(1, MAX_EVENTS_PER_READ)))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot read job events"))?;
        if rows.is_empty() {
            // No events yet, or no such job: tell them apart.
            self.job(id).await?;
        }
        let read = db_err("cannot read a job event");
        rows.iter()
            .map(|row| {
                let data: Json<serde_json::Value> = row.try_get("data").map_err(&read)?;
                Ok(JobEvent {
                    seq: row.try_get("seq").map_err(&read)?,
                    kind: row.try_get("kind").map_err(&read)?,
                    data: data.0,
                    created_at: get_time(row, "created_at").map_err(&read)?,
                })
            })
            .collect()
    }

    async fn cancel_job(&self, id: Uuid) -> StoreResult<Job> {
        sqlx::query(
            "UPDATE jobs SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, \
             updated_at = $1 WHERE id = $2 AND status IN ('queued', 'running')",
        )
        .bind(db_time(now()))
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(db_err("cannot cancel a job"))?;
        self.job(id).await
    }
}

impl BackendStore {
    /// Re-encrypts under the current key every GitHub token stored under an older one, so
    /// that the older key can then be dropped from the configuration. Returns how many
    /// tokens were re-encrypted. A token changed meanwhile is left to its writer.
    pub async fn reencrypt_github_tokens(&self) -> StoreResult<u64> {
        let keys = self.keys()?;
        let rows = sqlx::query(
            "SELECT id, github_token_ciphertext, github_token_key_id FROM users \
             WHERE github_token_ciphertext IS NOT NULL AND github_token_key_id <> $1",
        )
        .bind(keys.current_id())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot read tokens"))?;
        let mut done = 0;
        for row in rows {
            let read = db_err("cannot read a token");
            let id: Uuid = row.try_get(0).map_err(&read)?;
            let stored: Vec<u8> = row.try_get(1).map_err(&read)?;
            let key_id: String = row.try_get(2).map_err(&read)?;
            let token = keys.decrypt(id, &key_id, &stored)?;
            let (sealed, new_id) = keys.encrypt(id, &token)?;
            let updated = sqlx::query(
                "UPDATE users SET github_token_ciphertext = $1, github_token_key_id = $2 \
                 WHERE id = $3 AND github_token_ciphertext = $4",
            )
            .bind(sealed)
            .bind(new_id)
            .bind(id)
            .bind(stored)
            .execute(&self.writer)
            .await
            .map_err(db_err("cannot re-encrypt a token"))?;
            done += updated.rows_affected();
        }
        Ok(done)
    }
}
