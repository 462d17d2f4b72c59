//! The SQLite store: one file, WAL journal, a busy timeout, foreign keys on, FTS5 for text
//! search. Times are stored as integer microseconds since the epoch.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use changelog_core::store::api_key::KeyGenerator;
use changelog_core::store::{
    ChangelogRecord, ChangelogSource, ChangelogStatus, StoreError, StoreResult,
};
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, SqlitePool};
use uuid::Uuid;

use crate::{Error, TokenKeys};

// The SQL shared with the other backend, compiled here against this backend's types.
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "common.rs"]
mod common;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "records.rs"]
mod records;

type Db = sqlx::Sqlite;
type DbRow = sqlx::sqlite::SqliteRow;
type BackendStore = SqliteStore;

/// The store on an SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The one connection that writes (a clone of `pool` for a database in memory).
    writer: SqlitePool,
    keys: Option<TokenKeys>,
    key_generator: KeyGenerator,
}

impl SqliteStore {
    /// Opens (with `?mode=rwc`, creates) the database at `url` (`sqlite://path`) and runs the
    /// migrations.
    pub async fn open(url: &str, keys: Option<TokenKeys>) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|source| Error::Connect {
                backend: "sqlite",
                location: None,
                source,
            })
            .map_err(|error| error.at_url(url))?;
        Self::open_with(options, keys)
            .await
            .map_err(|error| error.at_url(url))
    }

    /// Opens the database described by `options` (WAL, busy timeout and foreign keys are
    /// forced on) and runs the migrations.
    pub async fn open_with(
        options: SqliteConnectOptions,
        keys: Option<TokenKeys>,
    ) -> Result<Self, Error> {
        let in_memory = options
            .get_filename()
            .to_string_lossy()
            .contains(":memory:");
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        // Each connection to `:memory:` is its own database: keep to one, and never close it
        // (the pool would otherwise drop it when idle, and the data with it).
        let mut pool_options = SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { 8 })
            // A connection is a handle on a local file, served by a thread of its own: sqlx's
            // ping before each acquire (meant for network databases) only crosses to that
            // thread and back, and finds nothing that the statement itself would not.
            .test_before_acquire(false);
        if in_memory {
            pool_options = pool_options
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        // Several processes may open one new file at once; each would see no migration
        // applied and create the tables. They take turns: the first migrates, the others then
        // find the schema up to date.
        // (Not for databases in memory, which sqlx names `file:sqlx-in-memory-N`, nor for
        // other `file:` URIs, whose name is not a path.)
        let database = options.get_filename();
        let _turn = if in_memory || database.to_string_lossy().starts_with("file:") {
            None
        } else {
            MigrationLock::acquire(database).await?
        };
        let pool = pool_options
            .connect_with(options.clone())
            .await
            .map_err(|source| Error::Connect {
                backend: "sqlite",
                location: None,
                source,
            })?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        // SQLite lets one connection write at a time; the others would wait for the lock in
        // SQLite's busy handler, which polls with sleeps of up to 100 ms (a tail of seconds
        // under a burst of writes). Writes take turns on one connection instead, queued by the
        // pool and handed over the moment the previous one commits; reads keep the others.
        let writer = if in_memory {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .connect_with(options)
                .await
                .map_err(|source| Error::Connect {
                    backend: "sqlite",
                    location: None,
                    source,
                })?
        };
        Ok(Self {
            pool,
            writer,
            keys,
            key_generator: KeyGenerator::default(),
        })
    }

    /// The pool of reading connections, for what the traits do not cover.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The pool of the one writing connection.
    #[must_use]
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// Closes both pools, waiting for connections in use to come back.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
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

/// An exclusive lock on a file beside the database (`<file>-migrate.lock`), held while a
/// process connects and migrates; released when dropped (or when the process ends).
struct MigrationLock(File);

impl MigrationLock {
    /// How long an open waits for another process's migration.
    const PATIENCE: Duration = Duration::from_secs(120);

