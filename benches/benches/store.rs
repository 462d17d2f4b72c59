//! The store at scale: 100,000 changelogs over 100 users and 50 tags, on SQLite and
//! PostgreSQL. It measures insert throughput through `create_changelog` (the real write path:
//! one transaction with the row, its tags and its first kept version) and the latency (p50,
//! p99) of listing the first page and a page 1,000 pages deep under a tag filter, reached by
//! keyset cursor, next to the same pages read with `LIMIT 20 OFFSET n`.
//!
//! `cargo bench -p changelog-benches --bench store` (a plain harness: one table at the end).
//! Options after `--`: `--rows N`, `--backend sqlite|postgres|both`, `--writers N`,
//! `--samples N`, `--depth PAGES`, `--quick`, `--check`, `--keep`; see `benches/README.md`.
//! PostgreSQL is at `CHANGELOG_BENCH_DATABASE_URL` (else `CHANGELOG_TEST_DATABASE_URL`), in a
//! fresh schema that is dropped at the end; SQLite is a file in a temporary directory.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use changelog_benches::synthetic_commits;
use changelog_core::store::{
    ChangelogQuery, ChangelogSource, NewChangelog, NewUser, Storage, TagMatch,
};
use changelog_core::{BuildOptions, Changelog, History, build, render};
use changelog_store::postgres::PgStore;
use changelog_store::sqlite::SqliteStore;
use chrono::Utc;
use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

const USERS: usize = 100;

/// The 50 tags, most used first: a changelog draws one to five of them with weights 1/rank.
#[rustfmt::skip]
const TAGS: [&str; 50] = [
    "api", "cli", "security", "performance", "docs", "breaking", "deps", "ui", "backend",
    "frontend", "database", "auth", "ci", "build", "tests", "refactor", "release", "hotfix",
    "infra", "mobile", "web", "config", "logging", "monitoring", "i18n", "accessibility", "storage",
    "network", "cache", "search", "billing", "notifications", "admin", "sdk", "plugins",
    "migrations", "observability", "compliance", "experimental", "deprecated", "windows", "macos",
    "linux", "arm64", "docker", "kubernetes", "python", "rust", "wasm", "embedded",
];

/// The filter of the deep listing: the second most used tag, on about 31% of changelogs, so
/// that 100,000 changelogs give some 31,000 matches, more than the 20,000 of 1,000 pages.
const FILTER_TAG: &str = TAGS[1];

/// The least used tag (about 1.5%): a first page under it cannot come from the first rows in
/// creation order alone.
const RARE_TAG: &str = TAGS[49];

const PROJECTS: [&str; 3] = ["server", "client", "sdk"];

const PAGE: usize = 20;

/// The LIMIT/OFFSET baseline: the store's columns (the document left out, as the listings
/// leave it), filter and order as one plain statement,
/// the tag probe written as the store writes it on each backend (`TAG_IDS` in
/// `changelog-store`), so that only the way to the page differs. The offset is written into
/// the statement, as a page number from a URL would be, so that PostgreSQL plans for it rather
/// than for an unknown parameter.
fn offset_query(kind: BackendKind, offset: usize) -> String {
    let tag_ids = match kind {
        BackendKind::Sqlite => "IN (SELECT id FROM tags WHERE name = $1)",
        BackendKind::Postgres => "= ANY (ARRAY(SELECT id FROM tags WHERE name = $1))",
    };
    format!(
        "SELECT c.id, c.owner_id, c.repository, c.title, c.version, c.content, NULL AS document, \
         c.source, c.commit_range, c.model, c.input_tokens, c.output_tokens, c.cost_usd, \
         c.is_public, c.revision, c.created_at, c.updated_at FROM changelogs c \
         WHERE EXISTS (SELECT 1 FROM changelog_tags ct WHERE ct.changelog_id = c.id \
         AND ct.tag_id {tag_ids}) \
         ORDER BY c.created_at DESC, c.id DESC LIMIT {PAGE} OFFSET {offset}"
    )
}

