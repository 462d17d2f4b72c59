//! The PostgreSQL store, shared by several server instances; text search on a generated
//! `tsvector` column with a GIN index.

use std::str::FromStr;
use std::time::Duration;

use changelog_core::store::api_key::KeyGenerator;
use changelog_core::store::{ChangelogRecord, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, QueryBuilder, Row};

use crate::{Error, TokenKeys};

// The SQL shared with the other backend, compiled here against this backend's types.
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "common.rs"]
mod common;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "records.rs"]
mod records;

type Db = sqlx::Postgres;
type DbRow = sqlx::postgres::PgRow;
type BackendStore = PgStore;

/// The store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The same pool: PostgreSQL takes concurrent writers.
    writer: PgPool,
    keys: Option<TokenKeys>,
    key_generator: KeyGenerator,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host/db`) and runs the migrations.
    pub async fn open(url: &str, keys: Option<TokenKeys>) -> Result<Self, Error> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|source| Error::Connect {
                backend: "postgres",
                location: None,
                source,
            })
            .map_err(|error| error.at_url(url))?;
        Self::open_with(options, keys)
            .await
            .map_err(|error| error.at_url(url))
    }

    /// Connects with `options` (for example with a `search_path`) and runs the migrations.
    pub async fn open_with(
        options: PgConnectOptions,
        keys: Option<TokenKeys>,
    ) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|source| Error::Connect {
                backend: "postgres",
                location: None,
                source,
            })?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self {
            writer: pool.clone(),
            pool,
            keys,
            key_generator: KeyGenerator::default(),
        })
    }

    /// The connection pool, for what the traits do not cover.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The same store drawing new API keys from `generator`.
    #[must_use]
    pub fn with_key_generator(mut self, generator: KeyGenerator) -> Self {
        self.key_generator = generator;
        self
    }

    fn keys(&self) -> Result<&TokenKeys, StoreError> {
        self.keys.as_ref().ok_or_else(crate::no_keys)
    }
}

/// Claimers skip the rows another claimer has locked instead of waiting for them.
const CLAIM_LOCK: &str = " FOR UPDATE SKIP LOCKED";

/// Write transactions: row locks and `WHERE revision = ...` do the work; nothing special.
const BEGIN_WRITE: &str = "BEGIN";

/// How a listing's tag filter turns names into ids: an array computed once per statement (an
/// init plan), so that each candidate row costs one probe of the `(changelog_id, tag_id)` key.
/// PostgreSQL turns `IN (SELECT ...)` into a join that looks `tags` up again for every link of
/// every candidate: 2x slower for a tag on 1.5% of 100,000 changelogs.
const TAG_IDS: (&str, &str) = (" = ANY (ARRAY(", "))");

/// A page of changelogs is the rows of the listing's statement, as they are.
const PAGE_OPEN: &str = "";
const PAGE_CLOSE: &str = "";

/// A document left unread (`ChangelogQuery::skip_documents`), typed as the column is.
const NO_DOCUMENT: &str = "NULL::jsonb";

async fn fetch_page(
    mut qb: QueryBuilder<'_, Db>,
    pool: &PgPool,
) -> StoreResult<Vec<ChangelogRecord>> {
    let rows = qb
        .build()
        .fetch_all(pool)
        .await
        .map_err(common::db_err("cannot list changelogs"))?;
    rows.iter().map(common::record_from_row).collect()
}

fn db_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at
}

fn get_time(row: &DbRow, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    row.try_get(column)
}

fn get_optional_time(row: &DbRow, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    row.try_get(column)
}

/// Every term must occur; the terms are plain words, so `plainto_tsquery` ANDs them.
fn push_text_search(qb: &mut QueryBuilder<'_, Db>, terms: &[String]) {
    qb.push(" AND c.search @@ plainto_tsquery('simple', ")
        .push_bind(terms.join(" "))
        .push(")");
}