    /// Takes the lock, waiting (without blocking the async threads) while another process or
    /// another open in this process holds it. `None` when the lock file cannot be created
    /// (a read-only directory, where no migration can write either).
    async fn acquire(database: &Path) -> Result<Option<Self>, Error> {
        let mut name = database.as_os_str().to_owned();
        name.push("-migrate.lock");
        let path = PathBuf::from(name);
        let Ok(file) = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        else {
            return Ok(None);
        };
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(Self(file))),
                Err(TryLockError::WouldBlock) if started.elapsed() < Self::PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::MigrationLock {
                        path,
                        source: std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!(
                                "another process held it for more than {} s",
                                Self::PATIENCE.as_secs()
                            ),
                        ),
                    });
                }
                Err(TryLockError::Error(source)) => {
                    return Err(Error::MigrationLock { path, source });
                }
            }
        }
    }
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// SQLite has one writer at a time: a claim needs no row lock.
const CLAIM_LOCK: &str = "";

/// Write transactions take the write lock at `BEGIN`: a deferred transaction that has read
/// (even only the schema, on a fresh connection) cannot upgrade once another writer has
/// committed, and fails with `SQLITE_BUSY` without waiting for the busy timeout.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// How a listing's tag filter turns names into ids: an `IN` list that SQLite builds once per
/// statement and probes through the `(tag_id, changelog_id)` index, where the links of one tag
/// sit together. (With `= (SELECT ...)` it probes the `(changelog_id, tag_id)` key instead,
/// all over the file: 2.5x slower for a tag on 1.5% of 100,000 changelogs.)
const TAG_IDS: (&str, &str) = (" IN (", ")");

/// A page of changelogs comes back as one row: the number of changelogs, and their fields as
/// text, all joined by NUL characters, `PAGE_FIELDS` per changelog in `PageRow`'s order.
/// A statement's rows cross from SQLite's connection thread one at a time, each column value
/// copied and each row waking the reader, and for a page of 20 that was most of the cost of
/// listing (see benches/server_load.py). No stored text holds a NUL (`limits` refuses it), so
/// NUL can part the fields without escaping: SQLite copies each value once and this side
/// splits the text with `memchr`, where JSON (`json_array`) cost an escape on one side and an
/// unescape and a parse on the other (7% more listings a second without them). Texts start
/// with `=`, and a NULL where one may be is `-`: no field is ever empty, because `concat_ws`
/// leaves out NULL arguments and, in the SQLite built here (3.46), empty ones too. A NULL
/// where none may be would cost its changelog a field: the count in the first column catches
/// it. The cost is written with 17 digits, as text. The inner statement's order is the
/// aggregate's.
const PAGE_OPEN: &str = "SELECT count(*), group_concat(concat_ws(char(0), hex(c.id), \
    hex(c.owner_id), ifnull('=' || c.repository, '-'), '=' || c.title, \
    ifnull('=' || c.version, '-'), ifnull('=' || c.document, '-'), c.source, \
    ifnull('=' || c.commit_range, '-'), ifnull('=' || c.model, '-'), c.input_tokens, \
    c.output_tokens, printf('%!.17g', c.cost_usd), c.is_public, c.status, c.revision, \
    c.created_at, c.updated_at, c.tags, '=' || c.content), char(0)) FROM (";
const PAGE_CLOSE: &str = ") c";

/// A document left unread (`ChangelogQuery::skip_documents`).
const NO_DOCUMENT: &str = "NULL";

/// The fields of one changelog in a page (see `PAGE_OPEN`).
const PAGE_FIELDS: usize = 19;