const TAG_COUNT_QUERY: &str = "SELECT COUNT(*) FROM changelog_tags ct \
    JOIN tags t ON t.id = ct.tag_id WHERE t.name = $1";

#[expect(clippy::print_stdout, reason = "a benchmark reports on its terminal")]
fn main() -> Result<()> {
    let args = Args::parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let corpus = Arc::new(Corpus::new());
    progress(&format!(
        "corpus: {} bodies; {}",
        corpus.bodies.len(),
        corpus.sizes()
    ));
    let mut reports = Vec::new();
    for kind in &args.backends {
        reports.push(runtime.block_on(run(*kind, &args, &corpus))?);
    }
    if reports.is_empty() {
        bail!("no backend to run");
    }
    let table = render_table(&args, &corpus, &reports);
    println!("{table}");
    let missed = missed_targets(&reports);
    for miss in &missed {
        println!("target missed: {miss}");
    }
    if args.check && !missed.is_empty() {
        bail!("{} target(s) missed", missed.len());
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BackendKind {
    Sqlite,
    Postgres,
}

impl BackendKind {
    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }

    /// Concurrent writers by default: SQLite takes one writer at a time (`BEGIN IMMEDIATE`),
    /// so more only queue on its lock; PostgreSQL overlaps transactions on its pool.
    fn default_writers(self) -> usize {
        match self {
            Self::Sqlite => 1,
            Self::Postgres => 8,
        }
    }
}

struct Args {
    rows: usize,
    backends: Vec<BackendKind>,
    pg_url: Option<String>,
    writers: Option<usize>,
    samples: usize,
    depth: usize,
    check: bool,
    keep: bool,
}

impl Args {
    fn parse() -> Result<Self> {
        let mut raw: Vec<String> = std::env::args().skip(1).collect();
        // `cargo bench` passes `--bench`; without it (`cargo test --benches`) run a smoke test.
        let benching = raw.iter().any(|a| a == "--bench");
        raw.retain(|a| a != "--bench");
        let mut args = Self {
            rows: if benching { 100_000 } else { 2_000 },
            backends: Vec::new(),
            pg_url: std::env::var("CHANGELOG_BENCH_DATABASE_URL")
                .or_else(|_| std::env::var("CHANGELOG_TEST_DATABASE_URL"))
                .ok(),
            writers: None,
            samples: if benching { 500 } else { 30 },
            depth: 1_000,
            check: false,
            keep: false,
        };
        let mut backend = "both".to_owned();
        let mut raw = raw.into_iter();
        while let Some(arg) = raw.next() {
            let mut value =
                |name: &str| raw.next().with_context(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--rows" => args.rows = value("--rows")?.parse().context("--rows")?,
                "--backend" => backend = value("--backend")?,
                "--writers" => {
                    args.writers = Some(value("--writers")?.parse().context("--writers")?);
                }
                "--samples" => args.samples = value("--samples")?.parse().context("--samples")?,
                "--depth" => args.depth = value("--depth")?.parse().context("--depth")?,
                "--quick" => args.samples = 30,
                "--check" => args.check = true,
                "--keep" => args.keep = true,
                other => bail!(
                    "unknown argument `{other}` (expected --rows N, --backend sqlite|postgres|both, \
                     --writers N, --samples N, --depth PAGES, --quick, --check, --keep)"
                ),
            }
        }
        ensure!(args.rows >= USERS, "--rows must be at least {USERS}");
        ensure!(
            args.samples > 0 && args.depth > 0,
            "--samples and --depth must be positive"
        );
        args.backends = match backend.as_str() {
            "sqlite" => vec![BackendKind::Sqlite],
            "postgres" => {
                ensure!(
                    args.pg_url.is_some(),
                    "--backend postgres needs CHANGELOG_BENCH_DATABASE_URL or CHANGELOG_TEST_DATABASE_URL"
                );
                vec![BackendKind::Postgres]
            }
            "both" if args.pg_url.is_some() => vec![BackendKind::Sqlite, BackendKind::Postgres],
            "both" => {
                progress(
                    "neither CHANGELOG_BENCH_DATABASE_URL nor CHANGELOG_TEST_DATABASE_URL is set: \
                     PostgreSQL is skipped",
                );
                vec![BackendKind::Sqlite]
            }
            other => bail!("unknown backend `{other}` (sqlite, postgres or both)"),
        };
        Ok(args)
    }
}

#[expect(
    clippy::print_stderr,
    reason = "progress of a long benchmark, apart from its table"
)]
fn progress(message: &str) {
    eprintln!("[store bench] {message}");
}

