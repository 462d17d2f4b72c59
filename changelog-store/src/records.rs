//! The SQL of the records around changelogs (refresh tokens, repositories, annotations, usage,
//! the audit log, cached answers), shared by both backends like `common.rs` and compiled once
//! inside each backend module.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use changelog_core::store::annotation::{Annotation, AnnotationStore, check_body};
use changelog_core::store::api_key::hash_key;
use changelog_core::store::audit::{self, AuditEvent, AuditOutcome, AuditQuery, AuditStore};
use changelog_core::store::cache::CacheEntryStore;
use changelog_core::store::refresh::{
    IssuedRefreshToken, RefreshToken, RefreshTokenStore, Rotation, expiry, generate_secret,
};
use changelog_core::store::repository::{
    NewRepository, Repository, RepositoryProvider, RepositoryStore,
};
use changelog_core::store::usage::{UsageAmount, UsageDay, UsageStore};
use changelog_core::store::{NewAuditEvent, Page, StoreError, StoreResult, now};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use super::common::{db_err, not_found};
use super::{BEGIN_WRITE, BackendStore, Db, DbRow, db_time, get_optional_time, get_time};

type Tx<'c> = sqlx::Transaction<'c, Db>;

/// A driver error, where a foreign key violation means that `entity` `id` does not exist.
fn missing(
    entity: &'static str,
    id: Uuid,
    context: &'static str,
) -> impl Fn(sqlx::Error) -> StoreError {
    move |error| match error.as_database_error() {
        Some(db) if db.is_foreign_key_violation() => not_found(entity, id),
        _ => db_err(context)(error),
    }
}

async fn begin(store: &BackendStore) -> StoreResult<Tx<'_>> {
    store
        .writer
        .begin_with(BEGIN_WRITE)
        .await
        .map_err(db_err("cannot begin a transaction"))
}

// --- refresh tokens ---------------------------------------------------------------------

const REFRESH_COLUMNS: &str = "id, user_id, family_id, expires_at, used_at, revoked_at, created_at";

fn refresh_from_row(row: &DbRow) -> Result<RefreshToken, sqlx::Error> {
    Ok(RefreshToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        family_id: row.try_get("family_id")?,
        expires_at: get_time(row, "expires_at")?,
        used_at: get_optional_time(row, "used_at")?,
        revoked_at: get_optional_time(row, "revoked_at")?,
        created_at: get_time(row, "created_at")?,
    })
}