/// One changelog of a page: its `PAGE_FIELDS` fields, as `PAGE_OPEN` writes them.
struct PageRow<'a>(&'a [&'a str]);

impl PageRow<'_> {
    fn into_record(self) -> StoreResult<ChangelogRecord> {
        let [
            id,
            owner_id,
            repository,
            title,
            version,
            document,
            source,
            commit_range,
            model,
            input_tokens,
            output_tokens,
            cost_usd,
            is_public,
            status,
            revision,
            created_at,
            updated_at,
            tags,
            content,
        ] = self.0
        else {
            return Err(page_error(format!(
                "{} fields where a changelog has {PAGE_FIELDS}",
                self.0.len()
            )));
        };
        let uuid = |hex: &str| {
            Uuid::parse_str(hex).map_err(|e| page_error(format!("the id `{hex}`: {e}")))
        };
        let int = |what: &str, text: &str| {
            text.parse::<i64>()
                .map_err(|e| page_error(format!("the {what} `{text}`: {e}")))
        };
        let time = |what: &str, text: &str| {
            let micros = int(what, text)?;
            DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| page_error(format!("{micros} microseconds is out of range")))
        };
        Ok(ChangelogRecord {
            id: uuid(id)?,
            owner_id: uuid(owner_id)?,
            repository: marked_or_null("repository", repository)?.map(str::to_owned),
            title: marked("title", title)?.to_owned(),
            version: marked_or_null("version", version)?.map(str::to_owned),
            content: marked("content", content)?.to_owned(),
            document: marked_or_null("document", document)?
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| page_error(format!("the document: {e}")))?,
            source: ChangelogSource::parse(source)?,
            commit_range: marked_or_null("commit range", commit_range)?.map(str::to_owned),
            model: marked_or_null("model", model)?.map(str::to_owned),
            input_tokens: int("input tokens", input_tokens)?,
            output_tokens: int("output tokens", output_tokens)?,
            cost_usd: cost_usd
                .parse()
                .map_err(|e| page_error(format!("the cost `{cost_usd}`: {e}")))?,
            is_public: int("is_public", is_public)? != 0,
            status: ChangelogStatus::parse(status)?,
            revision: int("revision", revision)?,
            created_at: time("creation time", created_at)?,
            updated_at: time("update time", updated_at)?,
            tags: serde_json::from_str(tags)
                .map_err(|e| page_error(format!("the tags `{tags}`: {e}")))?,
        })
    }
}

/// A text field of a page: its value, after the `=` that marks it.
fn marked<'a>(what: &str, field: &'a str) -> StoreResult<&'a str> {
    field
        .strip_prefix('=')
        .ok_or_else(|| page_error(format!("the {what} lacks its mark")))
}

/// A text field of a page that may be NULL (`-`).
fn marked_or_null<'a>(what: &str, field: &'a str) -> StoreResult<Option<&'a str>> {
    match field {
        "-" => Ok(None),
        _ => marked(what, field).map(Some),
    }
}

fn page_error(reason: String) -> StoreError {
    StoreError::backend(
        "cannot read a page of changelogs",
        std::io::Error::new(std::io::ErrorKind::InvalidData, reason),
    )
}

async fn fetch_page(
    mut qb: QueryBuilder<'_, Db>,
    pool: &SqlitePool,
) -> StoreResult<Vec<ChangelogRecord>> {
    let row = qb
        .build()
        .fetch_one(pool)
        .await
        .map_err(common::db_err("cannot list changelogs"))?;
    // The text is read where the row holds it; an empty page has none (NULL).
    let read = common::db_err("cannot list changelogs");
    let count: i64 = row.try_get(0).map_err(&read)?;
    let joined: Option<&str> = row.try_get(1).map_err(&read)?;
    let fields: Vec<&str> = joined.map_or_else(Vec::new, |joined| joined.split('\0').collect());
    let expected = usize::try_from(count).unwrap_or(usize::MAX);
    if fields.len() != expected.saturating_mul(PAGE_FIELDS) {
        return Err(page_error(format!(
            "{expected} changelogs but {} fields, not {PAGE_FIELDS} each: a text holds a NUL \
             character, which the store never writes, or a column that may not be NULL is",
            fields.len()
        )));
    }
    fields
        .chunks_exact(PAGE_FIELDS)
        .map(|fields| PageRow(fields).into_record())
        .collect()
}

fn db_time(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn get_time(row: &DbRow, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    let micros: i64 = row.try_get(column)?;
    DateTime::from_timestamp_micros(micros).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("{micros} microseconds is out of range").into(),
    })
}

fn get_optional_time(row: &DbRow, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let micros: Option<i64> = row.try_get(column)?;
    micros
        .map(|micros| {
            DateTime::from_timestamp_micros(micros).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: column.to_owned(),
                source: format!("{micros} microseconds is out of range").into(),
            })
        })
        .transpose()
}

/// FTS5: every term as a quoted string, so that no term is read as query syntax.
fn push_text_search(qb: &mut QueryBuilder<'_, Db>, terms: &[String]) {
    let query: Vec<String> = terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    qb.push(" AND c.seq IN (SELECT rowid FROM changelogs_fts WHERE changelogs_fts MATCH ")
        .push_bind(query.join(" "))
        .push(")");
}