/// A small deterministic generator (SplitMix64), seeded per row so rows can be made in any
/// order by any writer.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    fn percent(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// One changelog body: the Markdown and the document it was rendered from.
struct Body {
    markdown: String,
    document: Changelog,
}

/// What the rows are made of. Bodies are built from synthetic commits (2 to 41 per release) by
/// the real build and render path, and shared between rows, so that 100,000 rows need not be
/// held in memory at once.
struct Corpus {
    bodies: Vec<Body>,
    /// Running sums of the tag weights (1/rank).
    tag_weights: Vec<f64>,
}

impl Corpus {
    fn new() -> Self {
        let commits = synthetic_commits(8_000);
        let mut rng = Rng(7);
        let bodies = (0..256)
            .map(|_| {
                let count = 2 + rng.below(40);
                let start = rng.below(commits.len() - count);
                let history = History {
                    range: None,
                    commits: commits[start..start + count].to_vec(),
                    repository: None,
                };
                let document = build(history, &BuildOptions::default());
                Body {
                    markdown: render::markdown(&document),
                    document,
                }
            })
            .collect();
        let mut total = 0.0;
        let tag_weights = (1..=TAGS.len())
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Self {
            bodies,
            tag_weights,
        }
    }

    /// What the bodies weigh: the smallest, average and largest Markdown, and the average
    /// document (as JSON), in KB.
    fn sizes(&self) -> String {
        let kb = |bytes: usize| bytes as f64 / 1024.0;
        let markdown: Vec<usize> = self.bodies.iter().map(|b| b.markdown.len()).collect();
        let documents: usize = self
            .bodies
            .iter()
            .map(|b| render::json(&b.document).map_or(0, |j| j.len()))
            .sum();
        format!(
            "Markdown {:.1} to {:.1} KB ({:.1} on average), document {:.1} KB on average",
            kb(markdown.iter().copied().min().unwrap_or(0)),
            kb(markdown.iter().copied().max().unwrap_or(0)),
            kb(markdown.iter().sum::<usize>()) / markdown.len() as f64,
            kb(documents) / self.bodies.len() as f64
        )
    }

    /// One to five distinct tags, drawn with weights 1/rank.
    fn tags(&self, rng: &mut Rng) -> Vec<String> {
        let count = 1 + rng.below(5);
        let total = self.tag_weights.last().copied().unwrap_or(1.0);
        let mut tags: Vec<String> = Vec::with_capacity(count);
        while tags.len() < count {
            let point = rng.unit() * total;
            let rank = self
                .tag_weights
                .partition_point(|&w| w < point)
                .min(TAGS.len() - 1);
            let tag = TAGS[rank];
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        }
        tags
    }