async fn insert_refresh_token(
    tx: &mut Tx<'_>,
    user_id: Uuid,
    family_id: Uuid,
    ttl: Duration,
) -> StoreResult<IssuedRefreshToken> {
    let secret = generate_secret();
    let at = now();
    let row = sqlx::query(&format!(
        "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {REFRESH_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(user_id)
    .bind(family_id)
    .bind(hash_key(&secret))
    .bind(db_time(expiry(at, ttl)))
    .bind(db_time(at))
    .fetch_one(&mut **tx)
    .await
    .map_err(missing("user", user_id, "cannot issue a refresh token"))?;
    let token = refresh_from_row(&row).map_err(db_err("cannot read a refresh token row"))?;
    Ok(IssuedRefreshToken { token, secret })
}

async fn revoke_tokens(
    executor: impl sqlx::Executor<'_, Database = Db>,
    column: &str,
    id: Uuid,
) -> StoreResult<u64> {
    // Counted: the tokens that could still have been exchanged (revoking used ones too).
    let live: Vec<bool> = sqlx::query_scalar(&format!(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE {column} = $2 AND revoked_at IS NULL \
         RETURNING used_at IS NULL"
    ))
    .bind(db_time(now()))
    .bind(id)
    .fetch_all(executor)
    .await
    .map_err(db_err("cannot revoke refresh tokens"))?;
    Ok(live.into_iter().filter(|&l| l).count() as u64)
}

#[async_trait]
impl RefreshTokenStore for BackendStore {
    async fn issue_refresh_token(
        &self,
        user_id: Uuid,
        ttl: Duration,
    ) -> StoreResult<IssuedRefreshToken> {
        let mut tx = begin(self).await?;
        let issued = insert_refresh_token(&mut tx, user_id, Uuid::new_v4(), ttl).await?;
        tx.commit()
            .await
            .map_err(db_err("cannot commit a refresh token"))?;
        Ok(issued)
    }

    async fn rotate_refresh_token(&self, secret: &str, ttl: Duration) -> StoreResult<Rotation> {
        let hash = hash_key(secret);
        let at = db_time(now());
        let mut tx = begin(self).await?;
        // First statement writes, so that SQLite holds its write lock before reading; on
        // PostgreSQL a concurrent exchange of the same token waits for this one and then
        // finds it used.
        let taken = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL \
             AND revoked_at IS NULL AND expires_at > $3 RETURNING user_id, family_id",
        )
        .bind(at)
        .bind(&hash)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err("cannot exchange a refresh token"))?;
        let rotation = if let Some(row) = taken {
            let read = db_err("cannot read a refresh token row");
            let user_id: Uuid = row.try_get("user_id").map_err(&read)?;
            let family_id: Uuid = row.try_get("family_id").map_err(&read)?;
            Rotation::Rotated(insert_refresh_token(&mut tx, user_id, family_id, ttl).await?)
        } else {
            let row = sqlx::query(&format!(
                "SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE token_hash = $1"
            ))
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err("cannot read a refresh token"))?;
            let token = row
                .as_ref()
                .map(refresh_from_row)
                .transpose()
                .map_err(db_err("cannot read a refresh token row"))?;
            match token {
                Some(token) if token.revoked_at.is_none() && token.used_at.is_some() => {
                    revoke_tokens(&mut *tx, "family_id", token.family_id).await?;
                    Rotation::Reused {
                        user_id: token.user_id,
                        family_id: token.family_id,
                    }
                }
                _ => Rotation::Rejected,
            }
        };
        tx.commit()
            .await
            .map_err(db_err("cannot commit a refresh token exchange"))?;
        Ok(rotation)
    }

    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<u64> {
        revoke_tokens(&self.writer, "family_id", family_id).await
    }

    async fn revoke_user_refresh_tokens(&self, user_id: Uuid) -> StoreResult<u64> {
        revoke_tokens(&self.writer, "user_id", user_id).await
    }

    async fn session_live(&self, family_id: Uuid) -> StoreResult<bool> {
        let live: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NULL LIMIT 1",
        )
        .bind(family_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("cannot read a sign-in"))?;
        Ok(live.is_some())
    }
}

// --- repositories -----------------------------------------------------------------------

const REPOSITORY_COLUMNS: &str = "id, owner_id, provider, external_id, name, full_name, url, \
    default_branch, last_synced_at, created_at, updated_at";

fn repository_from_row(row: &DbRow) -> StoreResult<Repository> {
    let read = db_err("cannot read a repository row");
    let provider: String = row.try_get("provider").map_err(&read)?;
    Ok(Repository {
        id: row.try_get("id").map_err(&read)?,
        owner_id: row.try_get("owner_id").map_err(&read)?,
        provider: RepositoryProvider::parse(&provider)?,
        external_id: row.try_get("external_id").map_err(&read)?,
        name: row.try_get("name").map_err(&read)?,
        full_name: row.try_get("full_name").map_err(&read)?,
        url: row.try_get("url").map_err(&read)?,
        default_branch: row.try_get("default_branch").map_err(&read)?,
        last_synced_at: get_optional_time(row, "last_synced_at").map_err(&read)?,
        created_at: get_time(row, "created_at").map_err(&read)?,
        updated_at: get_time(row, "updated_at").map_err(&read)?,
    })
}