    /// The `index`th changelog: an owner among `owners`, one of the owner's three
    /// repositories, a version (3% without, 5% release candidates), 85% generated (with their
    /// document), 70% public.
    fn changelog(&self, index: usize, owners: &[Uuid]) -> NewChangelog {
        let mut rng = Rng(0x5eed_0000_0000 ^ index as u64);
        let owner = rng.below(owners.len());
        let repository = format!(
            "github.com/team-{owner:02}/{}",
            PROJECTS[rng.below(PROJECTS.len())]
        );
        let version = (!rng.percent(3)).then(|| {
            let mut version = format!("v{}.{}.{}", rng.below(4), rng.below(40), rng.below(15));
            if rng.percent(5) {
                version.push_str(&format!("-rc.{}", 1 + rng.below(3)));
            }
            version
        });
        let body = &self.bodies[rng.below(self.bodies.len())];
        let generated = !rng.percent(15);
        let title = format!(
            "{repository} {}",
            version.as_deref().unwrap_or("unreleased")
        );
        let input_tokens = i64::try_from(2_000 + rng.below(30_000)).unwrap_or(0);
        NewChangelog {
            owner_id: owners[owner],
            repository: Some(repository),
            title,
            commit_range: generated.then(|| format!("v1.{}.0..HEAD", rng.below(40))),
            version,
            content: body.markdown.clone(),
            document: generated.then(|| body.document.clone()),
            source: if generated {
                ChangelogSource::Git
            } else {
                ChangelogSource::Manual
            },
            model: generated.then(|| "gpt-4o-mini".to_owned()),
            input_tokens: if generated { input_tokens } else { 0 },
            output_tokens: if generated { input_tokens / 8 } else { 0 },
            cost_usd: if generated {
                input_tokens as f64 * 1.5e-7
            } else {
                0.0
            },
            is_public: rng.percent(70),
            tags: self.tags(&mut rng),
            ..NewChangelog::default()
        }
    }
}

/// A store under benchmark and what the bench needs underneath it.
enum Backend {
    Sqlite {
        store: SqliteStore,
        dir: tempfile::TempDir,
    },
    Postgres {
        store: PgStore,
        url: String,
        schema: String,
    },
}

impl Backend {
    async fn open(kind: BackendKind, args: &Args) -> Result<Self> {
        match kind {
            BackendKind::Sqlite => {
                let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                let store = SqliteStore::open(&url, None)
                    .await
                    .context("cannot open SQLite")?;
                Ok(Self::Sqlite { store, dir })
            }
            BackendKind::Postgres => {
                let url = args.pg_url.clone().context("no PostgreSQL URL")?;
                let schema = format!("bench_{}", Uuid::new_v4().simple());
                let mut admin = sqlx::PgConnection::connect(&url)
                    .await
                    .context("cannot reach PostgreSQL")?;
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut admin)
                    .await
                    .context("cannot create the bench schema")?;
                admin.close().await.ok();
                let options = PgConnectOptions::from_str(&url)
                    .context("PostgreSQL URL")?
                    .options([("search_path", schema.as_str())]);
                match PgStore::open_with(options, None).await {
                    Ok(store) => Ok(Self::Postgres { store, url, schema }),
                    Err(error) => {
                        drop_schema(&url, &schema).await;
                        Err(error).context("cannot open PostgreSQL")
                    }
                }
            }
        }
    }

    fn storage(&self) -> Arc<dyn Storage> {
        match self {
            Self::Sqlite { store, .. } => Arc::new(store.clone()),
            Self::Postgres { store, .. } => Arc::new(store.clone()),
        }
    }

    /// Spreads creation times evenly over the year before now, keeping their order (the store
    /// stamps rows with the time of the insert, so they all fall within the seeding run).
    async fn spread_times(&self, rows: usize) -> Result<()> {
        let step = 365 * 24 * 3600 * 1_000_000 / i64::try_from(rows).unwrap_or(1);
        let start = Utc::now() - chrono::Duration::days(365);
        match self {
            Self::Sqlite { store, .. } => {
                sqlx::query(
                    "UPDATE changelogs SET created_at = $1 + n * $2, updated_at = $1 + n * $2 \
                     FROM (SELECT seq AS s, row_number() OVER (ORDER BY created_at, id) - 1 AS n \
                     FROM changelogs) WHERE seq = s",
                )
                .bind(start.timestamp_micros())
                .bind(step)
                .execute(store.pool())
                .await?;
            }
            Self::Postgres { store, .. } => {
                sqlx::query(
                    "UPDATE changelogs c SET \
                     created_at = $1 + r.n * $2 * INTERVAL '1 microsecond', \
                     updated_at = $1 + r.n * $2 * INTERVAL '1 microsecond' \
                     FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) - 1 AS n \
                     FROM changelogs) r WHERE r.id = c.id",
                )
                .bind(start)
                .bind(step)
                .execute(store.pool())
                .await?;
            }
        }
        Ok(())
    }

    /// On PostgreSQL, `VACUUM ANALYZE`, as autovacuum would do on a live server after the
    /// seeding and the rewrite of creation times. Nothing on SQLite: the store never runs
    /// `ANALYZE` there, and the plans of these listings are the same without statistics.
    async fn settle(&self) -> Result<()> {
        if let Self::Postgres { store, .. } = self {
            sqlx::query("VACUUM ANALYZE changelogs, changelog_tags, tags, changelog_versions")
                .execute(store.pool())
                .await?;
        }
        Ok(())
    }

    async fn tag_count(&self, tag: &str) -> Result<usize> {
        let count: i64 = match self {
            Self::Sqlite { store, .. } => {
                sqlx::query_scalar(TAG_COUNT_QUERY)
                    .bind(tag)
                    .fetch_one(store.pool())
                    .await?
            }
            Self::Postgres { store, .. } => {
                sqlx::query_scalar(TAG_COUNT_QUERY)
                    .bind(tag)
                    .fetch_one(store.pool())
                    .await?
            }
        };
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// The ids of the baseline's page at `offset` (rows are fetched whole, not decoded).
    async fn offset_page(&self, tag: &str, offset: usize) -> Result<Vec<Uuid>> {
        let ids = match self {
            Self::Sqlite { store, .. } => {
                let sql = offset_query(BackendKind::Sqlite, offset);
                let rows = sqlx::query(&sql).bind(tag).fetch_all(store.pool()).await?;
                rows.iter()
                    .map(|row| sqlx::Row::try_get(row, 0))
                    .collect::<Result<_, _>>()?
            }
            Self::Postgres { store, .. } => {
                let sql = offset_query(BackendKind::Postgres, offset);
                let rows = sqlx::query(&sql).bind(tag).fetch_all(store.pool()).await?;
                rows.iter()
                    .map(|row| sqlx::Row::try_get(row, 0))
                    .collect::<Result<_, _>>()?
            }
        };
        Ok(ids)
    }

    /// Closes the store; drops its schema or file unless `keep`, for a look underneath.
    async fn close(self, keep: bool) {
        match self {
            Self::Sqlite { store, dir } => {
                store.close().await;
                if keep {
                    let path = dir.keep().join("bench.db");
                    progress(&format!("SQLite database kept at {}", path.display()));
                }
            }
            Self::Postgres { store, url, schema } => {
                store.pool().close().await;
                if keep {
                    progress(&format!("PostgreSQL schema kept: {schema}"));
                } else {
                    drop_schema(&url, &schema).await;
                }
            }
        }
    }
}

async fn drop_schema(url: &str, schema: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(url).await {
        let dropped = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin)
            .await;
        if let Err(error) = dropped {
            progress(&format!("cannot drop schema {schema}: {error}"));
        }
    }
}

/// What is timed, round-robin, so that all of them see the same machine load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    FirstPage,
    FirstPageTag,
    DeepPageTag,
    FirstPageRareTag,
    OffsetFirst,
    OffsetDeep,
}

const CASES: [Case; 6] = [
    Case::FirstPage,
    Case::FirstPageTag,
    Case::DeepPageTag,
    Case::FirstPageRareTag,
    Case::OffsetFirst,
    Case::OffsetDeep,
];

/// Timed calls to a listing come in blocks of this many, each after [`WARMUP`] untimed ones.
const BLOCK: usize = 50;
const WARMUP: usize = 5;