#[async_trait]
impl RepositoryStore for BackendStore {
    async fn upsert_repository(&self, new: &NewRepository) -> StoreResult<Repository> {
        changelog_core::store::limits::check_new_repository(new)?;
        let at = db_time(now());
        let row = sqlx::query(&format!(
            "INSERT INTO repositories (id, owner_id, provider, external_id, name, full_name, url, \
             default_branch, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (owner_id, provider, full_name) DO UPDATE SET \
             external_id = excluded.external_id, name = excluded.name, url = excluded.url, \
             default_branch = excluded.default_branch, updated_at = excluded.updated_at \
             RETURNING {REPOSITORY_COLUMNS}"
        ))
        .bind(Uuid::new_v4())
        .bind(new.owner_id)
        .bind(new.provider.as_str())
        .bind(&new.external_id)
        .bind(&new.name)
        .bind(&new.full_name)
        .bind(&new.url)
        .bind(&new.default_branch)
        .bind(at)
        .bind(at)
        .fetch_one(&self.writer)
        .await
        .map_err(missing("user", new.owner_id, "cannot store a repository"))?;
        repository_from_row(&row)
    }

    async fn repository(&self, id: Uuid) -> StoreResult<Repository> {
        let row = sqlx::query(&format!(
            "SELECT {REPOSITORY_COLUMNS} FROM repositories WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("cannot read a repository"))?
        .ok_or_else(|| not_found("repository", id))?;
        repository_from_row(&row)
    }

    async fn repositories(&self, owner_id: Uuid) -> StoreResult<Vec<Repository>> {
        let rows = sqlx::query(&format!(
            "SELECT {REPOSITORY_COLUMNS} FROM repositories WHERE owner_id = $1 \
             ORDER BY full_name, provider"
        ))
        .bind(owner_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot list repositories"))?;
        rows.iter().map(repository_from_row).collect()
    }

    async fn mark_repository_synced(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<Repository> {
        let row = sqlx::query(&format!(
            "UPDATE repositories SET last_synced_at = $1, updated_at = $2 WHERE id = $3 \
             RETURNING {REPOSITORY_COLUMNS}"
        ))
        .bind(db_time(at))
        .bind(db_time(now()))
        .bind(id)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err("cannot record a repository sync"))?
        .ok_or_else(|| not_found("repository", id))?;
        repository_from_row(&row)
    }

    async fn delete_repository(&self, id: Uuid) -> StoreResult<()> {
        delete_by_id(self, "repositories", "repository", id).await
    }
}

async fn delete_by_id(
    store: &BackendStore,
    table: &'static str,
    entity: &'static str,
    id: Uuid,
) -> StoreResult<()> {
    let done = sqlx::query(&format!("DELETE FROM {table} WHERE id = $1"))
        .bind(id)
        .execute(&store.pool)
        .await
        .map_err(db_err("cannot delete a record"))?;
    if done.rows_affected() == 0 {
        return Err(not_found(entity, id));
    }
    Ok(())
}

// --- annotations ------------------------------------------------------------------------

const ANNOTATION_COLUMNS: &str = "id, changelog_id, user_id, body, created_at, updated_at";

fn annotation_from_row(row: &DbRow) -> Result<Annotation, sqlx::Error> {
    Ok(Annotation {
        id: row.try_get("id")?,
        changelog_id: row.try_get("changelog_id")?,
        user_id: row.try_get("user_id")?,
        body: row.try_get("body")?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

#[async_trait]
impl AnnotationStore for BackendStore {
    async fn add_annotation(
        &self,
        changelog_id: Uuid,
        user_id: Uuid,
        body: &str,
    ) -> StoreResult<Annotation> {
        check_body(body)?;
        let at = db_time(now());
        let inserted = sqlx::query(&format!(
            "INSERT INTO annotations (id, changelog_id, user_id, body, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ANNOTATION_COLUMNS}"
        ))
        .bind(Uuid::new_v4())
        .bind(changelog_id)
        .bind(user_id)
        .bind(body)
        .bind(at)
        .bind(at)
        .fetch_one(&self.writer)
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(error)
                if error
                    .as_database_error()
                    .is_some_and(|db| db.is_foreign_key_violation()) =>
            {
                // SQLite does not say which key failed: look.
                let exists: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM changelogs WHERE id = $1")
                        .bind(changelog_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err("cannot read a changelog"))?;
                return Err(match exists {
                    None => not_found("changelog", changelog_id),
                    Some(_) => not_found("user", user_id),
                });
            }
            Err(error) => return Err(db_err("cannot add an annotation")(error)),
        };
        annotation_from_row(&row).map_err(db_err("cannot read an annotation row"))
    }

    async fn annotations(&self, changelog_id: Uuid) -> StoreResult<Vec<Annotation>> {
        let rows = sqlx::query(&format!(
            "SELECT {ANNOTATION_COLUMNS} FROM annotations WHERE changelog_id = $1 \
             ORDER BY created_at, id"
        ))
        .bind(changelog_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot list annotations"))?;
        rows.iter()
            .map(annotation_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("cannot read an annotation row"))
    }

    async fn edit_annotation(&self, id: Uuid, body: &str) -> StoreResult<Annotation> {
        check_body(body)?;
        let row = sqlx::query(&format!(
            "UPDATE annotations SET body = $1, updated_at = $2 WHERE id = $3 \
             RETURNING {ANNOTATION_COLUMNS}"
        ))
        .bind(body)
        .bind(db_time(now()))
        .bind(id)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err("cannot edit an annotation"))?
        .ok_or_else(|| not_found("annotation", id))?;
        annotation_from_row(&row).map_err(db_err("cannot read an annotation row"))
    }

    async fn delete_annotation(&self, id: Uuid) -> StoreResult<()> {
        delete_by_id(self, "annotations", "annotation", id).await
    }
}

// --- usage ------------------------------------------------------------------------------

fn usage_from_row(row: &DbRow) -> Result<UsageDay, sqlx::Error> {
    Ok(UsageDay {
        user_id: row.try_get("user_id")?,
        day: row.try_get("day")?,
        amount: UsageAmount {
            requests: row.try_get("requests")?,
            input_tokens: row.try_get("input_tokens")?,
            output_tokens: row.try_get("output_tokens")?,
            cost_usd: row.try_get("cost_usd")?,
        },
    })
}

const USAGE_COLUMNS: &str = "user_id, day, requests, input_tokens, output_tokens, cost_usd";

#[async_trait]
impl UsageStore for BackendStore {
    async fn record_usage(
        &self,
        user_id: Uuid,
        day: NaiveDate,
        amount: &UsageAmount,
    ) -> StoreResult<UsageDay> {
        // One statement adds to the day's row, so concurrent requests are all counted.
        let row = sqlx::query(&format!(
            "INSERT INTO usage_daily ({USAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_id, day) DO UPDATE SET \
             requests = usage_daily.requests + excluded.requests, \
             input_tokens = usage_daily.input_tokens + excluded.input_tokens, \
             output_tokens = usage_daily.output_tokens + excluded.output_tokens, \
             cost_usd = usage_daily.cost_usd + excluded.cost_usd \
             RETURNING {USAGE_COLUMNS}"
        ))
        .bind(user_id)
        .bind(day)
        .bind(amount.requests)
        .bind(amount.input_tokens)
        .bind(amount.output_tokens)
        .bind(amount.cost_usd)
        .fetch_one(&self.writer)
        .await
        .map_err(missing("user", user_id, "cannot record usage"))?;
        usage_from_row(&row).map_err(db_err("cannot read a usage row"))
    }

    async fn usage(
        &self,
        user_id: Uuid,
        first: NaiveDate,
        last: NaiveDate,
    ) -> StoreResult<Vec<UsageDay>> {
        let rows = sqlx::query(&format!(
            "SELECT {USAGE_COLUMNS} FROM usage_daily WHERE user_id = $1 AND day >= $2 \
             AND day <= $3 ORDER BY day"
        ))
        .bind(user_id)
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot read usage"))?;
        rows.iter()
            .map(usage_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("cannot read a usage row"))
    }
}

// --- audit log --------------------------------------------------------------------------

const AUDIT_COLUMNS: &str = "id, actor_id, action, target, outcome, ip, user_agent, at";

fn audit_from_row(row: &DbRow) -> StoreResult<AuditEvent> {
    let read = db_err("cannot read an audit row");
    let outcome: String = row.try_get("outcome").map_err(&read)?;
    let ip: Option<String> = row.try_get("ip").map_err(&read)?;
    let ip = ip
        .map(|ip| {
            ip.parse::<IpAddr>().map_err(|_| StoreError::Invalid {
                what: "stored address",
                reason: format!("`{ip}` is not an IP address"),
            })
        })
        .transpose()?;
    Ok(AuditEvent {
        id: row.try_get("id").map_err(&read)?,
        actor_id: row.try_get("actor_id").map_err(&read)?,
        action: row.try_get("action").map_err(&read)?,
        target: row.try_get("target").map_err(&read)?,
        outcome: AuditOutcome::parse(&outcome)?,
        ip,
        user_agent: row.try_get("user_agent").map_err(&read)?,
        at: get_time(row, "at").map_err(&read)?,
    })
}

#[async_trait]
impl AuditStore for BackendStore {
    async fn record_audit(&self, event: &NewAuditEvent) -> StoreResult<AuditEvent> {
        let event = audit::checked(event)?;
        let row = sqlx::query(&format!(
            "INSERT INTO audit_events ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING {AUDIT_COLUMNS}"
        ))
        .bind(Uuid::new_v4())
        .bind(event.actor_id)
        .bind(&event.action)
        .bind(&event.target)
        .bind(event.outcome.as_str())
        .bind(event.ip.map(|ip| ip.to_string()))
        .bind(&event.user_agent)
        .bind(db_time(now()))
        .fetch_one(&self.writer)
        .await
        .map_err(db_err("cannot record an audit event"))?;
        audit_from_row(&row)
    }

    async fn audit_events(&self, query: &AuditQuery) -> StoreResult<Page<AuditEvent>> {
        let after = query.after()?;
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE 1 = 1"
        ));
        if let Some(actor) = query.actor_id {
            qb.push(" AND actor_id = ").push_bind(actor);
        }
        if let Some(action) = &query.action {
            qb.push(" AND action = ").push_bind(action.clone());
        }
        if let Some(target) = &query.target {
            qb.push(" AND target = ").push_bind(target.clone());
        }
        if let Some(since) = query.since {
            qb.push(" AND at >= ").push_bind(db_time(since));
        }
        if let Some(until) = query.until {
            qb.push(" AND at < ").push_bind(db_time(until));
        }
        if let Some((micros, id)) = after {
            let at =
                DateTime::from_timestamp_micros(micros).ok_or_else(|| StoreError::Invalid {
                    what: "cursor",
                    reason: "its time is out of range".into(),
                })?;
            qb.push(" AND (at, id) < (")
                .push_bind(db_time(at))
                .push(", ")
                .push_bind(id)
                .push(")");
        }
        let size = query.page_size();
        qb.push(" ORDER BY at DESC, id DESC LIMIT ")
            .push_bind(i64::from(size) + 1);
        let rows = qb
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("cannot list audit events"))?;
        let more = rows.len() > size as usize;
        let items = rows
            .iter()
            .take(size as usize)
            .map(audit_from_row)
            .collect::<StoreResult<_>>()?;
        Ok(Page::of_audit_events(items, more))
    }
}

// --- cached answers ---------------------------------------------------------------------

#[async_trait]
impl CacheEntryStore for BackendStore {
    async fn cache_entry(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<serde_json::Value>> {
        let value: Option<Json<serde_json::Value>> = sqlx::query_scalar(
            "SELECT value FROM llm_cache_entries WHERE key = $1 \
             AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(key)
        .bind(db_time(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("cannot read a cache entry"))?;
        Ok(value.map(|v| v.0))
    }

    async fn put_cache_entry(
        &self,
        key: &str,
        value: &serde_json::Value,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO llm_cache_entries (key, value, expires_at, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
             expires_at = excluded.expires_at, created_at = excluded.created_at",
        )
        .bind(key)
        .bind(Json(value))
        .bind(expires_at.map(db_time))
        .bind(db_time(now()))
        .execute(&self.writer)
        .await
        .map_err(db_err("cannot store a cache entry"))?;
        Ok(())
    }

    async fn purge_cache_entries(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM llm_cache_entries WHERE expires_at <= $1")
            .bind(db_time(now))
            .execute(&self.writer)
            .await
            .map_err(db_err("cannot purge cache entries"))?;
        Ok(done.rows_affected())
    }
}