/// The listings that are timed.
struct Listings {
    first: ChangelogQuery,
    first_tag: ChangelogQuery,
    deep: ChangelogQuery,
    first_rare: ChangelogQuery,
    deep_offset: usize,
}

impl Listings {
    /// Runs one listing; returns how many rows it read.
    async fn run(
        &self,
        case: Case,
        storage: &Arc<dyn Storage>,
        backend: &Backend,
    ) -> Result<usize> {
        Ok(match case {
            Case::FirstPage => storage.list_changelogs(&self.first).await?.items.len(),
            Case::FirstPageTag => storage.list_changelogs(&self.first_tag).await?.items.len(),
            Case::DeepPageTag => storage.list_changelogs(&self.deep).await?.items.len(),
            Case::FirstPageRareTag => storage.list_changelogs(&self.first_rare).await?.items.len(),
            Case::OffsetFirst => backend.offset_page(FILTER_TAG, 0).await?.len(),
            Case::OffsetDeep => backend
                .offset_page(FILTER_TAG, self.deep_offset)
                .await?
                .len(),
        })
    }
}

struct Report {
    backend: BackendKind,
    rows: usize,
    writers: usize,
    insert: Duration,
    filtered: usize,
    rare: usize,
    /// The page timed as "deep", 1-based (1,000 unless the listing is shorter).
    deep_page: usize,
    /// Sorted samples, per case in the order of [`CASES`].
    samples: Vec<Vec<Duration>>,
}

impl Report {
    fn samples(&self, case: Case) -> &[Duration] {
        let index = CASES.iter().position(|c| *c == case).unwrap_or(0);
        &self.samples[index]
    }

    fn p50(&self, case: Case) -> Duration {
        percentile(self.samples(case), 50.0)
    }

    fn p99(&self, case: Case) -> Duration {
        percentile(self.samples(case), 99.0)
    }

    fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.insert.as_secs_f64()
    }
}

fn percentile(sorted: &[Duration], percent: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn run(kind: BackendKind, args: &Args, corpus: &Arc<Corpus>) -> Result<Report> {
    progress(&format!("{}: opening", kind.name()));
    let backend = Backend::open(kind, args).await?;
    let result = measure(kind, &backend, args, corpus).await;
    backend.close(args.keep).await;
    result
}

async fn measure(
    kind: BackendKind,
    backend: &Backend,
    args: &Args,
    corpus: &Arc<Corpus>,
) -> Result<Report> {
    let storage = backend.storage();
    let mut owners = Vec::with_capacity(USERS);
    for user in 0..USERS {
        let created = storage
            .create_user(&NewUser {
                username: format!("user{user:03}"),
                email: format!("user{user:03}@example.com"),
                ..NewUser::default()
            })
            .await?;
        owners.push(created.id);
    }

    // Insert throughput: every row through the store's own write path.
    let writers = args.writers.unwrap_or_else(|| kind.default_writers());
    progress(&format!(
        "{}: inserting {} changelogs with {writers} writer(s)",
        kind.name(),
        args.rows
    ));
    let insert = insert_all(&storage, corpus, &owners, args.rows, writers).await?;
    progress(&format!(
        "{}: {} rows in {:.1} s",
        kind.name(),
        args.rows,
        insert.as_secs_f64()
    ));

    backend.spread_times(args.rows).await?;
    backend.settle().await?;
    let filtered = backend.tag_count(FILTER_TAG).await?;
    let rare = backend.tag_count(RARE_TAG).await?;

    // As the API lists: the Markdown without the documents.
    let listing = ChangelogQuery {
        skip_documents: true,
        ..ChangelogQuery::default()
    };
    // The cursor of the deep page, walked to once.
    let tagged = |tag: &str, cursor: Option<String>| ChangelogQuery {
        tags: vec![tag.to_owned()],
        tag_match: TagMatch::Any,
        cursor,
        ..listing.clone()
    };
    // The deepest full page up to `--depth`, so that the deep page reads as many rows as the
    // first.
    let target = args.depth.min(filtered / PAGE).max(1);
    if target < args.depth {
        progress(&format!(
            "{}: the `{FILTER_TAG}` listing has {target} full pages only: timing page {target}",
            kind.name()
        ));
    }
    let mut deep_page = 1;
    let mut deep_cursor = None;
    while deep_page < target {
        let page = storage
            .list_changelogs(&tagged(FILTER_TAG, deep_cursor.clone()))
            .await?;
        deep_cursor = Some(
            page.next_cursor
                .with_context(|| format!("the `{FILTER_TAG}` listing ends at page {deep_page}"))?,
        );
        deep_page += 1;
    }
    let deep_offset = (deep_page - 1) * PAGE;

    // Both ways must read the same rows.
    let keyset: Vec<Uuid> = storage
        .list_changelogs(&tagged(FILTER_TAG, deep_cursor.clone()))
        .await?
        .items
        .iter()
        .map(|r| r.id)
        .collect();
    let offset = backend.offset_page(FILTER_TAG, deep_offset).await?;
    ensure!(
        keyset == offset,
        "page {deep_page} differs between the cursor and OFFSET {deep_offset}"
    );

    progress(&format!(
        "{}: timing {} calls of each of {} listings",
        kind.name(),
        args.samples,
        CASES.len()
    ));
    let listings = Listings {
        first: listing.clone(),
        first_tag: tagged(FILTER_TAG, None),
        deep: tagged(FILTER_TAG, deep_cursor),
        first_rare: tagged(RARE_TAG, None),
        deep_offset,
    };
    // Blocks of calls to one listing take turns: a listing finds its own pages in cache, as
    // when users repeat it, and a burst of load on the machine spreads over all listings.
    let mut samples = vec![Vec::with_capacity(args.samples); CASES.len()];
    let mut left = args.samples;
    while left > 0 {
        let block = left.min(BLOCK);
        for (case, times) in CASES.iter().zip(&mut samples) {
            for call in 0..WARMUP + block {
                let started = Instant::now();
                let rows = listings.run(*case, &storage, backend).await?;
                let elapsed = started.elapsed();
                ensure!(rows > 0, "{case:?} returned no rows");
                if call >= WARMUP {
                    times.push(elapsed);
                }
            }
        }
        left -= block;
    }
    for times in &mut samples {
        times.sort();
    }
    Ok(Report {
        backend: kind,
        rows: args.rows,
        writers,
        insert,
        filtered,
        rare,
        deep_page,
        samples,
    })
}

/// Inserts `rows` changelogs through `create_changelog` from `writers` concurrent tasks.
async fn insert_all(
    storage: &Arc<dyn Storage>,
    corpus: &Arc<Corpus>,
    owners: &[Uuid],
    rows: usize,
    writers: usize,
) -> Result<Duration> {
    let next = Arc::new(AtomicUsize::new(0));
    let owners: Arc<[Uuid]> = owners.into();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..writers.max(1) {
        let (storage, corpus, owners, next) = (
            Arc::clone(storage),
            Arc::clone(corpus),
            Arc::clone(&owners),
            Arc::clone(&next),
        );
        tasks.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= rows {
                    return anyhow::Ok(());
                }
                let changelog = corpus.changelog(index, &owners);
                storage.create_changelog(&changelog).await?;
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.context("a writer panicked")??;
    }
    Ok(started.elapsed())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn render_table(args: &Args, corpus: &Corpus, reports: &[Report]) -> String {
    let mut lines = Vec::new();
    let first = &reports[0];
    lines.push(format!(
        "store bench: {} changelogs, {USERS} users, {} tags (1 to 5 each); {}",
        first.rows,
        TAGS.len(),
        corpus.sizes()
    ));
    lines.push(
        "insert: every row through create_changelog (one transaction each), from concurrent \
         writers"
            .to_owned(),
    );
    lines.push(format!(
        "tag filter `{FILTER_TAG}`: {} changelogs; rare tag `{RARE_TAG}`: {}; deep page = page \
         {} ({} rows before it)",
        first.filtered,
        first.rare,
        first.deep_page,
        (first.deep_page - 1) * PAGE
    ));
    lines.push(format!(
        "listings: page size {PAGE}; {} calls each, in blocks of {} after {WARMUP} untimed; \
         p50 / p99, ratios of p50s",
        args.samples,
        args.samples.min(BLOCK)
    ));
    lines.push(String::new());
    let mut row = |label: &str, cells: Vec<String>| {
        let mut line = format!("{label:<36}");
        for cell in cells {
            line.push_str(&format!("{cell:>20}"));
        }
        lines.push(line);
    };
    row(
        "",
        reports
            .iter()
            .map(|r| r.backend.name().to_owned())
            .collect(),
    );
    row(
        "insert, create_changelog (writers)",
        reports
            .iter()
            .map(|r| format!("{:.0} rows/s ({})", r.rows_per_second(), r.writers))
            .collect(),
    );
    let latency = |case: Case| -> Vec<String> {
        reports
            .iter()
            .map(|r| format!("{:.2} / {:.2} ms", ms(r.p50(case)), ms(r.p99(case))))
            .collect()
    };
    let ratio = |deep: Case, shallow: Case| -> Vec<String> {
        reports
            .iter()
            .map(|r| {
                format!(
                    "{:.2}x",
                    r.p50(deep).as_secs_f64() / r.p50(shallow).as_secs_f64()
                )
            })
            .collect()
    };
    let deep = first.deep_page;
    let skipped = (deep - 1) * PAGE;
    row("first page, no filter", latency(Case::FirstPage));
    row(
        &format!("first page, tag `{FILTER_TAG}`"),
        latency(Case::FirstPageTag),
    );
    row(
        &format!("page {deep}, tag `{FILTER_TAG}`, cursor"),
        latency(Case::DeepPageTag),
    );
    row(
        "  deep / first, cursor (p50)",
        ratio(Case::DeepPageTag, Case::FirstPageTag),
    );
    row(
        &format!("first page, tag `{RARE_TAG}`"),
        latency(Case::FirstPageRareTag),
    );
    row(
        &format!("OFFSET 0, tag `{FILTER_TAG}`"),
        latency(Case::OffsetFirst),
    );
    row(
        &format!("OFFSET {skipped}, tag `{FILTER_TAG}`"),
        latency(Case::OffsetDeep),
    );
    row(
        "  deep / first, OFFSET (p50)",
        ratio(Case::OffsetDeep, Case::OffsetFirst),
    );
    row(
        &format!("  page {deep}: OFFSET / cursor (p50)"),
        ratio(Case::OffsetDeep, Case::DeepPageTag),
    );
    lines.join("\n")
}

/// The targets: a deep page within 1.5x of the first (keyset), and a first page p50
/// under 2 ms on SQLite and 5 ms on PostgreSQL.
fn missed_targets(reports: &[Report]) -> Vec<String> {
    let mut missed = Vec::new();
    for report in reports {
        let name = report.backend.name();
        let ratio = report.p50(Case::DeepPageTag).as_secs_f64()
            / report.p50(Case::FirstPageTag).as_secs_f64();
        if ratio > 1.5 {
            missed.push(format!(
                "{name}: deep page at {ratio:.2}x the first (limit 1.5x)"
            ));
        }
        let limit = match report.backend {
            BackendKind::Sqlite => Duration::from_millis(2),
            BackendKind::Postgres => Duration::from_millis(5),
        };
        for (case, label) in [
            (Case::FirstPage, "first page"),
            (Case::FirstPageTag, "first page under a tag"),
        ] {
            let p50 = report.p50(case);
            if p50 >= limit {
                missed.push(format!(
                    "{name}: {label} p50 {:.2} ms (limit {} ms)",
                    ms(p50),
                    limit.as_millis()
                ));
            }
        }
    }
    missed
}
