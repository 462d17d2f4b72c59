//! One suite, run against every backend: the core's memory store, SQLite in a temporary file,
//! and PostgreSQL at `CHANGELOG_TEST_DATABASE_URL` in a fresh schema per test. Without that
//! variable the PostgreSQL half is skipped with a notice; with `CI=true`, a PostgreSQL that
//! cannot be reached fails the test instead.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use changelog_core::store::api_key::{KeyGenerator, PREFIX_ATTEMPTS};
use changelog_core::store::memory::MemoryStore;
use changelog_core::store::{
    ChangelogQuery, ChangelogRecord, ChangelogSort, ChangelogSource, ChangelogStore,
    ChangelogUpdate, Direction, NewApiKey, NewChangelog, NewUser, Storage, StoreError, TagMatch,
    User, UserStore,
};
use changelog_core::store::{JobOutcome, JobStatus};
use changelog_store::TokenKeys;
use changelog_store::postgres::PgStore;
use changelog_store::sqlite::SqliteStore;
use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

const PG_URL_VAR: &str = "CHANGELOG_TEST_DATABASE_URL";

/// A store under test and what a test needs to look underneath it.
struct Harness {
    store: Arc<dyn Storage>,
    backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

enum Backend {
    Memory,
    Sqlite(SqliteStore),
    Postgres {
        store: PgStore,
        url: String,
        schema: String,
    },
}

fn keys() -> TokenKeys {
    TokenKeys::new("test-key-1", &[7; 32])
}

impl Harness {
    fn memory() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            backend: Backend::Memory,
            _dir: None,
        }
    }

    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        let store = SqliteStore::open(&url, Some(keys()))
            .await
            .expect("open SQLite");
        Self {
            store: Arc::new(store.clone()),
            backend: Backend::Sqlite(store),
            _dir: Some(dir),
        }
    }

    /// `None` when PostgreSQL is not configured (or, outside CI, not reachable).
    async fn postgres() -> Option<Self> {
        let Ok(url) = std::env::var(PG_URL_VAR) else {
            notice(&format!(
                "{PG_URL_VAR} is not set: the PostgreSQL half is skipped"
            ));
            return None;
        };
        let schema = format!("test_{}", Uuid::new_v4().simple());
        let created = async {
            let mut admin = sqlx::PgConnection::connect(&url).await?;
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut admin)
                .await?;
            admin.close().await
        }
        .await;
        if let Err(error) = created {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !ci,
                "CI=true and PostgreSQL at {PG_URL_VAR} is unreachable: {error}"
            );
            notice(&format!(
                "PostgreSQL at {PG_URL_VAR} is unreachable ({error}): skipped"
            ));
            return None;
        }
        let options = PgConnectOptions::from_str(&url)
            .expect("PostgreSQL URL")
            .options([("search_path", schema.as_str())]);
        let store = PgStore::open_with(options, Some(keys()))
            .await
            .expect("open PostgreSQL");
        Some(Self {
            store: Arc::new(store.clone()),
            backend: Backend::Postgres { store, url, schema },
            _dir: None,
        })
    }

    async fn cleanup(self) {
        if let Backend::Postgres { store, url, schema } = self.backend {
            store.pool().close().await;
            if let Ok(mut admin) = sqlx::PgConnection::connect(&url).await {
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&mut admin)
                    .await;
            }
        }
    }

    /// The stored token bytes and key id of a user, read straight from the table.
    async fn raw_token(&self, user: Uuid) -> Result<Option<(Vec<u8>, String)>> {
        const SQL: &str =
            "SELECT github_token_ciphertext, github_token_key_id FROM users WHERE id = $1";
        let row: (Option<Vec<u8>>, Option<String>) = match &self.backend {
            Backend::Memory => return Ok(None),
            Backend::Sqlite(store) => {
                sqlx::query_as(SQL)
                    .bind(user)
                    .fetch_one(store.pool())
                    .await?
            }
            Backend::Postgres { store, .. } => {
                sqlx::query_as(SQL)
                    .bind(user)
                    .fetch_one(store.pool())
                    .await?
            }
        };
        Ok(row.0.zip(row.1))
    }

    fn is_sql(&self) -> bool {
        !matches!(self.backend, Backend::Memory)
    }
}

/// Says once per test binary that a backend was skipped. Written to the process's stderr
/// directly, past the test harness's capture, so that a passing run still shows it.
fn notice(message: &str) {
    use std::io::Write as _;
    static SHOWN: std::sync::Once = std::sync::Once::new();
    SHOWN.call_once(|| {
        let _ = writeln!(std::io::stderr(), "notice: {message}");
    });
}

/// Runs each test body on every backend.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let h = super::Harness::memory();
                    super::$name(&h).await.expect("memory store");
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let h = super::Harness::sqlite().await;
                    super::$name(&h).await.expect("SQLite store");
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(h) = super::Harness::postgres().await else { return };
                    let outcome = super::$name(&h).await;
                    h.cleanup().await;
                    outcome.expect("PostgreSQL store");
                }
            )*
        }
    };
}

suite!(
    users_are_unique_by_username_email_and_github_id,
    github_tokens_are_encrypted_at_rest,
    create_keeps_tags_and_the_first_version,
    a_failure_halfway_through_create_leaves_nothing,
    stale_updates_conflict_and_every_revision_is_kept,
    fifty_concurrent_updates_have_one_winner_per_revision,
    every_filter_selects_what_it_says,
    every_sort_orders_across_pages,
    pagination_neither_skips_nor_repeats_while_rows_are_inserted,
    page_size_is_capped_and_foreign_cursors_are_refused,
    delete_removes_the_changelog_and_its_versions,
    api_keys_are_stored_hashed_counted_expired_and_revoked,
    concurrent_workers_never_claim_the_same_job,
    concurrent_creates_share_tags_created_on_first_use,
    an_expired_lease_makes_a_job_claimable_again,
    an_api_key_prefix_already_taken_is_drawn_again,
    job_events_are_numbered_kept_in_order_and_written_by_the_lease_holder_only,
    a_released_job_is_queued_again_without_counting_the_attempt,
    a_changelog_keeps_the_id_and_status_it_was_given,
    tag_names_are_backfilled_by_their_migration,
    a_listing_holds_exactly_the_stored_records,
);

/// A listed changelog is the stored one, field for field, whatever its content holds: empty,
/// lines, quotes and backslashes, JSON-looking text, characters outside ASCII, and the
/// separators and escapes a page's encoding might trip on.
async fn a_listing_holds_exactly_the_stored_records(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let contents = [
        "",
        "# Notes\n\n- one\r\n- two\t(tab)",
        "\"quoted\" \\ back\\slash \\u0000 \\n",
        "[\"not\", \"json\"]",
        "{\"a\": 1}",
        "naïve café, 日本語, emoji 🚀, \u{1f}\u{7f}",
        "\u{1e}\u{1d}|,;\u{2028}\u{2029}",
        "",
    ];
    for (i, content) in contents.iter().enumerate() {
        let mut new = changelog(alice.id, &format!("c{i}"));
        new.content = (*content).to_owned();
        new.version = (i % 2 == 0).then(|| format!("v{i}.0.0"));
        new.tags = (0..i % 3).map(|t| format!("tag-{t}")).collect();
        new.document = (i % 2 == 1).then(|| limits::document_with(content));
        // Optional texts absent, empty, or spelling what a page's encoding might mark them
        // with; numbers with their edges.
        let odd = [None, Some(""), Some("-"), Some("=x"), Some("\\=")][i % 5].map(str::to_owned);
        new.repository.clone_from(&odd);
        new.commit_range.clone_from(&odd);
        new.model = odd;
        new.title = ["=", "-", "c"][i % 3].to_owned() + &i.to_string();
        new.cost_usd = [0.0, 0.1 + 0.2, 1e-9, 12_345.678_901_234_567][i % 4];
        new.input_tokens = [0, 1, i64::MAX][i % 3];
        new.is_public = i % 2 == 0;
        h.store.create_changelog(&new).await?;
    }
    let query = ChangelogQuery {
        owner_id: Some(alice.id),
        ..Default::default()
    };
    let listed = h.store.list_changelogs(&query).await?;
    assert_eq!(listed.items.len(), contents.len());
    for item in &listed.items {
        assert_eq!(*item, h.store.changelog(item.id).await?);
    }
    // Without documents, as the API lists: every other field the same.
    let without = h
        .store
        .list_changelogs(&ChangelogQuery {
            skip_documents: true,
            ..query.clone()
        })
        .await?;
    assert_eq!(without.items.len(), listed.items.len());
    for (item, whole) in without.items.iter().zip(&listed.items) {
        assert_eq!(
            *item,
            ChangelogRecord {
                document: None,
                ..whole.clone()
            }
        );
    }
    assert!(listed.items.iter().any(|c| c.document.is_some()));
    assert!(listed.items.iter().any(|c| c.tags.len() == 2));
    let mut seen: Vec<&str> = listed.items.iter().map(|c| c.content.as_str()).collect();
    let mut want = contents.to_vec();
    seen.sort_unstable();
    want.sort_unstable();
    assert_eq!(seen, want);
    // A page of one empty content, and an empty page.
    let by_version = |version: &str| {
        let query = ChangelogQuery {
            owner_id: Some(alice.id),
            version: Some(version.into()),
            ..Default::default()
        };
        async move { h.store.list_changelogs(&query).await }
    };
    let one = by_version("v0.0.0").await?;
    assert_eq!(one.items.len(), 1);
    assert_eq!(one.items[0].content, "");
    assert!(by_version("v9.9.9").await?.items.is_empty());
    Ok(())
}

#[path = "store/records.rs"]
mod records;

#[path = "store/limits.rs"]
mod limits;

async fn user(h: &Harness, name: &str) -> Result<User> {
    let new = NewUser {
        username: name.into(),
        email: format!("{name}@example.com"),
        ..NewUser::default()
    };
    Ok(h.store.create_user(&new).await?)
}

fn changelog(owner: Uuid, title: &str) -> NewChangelog {
    NewChangelog {
        owner_id: owner,
        title: title.into(),
        content: format!("# {title}\n\nNotes."),
        ..NewChangelog::default()
    }
}

/// Every id a query selects, read 2 rows per page (so filters are checked across pages).
async fn all_ids(h: &Harness, query: &ChangelogQuery) -> Result<Vec<Uuid>> {
    let mut query = ChangelogQuery {
        limit: 2,
        ..query.clone()
    };
    let mut ids = Vec::new();
    loop {
        let page = h.store.list_changelogs(&query).await?;
        ensure!(page.items.len() <= 2, "page larger than asked");
        ids.extend(page.items.iter().map(|r| r.id));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(ids),
        }
    }
}

fn set(ids: &[Uuid]) -> BTreeSet<Uuid> {
    ids.iter().copied().collect()
}

async fn users_are_unique_by_username_email_and_github_id(h: &Harness) -> Result<()> {
    let alice = h
        .store
        .create_user(&NewUser {
            username: "alice".into(),
            email: "alice@example.com".into(),
            password_hash: Some("$argon2id$v=19$...".into()),
            github_id: Some(42),
            github_username: Some("alice-gh".into()),
        })
        .await?;
    assert_eq!(h.store.user(alice.id).await?, alice);
    assert_eq!(
        h.store.user_by_username("alice").await?.as_ref(),
        Some(&alice)
    );
    assert_eq!(h.store.user_by_github_id(42).await?.as_ref(), Some(&alice));
    assert_eq!(h.store.user_by_username("nobody").await?, None);
    assert_eq!(
        h.store.user_by_email("alice@example.com").await?.as_ref(),
        Some(&alice)
    );
    assert_eq!(h.store.user_by_email("nobody@example.com").await?, None);
    assert!(!alice.has_github_token);

    let clash = |username: &str, email: &str, github_id| NewUser {
        username: username.into(),
        email: email.into(),
        github_id,
        ..NewUser::default()
    };
    for (new, field) in [
        (clash("alice", "other@example.com", None), "username"),
        (clash("bob", "alice@example.com", None), "email"),
        (clash("bob", "bob@example.com", Some(42)), "github_id"),
    ] {
        match h.store.create_user(&new).await {
            Err(StoreError::Duplicate { field: got }) => assert_eq!(got, field),
            other => panic!("expected a duplicate {field}, got {other:?}"),
        }
    }
    // Two users without a GitHub account do not clash on it.
    h.store
        .create_user(&clash("bob", "bob@example.com", None))
        .await?;
    h.store
        .create_user(&clash("carol", "carol@example.com", None))
        .await?;
    assert!(matches!(
        h.store.user(Uuid::new_v4()).await,
        Err(StoreError::NotFound { entity: "user", .. })
    ));
    Ok(())
}

async fn github_tokens_are_encrypted_at_rest(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let bob = user(h, "bob").await?;
    let token = "ghp_0123456789abcdefSECRETtoken";
    h.store.set_github_token(alice.id, Some(token)).await?;
    h.store.set_github_token(bob.id, Some(token)).await?;
    assert_eq!(
        h.store.github_token(alice.id).await?.as_deref(),
        Some(token)
    );
    assert!(h.store.user(alice.id).await?.has_github_token);
    assert_eq!(h.store.github_token(bob.id).await?.as_deref(), Some(token));

    if h.is_sql() {
        let (alice_bytes, key_id) = h.raw_token(alice.id).await?.context("token stored")?;
        let (bob_bytes, _) = h.raw_token(bob.id).await?.context("token stored")?;
        assert_eq!(key_id, "test-key-1");
        let plain = token.as_bytes();
        assert!(
            !alice_bytes.windows(plain.len()).any(|w| w == plain),
            "plaintext stored"
        );
        assert!(
            !alice_bytes.windows(6).any(|w| w == b"SECRET"),
            "part of the plaintext stored"
        );
        // A fresh nonce per value: the same token is stored differently for each user.
        assert_ne!(alice_bytes, bob_bytes);
    }

    h.store.set_github_token(alice.id, None).await?;
    assert_eq!(h.store.github_token(alice.id).await?, None);
    assert!(!h.store.user(alice.id).await?.has_github_token);
    if h.is_sql() {
        assert_eq!(h.raw_token(alice.id).await?, None);
    }
    assert!(matches!(
        h.store.set_github_token(Uuid::new_v4(), Some(token)).await,
        Err(StoreError::NotFound { .. })
    ));
    Ok(())
}

async fn create_keeps_tags_and_the_first_version(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let new = NewChangelog {
        repository: Some("acme/widgets".into()),
        version: Some("v1.2.0".into()),
        source: ChangelogSource::Git,
        commit_range: Some("v1.1.0..v1.2.0".into()),
        model: Some("gpt-4o-mini".into()),
        input_tokens: 1200,
        output_tokens: 300,
        // Every bit of it survives the round trip.
        cost_usd: 0.1 + 0.2,
        is_public: true,
        tags: vec![" Release ".into(), "API".into(), "api".into(), " ".into()],
        document: Some(limits::document_with("Widgets \"1.2\" \\ ü\n")),
        ..changelog(alice.id, "Widgets 1.2")
    };
    let created = h.store.create_changelog(&new).await?;
    assert_eq!(created.tags, ["api", "release"]);
    // A listing reads back every field as it was stored.
    let query = ChangelogQuery {
        owner_id: Some(alice.id),
        ..ChangelogQuery::default()
    };
    let listed = h.store.list_changelogs(&query).await?;
    assert_eq!(listed.items, std::slice::from_ref(&created));
    // A listing that skips documents reads every other field the same.
    let without = h
        .store
        .list_changelogs(&ChangelogQuery {
            skip_documents: true,
            ..query.clone()
        })
        .await?;
    assert!(created.document.is_some());
    assert_eq!(
        without.items,
        [ChangelogRecord {
            document: None,
            ..created.clone()
        }]
    );
    assert_eq!(h.store.changelog(created.id).await?, created);
    assert_eq!(created.revision, 1);
    assert_eq!(created.created_at, created.updated_at);
    let read = h.store.changelog(created.id).await?;
    assert_eq!(read, created);
    assert_eq!(read.cost_usd, 0.1 + 0.2);
    assert_eq!(read.repository.as_deref(), Some("acme/widgets"));
    let versions = h.store.versions(created.id).await?;
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].revision, 1);
    assert_eq!(versions[0].tags, ["api", "release"]);
    assert_eq!(versions[0].edited_by, Some(alice.id));
    assert_eq!(h.store.tags().await?, ["api", "release"]);

    // A second changelog reuses the existing tag.
    let other = h
        .store
        .create_changelog(&NewChangelog {
            tags: vec!["RELEASE".into()],
            ..changelog(alice.id, "x")
        })
        .await?;
    assert_eq!(other.tags, ["release"]);
    assert_eq!(h.store.tags().await?, ["api", "release"]);

    // A user's tags are those on their own changelogs only.
    let bob = user(h, "bob").await?;
    h.store
        .create_changelog(&NewChangelog {
            tags: vec!["Internal".into(), "release".into()],
            ..changelog(bob.id, "bob's")
        })
        .await?;
    assert_eq!(h.store.owner_tags(alice.id).await?, ["api", "release"]);
    assert_eq!(h.store.owner_tags(bob.id).await?, ["internal", "release"]);
    assert!(h.store.owner_tags(Uuid::new_v4()).await?.is_empty());

    assert!(matches!(
        h.store
            .create_changelog(&changelog(Uuid::new_v4(), "orphan"))
            .await,
        Err(StoreError::NotFound { entity: "user", .. })
    ));
    Ok(())
}

async fn a_failure_halfway_through_create_leaves_nothing(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    // The changelog row and the first tag are written before the database refuses the second
    // tag (a trigger stands for any failure past the checks made before writing).
    const REFUSED: &str = "zzz-refused-by-the-database";
    match &h.backend {
        Backend::Memory => {}
        Backend::Sqlite(store) => {
            sqlx::query(&format!(
                "CREATE TRIGGER refuse_tag BEFORE INSERT ON tags WHEN new.name = '{REFUSED}' \
                 BEGIN SELECT RAISE(ABORT, 'refused'); END"
            ))
            .execute(store.pool())
            .await?;
        }
        Backend::Postgres { store, .. } => {
            sqlx::query(&format!(
                "CREATE FUNCTION refuse_tag() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF new.name = '{REFUSED}' THEN RAISE EXCEPTION 'refused'; END IF; \
                 RETURN new; END $$"
            ))
            .execute(store.pool())
            .await?;
            sqlx::query(
                "CREATE TRIGGER refuse_tag BEFORE INSERT ON tags \
                 FOR EACH ROW EXECUTE FUNCTION refuse_tag()",
            )
            .execute(store.pool())
            .await?;
        }
    }
    // The memory store checks before it writes anything: a tag past the length limit.
    let second = match h.backend {
        Backend::Memory => "z".repeat(65),
        _ => REFUSED.to_owned(),
    };
    let new = NewChangelog {
        tags: vec!["aaa-first".into(), second],
        ..changelog(alice.id, "Half-written")
    };
    match (&h.backend, h.store.create_changelog(&new).await) {
        (Backend::Memory, Err(StoreError::Invalid { .. }))
        | (Backend::Sqlite(_) | Backend::Postgres { .. }, Err(StoreError::Backend { .. })) => {}
        (_, other) => panic!("expected the second tag to be refused, got {other:?}"),
    }
    let page = h.store.list_changelogs(&ChangelogQuery::default()).await?;
    assert!(
        page.items.is_empty(),
        "a changelog was left behind: {:?}",
        page.items
    );
    assert!(h.store.tags().await?.is_empty(), "a tag was left behind");
    if let Backend::Sqlite(store) = &h.backend {
        let versions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM changelog_versions")
            .fetch_one(store.pool())
            .await?;
        assert_eq!(versions, 0);
    }
    if let Backend::Postgres { store, .. } = &h.backend {
        let versions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM changelog_versions")
            .fetch_one(store.pool())
            .await?;
        assert_eq!(versions, 0);
    }
    // The store still works afterwards.
    let ok = h
        .store
        .create_changelog(&changelog(alice.id, "Fine"))
        .await?;
    assert_eq!(h.store.versions(ok.id).await?.len(), 1);
    Ok(())
}

async fn stale_updates_conflict_and_every_revision_is_kept(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let bob = user(h, "bob").await?;
    let created = h
        .store
        .create_changelog(&NewChangelog {
            version: Some("1.0.0".into()),
            tags: vec!["one".into()],
            ..changelog(alice.id, "First")
        })
        .await?;
    let update = ChangelogUpdate {
        title: Some("Second".into()),
        version: Some(Some("1.0.1".into())),
        tags: Some(vec!["Two".into(), "three".into()]),
        ..ChangelogUpdate::default()
    };
    let second = h
        .store
        .update_changelog(created.id, 1, &update, Some(bob.id))
        .await?;
    assert_eq!((second.revision, second.title.as_str()), (2, "Second"));
    assert_eq!(second.tags, ["three", "two"]);
    assert_eq!(second.content, created.content, "unset fields are kept");
    assert!(second.updated_at >= created.updated_at);

    // The same base revision again is stale.
    let stale = ChangelogUpdate {
        title: Some("Lost".into()),
        ..ChangelogUpdate::default()
    };
    match h.store.update_changelog(created.id, 1, &stale, None).await {
        Err(StoreError::Conflict {
            expected: 1,
            actual: 2,
        }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(h.store.changelog(created.id).await?.title, "Second");

    let third = h
        .store
        .update_changelog(
            created.id,
            2,
            &ChangelogUpdate {
                version: Some(None),
                ..ChangelogUpdate::default()
            },
            None,
        )
        .await?;
    assert_eq!((third.revision, third.version.as_deref()), (3, None));

    let restored = h
        .store
        .restore_revision(created.id, 1, 3, Some(alice.id))
        .await?;
    assert_eq!(restored.revision, 4);
    assert_eq!(restored.title, "First");
    assert_eq!(restored.version.as_deref(), Some("1.0.0"));
    assert_eq!(restored.tags, ["one"]);
    assert_eq!(h.store.changelog(created.id).await?, restored);

    let versions = h.store.versions(created.id).await?;
    let summary: Vec<(i64, &str, Option<Uuid>)> = versions
        .iter()
        .map(|v| (v.revision, v.title.as_str(), v.edited_by))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "First", Some(alice.id)),
            (2, "Second", Some(bob.id)),
            (3, "Second", None),
            (4, "First", Some(alice.id)),
        ]
    );
    assert_eq!(versions[1].tags, ["three", "two"]);

    assert!(matches!(
        h.store.restore_revision(created.id, 1, 3, None).await,
        Err(StoreError::Conflict {
            expected: 3,
            actual: 4
        })
    ));
    assert!(matches!(
        h.store.restore_revision(created.id, 99, 4, None).await,
        Err(StoreError::NotFound {
            entity: "revision",
            ..
        })
    ));
    // The failed restore did not move the revision.
    assert_eq!(h.store.changelog(created.id).await?.revision, 4);
    assert!(matches!(
        h.store
            .update_changelog(Uuid::new_v4(), 1, &stale, None)
            .await,
        Err(StoreError::NotFound {
            entity: "changelog",
            ..
        })
    ));
    Ok(())
}

async fn fifty_concurrent_updates_have_one_winner_per_revision(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let id = h
        .store
        .create_changelog(&changelog(alice.id, "Contended"))
        .await?
        .id;

    // 50 writers all based on revision 1: exactly one wins.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = Arc::clone(&h.store);
            let update = ChangelogUpdate {
                content: Some(format!("writer {i}")),
                ..Default::default()
            };
            tokio::spawn(async move { store.update_changelog(id, 1, &update, None).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await? {
            Ok(record) => {
                assert_eq!(record.revision, 2);
                wins += 1;
            }
            Err(StoreError::Conflict {
                expected: 1,
                actual: 2,
            }) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(wins, 1);

    // 50 writers that retry on conflict: each ends up owning one distinct revision.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = Arc::clone(&h.store);
            tokio::spawn(async move {
                let content = format!("retrying writer {i}");
                let update = ChangelogUpdate {
                    content: Some(content.clone()),
                    ..Default::default()
                };
                loop {
                    let current = store.changelog(id).await?.revision;
                    match store.update_changelog(id, current, &update, None).await {
                        Ok(record) => return Ok::<_, StoreError>((record.revision, content)),
                        Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
                        Err(other) => return Err(other),
                    }
                }
            })
        })
        .collect();
    let mut won = Vec::new();
    for task in tasks {
        won.push(task.await??);
    }
    won.sort();
    let revisions: Vec<i64> = won.iter().map(|(r, _)| *r).collect();
    assert_eq!(
        revisions,
        (3..=52).collect::<Vec<_>>(),
        "one winner per revision"
    );

    let versions = h.store.versions(id).await?;
    assert_eq!(
        versions.len(),
        1 + 1 + 50,
        "a version per successful write, none lost"
    );
    for (revision, content) in &won {
        let kept = &versions[usize::try_from(*revision)? - 1];
        assert_eq!((kept.revision, &kept.content), (*revision, content));
    }
    assert_eq!(h.store.changelog(id).await?.revision, 52);
    Ok(())
}

async fn every_filter_selects_what_it_says(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let bob = user(h, "bob").await?;
    let mk = |owner: Uuid, title: &str, version: &str, tags: &[&str], repo: &str, public: bool| {
        NewChangelog {
            version: (!version.is_empty()).then(|| version.to_owned()),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            repository: (!repo.is_empty()).then(|| repo.to_owned()),
            is_public: public,
            ..changelog(owner, title)
        }
    };
    let specs = [
        mk(
            alice.id,
            "Parser rewrite",
            "1.0.0",
            &["api", "parser"],
            "acme/a",
            true,
        ),
        mk(
            alice.id,
            "Faster builds",
            "1.1.0",
            &["build"],
            "acme/a",
            false,
        ),
        mk(
            bob.id,
            "Parser fixes and build cache",
            "1.1.0",
            &["parser", "build"],
            "acme/b",
            true,
        ),
        mk(bob.id, "Docs only", "", &[], "", false),
    ];
    let mut made: Vec<ChangelogRecord> = Vec::new();
    let mut between = Vec::new();
    for spec in &specs {
        made.push(h.store.create_changelog(spec).await?);
        tokio::time::sleep(Duration::from_millis(3)).await;
        between.push(changelog_core::store::now());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let id = |i: usize| made[i].id;
    let check = |query: ChangelogQuery, want: Vec<usize>| {
        let want: BTreeSet<Uuid> = want.into_iter().map(id).collect();
        async move {
            let got = set(&all_ids(h, &query).await?);
            ensure!(got == want, "query {query:?}: got {got:?}, want {want:?}");
            Ok::<_, anyhow::Error>(())
        }
    };
    let q = ChangelogQuery::default;
    check(q(), vec![0, 1, 2, 3]).await?;
    check(
        ChangelogQuery {
            owner_id: Some(bob.id),
            ..q()
        },
        vec![2, 3],
    )
    .await?;
    check(
        ChangelogQuery {
            version: Some("1.1.0".into()),
            ..q()
        },
        vec![1, 2],
    )
    .await?;
    check(
        ChangelogQuery {
            version: Some("9.9.9".into()),
            ..q()
        },
        vec![],
    )
    .await?;
    let tags = |t: &[&str]| t.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
    check(
        ChangelogQuery {
            tags: tags(&["PARSER"]),
            ..q()
        },
        vec![0, 2],
    )
    .await?;
    check(
        ChangelogQuery {
            tags: tags(&["api", "build"]),
            ..q()
        },
        vec![0, 1, 2],
    )
    .await?;
    check(
        ChangelogQuery {
            tags: tags(&["parser", "build"]),
            tag_match: TagMatch::All,
            ..q()
        },
        vec![2],
    )
    .await?;
    check(
        ChangelogQuery {
            tags: tags(&["api", "nope"]),
            tag_match: TagMatch::All,
            ..q()
        },
        vec![],
    )
    .await?;
    check(
        ChangelogQuery {
            created_since: Some(between[1]),
            ..q()
        },
        vec![2, 3],
    )
    .await?;
    check(
        ChangelogQuery {
            created_until: Some(between[1]),
            ..q()
        },
        vec![0, 1],
    )
    .await?;
    check(
        ChangelogQuery {
            created_since: Some(between[0]),
            created_until: Some(between[2]),
            ..q()
        },
        vec![1, 2],
    )
    .await?;
    // Since is inclusive, until exclusive.
    let first = made[0].created_at;
    check(
        ChangelogQuery {
            created_since: Some(first),
            created_until: Some(between[0]),
            ..q()
        },
        vec![0],
    )
    .await?;
    check(
        ChangelogQuery {
            created_until: Some(first),
            ..q()
        },
        vec![],
    )
    .await?;
    check(
        ChangelogQuery {
            repository: Some("acme/a".into()),
            ..q()
        },
        vec![0, 1],
    )
    .await?;
    check(
        ChangelogQuery {
            is_public: Some(true),
            ..q()
        },
        vec![0, 2],
    )
    .await?;
    check(
        ChangelogQuery {
            is_public: Some(false),
            ..q()
        },
        vec![1, 3],
    )
    .await?;
    check(
        ChangelogQuery {
            text: Some("parser".into()),
            ..q()
        },
        vec![0, 2],
    )
    .await?;
    check(
        ChangelogQuery {
            text: Some("Parser BUILD".into()),
            ..q()
        },
        vec![2],
    )
    .await?;
    check(
        ChangelogQuery {
            text: Some("notes".into()),
            ..q()
        },
        vec![0, 1, 2, 3],
    )
    .await?;
    check(
        ChangelogQuery {
            text: Some("rewrite\" OR docs".into()),
            ..q()
        },
        vec![],
    )
    .await?;
    check(
        ChangelogQuery {
            text: Some("absent".into()),
            ..q()
        },
        vec![],
    )
    .await?;
    check(
        ChangelogQuery {
            owner_id: Some(alice.id),
            tags: tags(&["parser", "build"]),
            is_public: Some(true),
            text: Some("rewrite".into()),
            ..q()
        },
        vec![0],
    )
    .await?;
    Ok(())
}

async fn every_sort_orders_across_pages(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let versions = [
        "1.10.0",
        "v1.2.0",
        "1.2.0-rc.1",
        "nightly",
        "",
        "0.9.0",
        "1.2.0-beta.11",
    ];
    let titles = [
        "delta", "Alpha", "charlie", "bravo", "echo", "alpha", "foxtrot",
    ];
    let mut made = Vec::new();
    for (title, version) in titles.iter().zip(versions) {
        let new = NewChangelog {
            version: (!version.is_empty()).then(|| version.to_owned()),
            ..changelog(alice.id, title)
        };
        made.push(h.store.create_changelog(&new).await?);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Touch the third one so that `updated` differs from `created`.
    h.store
        .update_changelog(
            made[2].id,
            1,
            &ChangelogUpdate {
                content: Some("new".into()),
                ..Default::default()
            },
            None,
        )
        .await?;

    let order = |sort, direction| ChangelogQuery {
        sort,
        direction,
        ..ChangelogQuery::default()
    };
    let titles_in = |ids: Vec<Uuid>| -> Vec<&str> {
        ids.iter()
            .map(|id| {
                made.iter()
                    .find(|r| r.id == *id)
                    .map_or("?", |r| r.title.as_str())
            })
            .collect()
    };
    let created_asc: Vec<&str> = titles.to_vec();
    assert_eq!(
        titles_in(all_ids(h, &order(ChangelogSort::Created, Direction::Asc)).await?),
        created_asc
    );
    let mut created_desc = created_asc.clone();
    created_desc.reverse();
    assert_eq!(
        titles_in(all_ids(h, &order(ChangelogSort::Created, Direction::Desc)).await?),
        created_desc
    );
    assert_eq!(
        titles_in(all_ids(h, &order(ChangelogSort::Updated, Direction::Desc)).await?),
        [
            "charlie", "foxtrot", "alpha", "echo", "bravo", "Alpha", "delta"
        ]
    );
    assert_eq!(
        titles_in(all_ids(h, &order(ChangelogSort::Title, Direction::Asc)).await?),
        [
            "Alpha", "alpha", "bravo", "charlie", "delta", "echo", "foxtrot"
        ]
    );
    assert_eq!(
        titles_in(all_ids(h, &order(ChangelogSort::Title, Direction::Desc)).await?),
        [
            "foxtrot", "echo", "delta", "charlie", "bravo", "alpha", "Alpha"
        ]
    );
    // No version first, then semver order (pre-releases before their release, 1.10 after
    // 1.2), then what does not parse.
    assert_eq!(
        titles_in(all_ids(h, &order(ChangelogSort::Version, Direction::Asc)).await?),
        [
            "echo", "alpha", "foxtrot", "charlie", "Alpha", "delta", "bravo"
        ]
    );
    assert_eq!(
        titles_in(all_ids(h, &order(ChangelogSort::Version, Direction::Desc)).await?),
        [
            "bravo", "delta", "Alpha", "charlie", "foxtrot", "alpha", "echo"
        ]
    );
    Ok(())
}

async fn pagination_neither_skips_nor_repeats_while_rows_are_inserted(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let mut originals = Vec::new();
    for i in 0..30 {
        // Titles 000, 010, ..., 290: inserted titles fall between them.
        originals.push(
            h.store
                .create_changelog(&changelog(alice.id, &format!("{:03}", i * 10)))
                .await?,
        );
    }
    for (sort, direction) in [
        (ChangelogSort::Created, Direction::Desc),
        (ChangelogSort::Created, Direction::Asc),
        (ChangelogSort::Title, Direction::Asc),
        (ChangelogSort::Title, Direction::Desc),
    ] {
        let mut query = ChangelogQuery {
            sort,
            direction,
            limit: 7,
            ..ChangelogQuery::default()
        };
        let mut seen: Vec<ChangelogRecord> = Vec::new();
        let mut inserted = 0;
        loop {
            let page = h.store.list_changelogs(&query).await?;
            seen.extend(page.items);
            // Rows land before and after the page boundary between every two pages.
            for title in ["005", "285", "135"] {
                inserted += 1;
                h.store
                    .create_changelog(&changelog(alice.id, &format!("{title}-{inserted}")))
                    .await?;
            }
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        let ids: Vec<Uuid> = seen.iter().map(|r| r.id).collect();
        assert_eq!(
            set(&ids).len(),
            ids.len(),
            "{sort:?} {direction:?}: a row was repeated"
        );
        let original_ids: Vec<Uuid> = originals.iter().map(|r| r.id).collect();
        let mut expected = originals.clone();
        expected.sort_by(|a, b| changelog_core::store::compare_records(a, b, sort, direction));
        let seen_originals: Vec<Uuid> = ids
            .iter()
            .copied()
            .filter(|id| original_ids.contains(id))
            .collect();
        let expected_ids: Vec<Uuid> = expected.iter().map(|r| r.id).collect();
        assert_eq!(
            seen_originals, expected_ids,
            "{sort:?} {direction:?}: a row was skipped"
        );
        // The listing is in order, including the rows inserted meanwhile.
        for pair in seen.windows(2) {
            assert_eq!(
                changelog_core::store::compare_records(&pair[0], &pair[1], sort, direction),
                std::cmp::Ordering::Less,
                "{sort:?} {direction:?}: out of order"
            );
        }
    }
    Ok(())
}

async fn page_size_is_capped_and_foreign_cursors_are_refused(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    for i in 0..105 {
        h.store
            .create_changelog(&changelog(alice.id, &format!("c{i}")))
            .await?;
    }
    let page = h
        .store
        .list_changelogs(&ChangelogQuery {
            limit: 1000,
            ..Default::default()
        })
        .await?;
    assert_eq!(page.items.len(), 100);
    let cursor = page.next_cursor.context("a second page")?;
    let rest = h
        .store
        .list_changelogs(&ChangelogQuery {
            limit: 1000,
            cursor: Some(cursor.clone()),
            ..Default::default()
        })
        .await?;
    assert_eq!(rest.items.len(), 5);
    assert_eq!(rest.next_cursor, None);
    let default = h.store.list_changelogs(&ChangelogQuery::default()).await?;
    assert_eq!(default.items.len(), 20);

    let by_title = ChangelogQuery {
        sort: ChangelogSort::Title,
        cursor: Some(cursor),
        ..Default::default()
    };
    assert!(matches!(
        h.store.list_changelogs(&by_title).await,
        Err(StoreError::Invalid { what: "cursor", .. })
    ));
    let garbage = ChangelogQuery {
        cursor: Some("not-a-cursor".into()),
        ..Default::default()
    };
    assert!(matches!(
        h.store.list_changelogs(&garbage).await,
        Err(StoreError::Invalid { what: "cursor", .. })
    ));
    Ok(())
}

async fn delete_removes_the_changelog_and_its_versions(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let gone = h
        .store
        .create_changelog(&NewChangelog {
            tags: vec!["keep".into()],
            ..changelog(alice.id, "Gone")
        })
        .await?;
    let kept = h
        .store
        .create_changelog(&changelog(alice.id, "Kept"))
        .await?;
    h.store
        .update_changelog(gone.id, 1, &ChangelogUpdate::default(), None)
        .await?;
    h.store.delete_changelog(gone.id).await?;
    assert!(matches!(
        h.store.changelog(gone.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        h.store.versions(gone.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        h.store.delete_changelog(gone.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(all_ids(h, &ChangelogQuery::default()).await?, [kept.id]);
    assert_eq!(
        all_ids(
            h,
            &ChangelogQuery {
                text: Some("gone".into()),
                ..Default::default()
            }
        )
        .await?,
        Vec::<Uuid>::new()
    );
    assert_eq!(h.store.tags().await?, ["keep"]);
    Ok(())
}

async fn api_keys_are_stored_hashed_counted_expired_and_revoked(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let issued = h
        .store
        .create_api_key(&NewApiKey {
            user_id: alice.id,
            name: "ci".into(),
            scopes: vec!["changelogs:read".into(), "changelogs:write".into()],
            expires_at: None,
        })
        .await?;
    assert!(issued.secret.starts_with(&issued.key.prefix));
    assert_eq!(issued.key.use_count, 0);

    for uses in 1..=3 {
        let key = h
            .store
            .authenticate_api_key(&issued.secret)
            .await?
            .context("accepted")?;
        assert_eq!((key.id, key.use_count), (issued.key.id, uses));
        assert!(key.last_used_at.is_some());
        assert_eq!(key.scopes, ["changelogs:read", "changelogs:write"]);
    }
    // The right prefix with a wrong secret, and garbage, are refused.
    let forged = format!("{}_{}", issued.key.prefix, "0".repeat(56));
    assert_eq!(h.store.authenticate_api_key(&forged).await?, None);
    assert_eq!(h.store.authenticate_api_key("nonsense").await?, None);

    if h.is_sql() {
        let sql = "SELECT secret_hash FROM api_keys WHERE id = $1";
        let stored: String = match &h.backend {
            Backend::Sqlite(store) => {
                sqlx::query_scalar(sql)
                    .bind(issued.key.id)
                    .fetch_one(store.pool())
                    .await?
            }
            Backend::Postgres { store, .. } => {
                sqlx::query_scalar(sql)
                    .bind(issued.key.id)
                    .fetch_one(store.pool())
                    .await?
            }
            Backend::Memory => unreachable!(),
        };
        assert_eq!(
            stored,
            changelog_core::store::api_key::hash_key(&issued.secret)
        );
        assert!(!stored.contains(&issued.secret[issued.key.prefix.len() + 1..]));
    }

    let expired = h
        .store
        .create_api_key(&NewApiKey {
            user_id: alice.id,
            name: "old".into(),
            scopes: vec![],
            expires_at: Some(changelog_core::store::now() - chrono::Duration::seconds(1)),
        })
        .await?;
    assert_eq!(h.store.authenticate_api_key(&expired.secret).await?, None);

    h.store.revoke_api_key(issued.key.id).await?;
    assert_eq!(h.store.authenticate_api_key(&issued.secret).await?, None);
    let keys = h.store.api_keys(alice.id).await?;
    assert_eq!(keys.len(), 2);
    let revoked = keys
        .iter()
        .find(|k| k.id == issued.key.id)
        .context("listed")?;
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.use_count, 3);
    assert!(matches!(
        h.store.revoke_api_key(Uuid::new_v4()).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        h.store
            .create_api_key(&NewApiKey {
                user_id: Uuid::new_v4(),
                ..NewApiKey::default()
            })
            .await,
        Err(StoreError::NotFound { entity: "user", .. })
    ));
    Ok(())
}

async fn concurrent_workers_never_claim_the_same_job(h: &Harness) -> Result<()> {
    let mut queued = BTreeSet::new();
    for i in 0..40 {
        queued.insert(
            h.store
                .enqueue_job(None, &serde_json::json!({ "n": i }))
                .await?
                .id,
        );
    }
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let store = Arc::clone(&h.store);
            tokio::spawn(async move {
                let worker = format!("worker-{w}");
                let mut claimed = Vec::new();
                while let Some(job) = store.claim_job(&worker, Duration::from_secs(60)).await? {
                    assert_eq!(job.lease_owner.as_deref(), Some(worker.as_str()));
                    claimed.push(job.id);
                    tokio::task::yield_now().await;
                    let result = serde_json::json!({ "by": worker });
                    store
                        .finish_job(job.id, &worker, &JobOutcome::Succeeded(result))
                        .await?;
                }
                Ok::<_, StoreError>(claimed)
            })
        })
        .collect();
    let mut claims = Vec::new();
    for worker in workers {
        claims.extend(worker.await??);
    }
    assert_eq!(claims.len(), 40, "a job was claimed twice or not at all");
    assert_eq!(set(&claims), queued);
    for id in queued {
        let job = h.store.job(id).await?;
        assert_eq!(
            (job.status, job.attempts, job.progress),
            (JobStatus::Succeeded, 1, 100)
        );
        assert!(job.result.is_some());
    }
    Ok(())
}

async fn an_expired_lease_makes_a_job_claimable_again(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let request =
        serde_json::json!({ "repo_url": "https://example.com/r.git", "commit_range": "v1..v2" });
    let job = h.store.enqueue_job(Some(alice.id), &request).await?;
    assert_eq!(
        (job.status, job.request.clone()),
        (JobStatus::Queued, request)
    );

    let first = h
        .store
        .claim_job("w1", Duration::from_millis(1))
        .await?
        .context("claimed")?;
    assert_eq!((first.id, first.attempts), (job.id, 1));
    // While the lease runs, nobody else gets it.
    let held = h.store.claim_job("w2", Duration::from_secs(60)).await?;
    assert!(held.is_none() || held.as_ref().is_some_and(|j| j.attempts == 2));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = match held {
        Some(job) => job,
        None => h
            .store
            .claim_job("w2", Duration::from_secs(60))
            .await?
            .context("reclaimed")?,
    };
    assert_eq!(
        (second.id, second.attempts, second.lease_owner.as_deref()),
        (job.id, 2, Some("w2"))
    );

    // The first worker lost the job.
    assert!(matches!(
        h.store
            .report_progress(job.id, "w1", 50, None, Duration::from_secs(60))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        h.store
            .finish_job(job.id, "w1", &JobOutcome::Failed("late".into()))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let progressed = h
        .store
        .report_progress(
            job.id,
            "w2",
            40,
            Some("summarising"),
            Duration::from_secs(60),
        )
        .await?;
    assert_eq!(
        (progressed.progress, progressed.message.as_deref()),
        (40, Some("summarising"))
    );
    assert!(
        h.store
            .claim_job("w3", Duration::from_secs(60))
            .await?
            .is_none()
    );
    let failed = h
        .store
        .finish_job(job.id, "w2", &JobOutcome::Failed("model refused".into()))
        .await?;
    assert_eq!(
        (failed.status, failed.error.as_deref(), failed.progress),
        (JobStatus::Failed, Some("model refused"), 40)
    );
    assert_eq!(failed.lease_owner, None);
    assert!(
        h.store
            .claim_job("w3", Duration::from_secs(60))
            .await?
            .is_none()
    );

    // Cancelling: a queued job is never handed out, a finished one stays finished.
    let cancelled = h.store.enqueue_job(None, &serde_json::json!({})).await?;
    assert_eq!(
        h.store.cancel_job(cancelled.id).await?.status,
        JobStatus::Cancelled
    );
    assert!(
        h.store
            .claim_job("w3", Duration::from_secs(60))
            .await?
            .is_none()
    );
    assert_eq!(h.store.cancel_job(job.id).await?.status, JobStatus::Failed);
    assert!(matches!(
        h.store.job(Uuid::new_v4()).await,
        Err(StoreError::NotFound { .. })
    ));
    Ok(())
}

async fn concurrent_creates_share_tags_created_on_first_use(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&h.store);
            let new = NewChangelog {
                // Every writer races to create the same new tags, named in different cases.
                tags: vec![
                    if i % 2 == 0 { "Shared" } else { "shared " }.into(),
                    format!("own-{i}"),
                    "NEW".into(),
                ],
                ..changelog(alice.id, &format!("racer {i}"))
            };
            tokio::spawn(async move { store.create_changelog(&new).await })
        })
        .collect();
    for task in tasks {
        let record = task.await??;
        assert!(
            record.tags.contains(&"shared".to_owned()) && record.tags.contains(&"new".to_owned())
        );
    }
    let tags = h.store.tags().await?;
    assert_eq!(tags.len(), 22);
    assert_eq!(tags.iter().filter(|t| *t == "shared").count(), 1);
    let shared = ChangelogQuery {
        tags: vec!["shared".into(), "new".into()],
        tag_match: TagMatch::All,
        ..Default::default()
    };
    assert_eq!(all_ids(h, &shared).await?.len(), 20);
    Ok(())
}

#[tokio::test]
async fn open_picks_the_backend_from_the_url_and_reopens_migrated_files() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cl.db").display());
    let store = changelog_store::Store::open_with_keys(&url, Some(keys())).await?;
    let alice = store
        .create_user(&NewUser {
            username: "a".into(),
            email: "a@x".into(),
            ..Default::default()
        })
        .await?;
    store.set_github_token(alice.id, Some("ghp_x")).await?;
    drop(store);
    // Migrations that already ran are not run again; the data is still there.
    let again = changelog_store::Store::open_with_keys(&url, Some(keys())).await?;
    let reopened = again.user(alice.id).await?;
    assert_eq!(
        (reopened.username.as_str(), reopened.has_github_token),
        ("a", true)
    );
    assert_eq!(
        again.github_token(alice.id).await?.as_deref(),
        Some("ghp_x")
    );
    // Without keys, tokens can be neither stored nor read.
    let keyless = changelog_store::Store::open(&url).await?;
    assert!(matches!(
        keyless.github_token(alice.id).await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        changelog_store::Store::open("mysql://localhost/db").await,
        Err(changelog_store::Error::UnsupportedUrl { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn rotating_keys_reencrypts_stored_tokens() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("rotate.db").display()
    );
    let old = SqliteStore::open(&url, Some(keys())).await?;
    let alice = old
        .create_user(&NewUser {
            username: "a".into(),
            email: "a@x".into(),
            ..Default::default()
        })
        .await?;
    old.set_github_token(alice.id, Some("ghp_rotate_me"))
        .await?;
    old.pool().close().await;

    let rotated = TokenKeys::new("test-key-2", &[9; 32]).with_previous("test-key-1", &[7; 32]);
    let store = SqliteStore::open(&url, Some(rotated)).await?;
    assert_eq!(
        store.github_token(alice.id).await?.as_deref(),
        Some("ghp_rotate_me")
    );
    assert_eq!(store.reencrypt_github_tokens().await?, 1);
    assert_eq!(store.reencrypt_github_tokens().await?, 0);
    store.pool().close().await;

    // The old key can now be dropped.
    let only_new = SqliteStore::open(&url, Some(TokenKeys::new("test-key-2", &[9; 32]))).await?;
    assert_eq!(
        only_new.github_token(alice.id).await?.as_deref(),
        Some("ghp_rotate_me")
    );
    let key_id: String = sqlx::query_scalar("SELECT github_token_key_id FROM users")
        .fetch_one(only_new.pool())
        .await?;
    assert_eq!(key_id, "test-key-2");
    Ok(())
}

/// The same store as `h` (the same data, for SQL backends), drawing API keys from `generator`.
fn with_key_generator(h: &Harness, generator: KeyGenerator) -> Arc<dyn Storage> {
    match &h.backend {
        Backend::Memory => Arc::new(MemoryStore::new().with_key_generator(generator)),
        Backend::Sqlite(store) => Arc::new(store.clone().with_key_generator(generator)),
        Backend::Postgres { store, .. } => Arc::new(store.clone().with_key_generator(generator)),
    }
}

async fn an_api_key_prefix_already_taken_is_drawn_again(h: &Harness) -> Result<()> {
    // Keys come from a script: the first two draw the same prefix, the next one another.
    let script: Vec<(String, String)> = ["clk_00000000deadbeef", "clk_00000000deadbeef"]
        .into_iter()
        .chain(std::iter::repeat_n(
            "clk_00000000cafef00d",
            PREFIX_ATTEMPTS + 1,
        ))
        .enumerate()
        .map(|(i, prefix)| (prefix.to_owned(), format!("{prefix}_secret{i}")))
        .collect();
    let draws = Arc::new(AtomicUsize::new(0));
    let generator = {
        let draws = Arc::clone(&draws);
        KeyGenerator::new(move || script[draws.fetch_add(1, SeqCst)].clone())
    };
    let store = with_key_generator(h, generator);
    let alice = store
        .create_user(&NewUser {
            username: "prefix-alice".into(),
            email: "prefix-alice@example.com".into(),
            ..NewUser::default()
        })
        .await?;
    let new = |name: &str| NewApiKey {
        user_id: alice.id,
        name: name.into(),
        ..NewApiKey::default()
    };

    let first = store.create_api_key(&new("first")).await?;
    assert_eq!(first.key.prefix, "clk_00000000deadbeef");
    // Its first draw collides with the first key; the second draw is kept.
    let second = store.create_api_key(&new("second")).await?;
    assert_eq!(second.key.prefix, "clk_00000000cafef00d");
    assert_eq!(second.secret, "clk_00000000cafef00d_secret2");
    assert_eq!(draws.load(SeqCst), 3);
    for issued in [&first, &second] {
        let key = store
            .authenticate_api_key(&issued.secret)
            .await?
            .context("accepted")?;
        assert_eq!(key.id, issued.key.id);
    }

    // A source that only draws taken prefixes gives up after a bounded number of draws.
    match store.create_api_key(&new("third")).await {
        Err(StoreError::Duplicate { field }) => assert!(field.contains("prefix"), "{field}"),
        other => anyhow::bail!("expected the prefix to be exhausted, got {other:?}"),
    }
    assert_eq!(draws.load(SeqCst), 3 + PREFIX_ATTEMPTS);
    assert_eq!(store.api_keys(alice.id).await?.len(), 2);
    Ok(())
}

/// Set in the processes `eight_processes_opening_one_new_sqlite_file_migrate_it_once` starts:
/// the database URL to open, once the start file beside it exists.
const OPEN_CHILD_VAR: &str = "CHANGELOG_TEST_OPEN_SQLITE_CHILD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_opening_one_new_sqlite_file_migrate_it_once() -> Result<()> {
    const NAME: &str = "eight_processes_opening_one_new_sqlite_file_migrate_it_once";
    if let Ok(db) = std::env::var(OPEN_CHILD_VAR) {
        // A child: wait for the start signal, so that all eight open at the same moment.
        let start = std::path::PathBuf::from(format!("{db}.start"));
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !start.exists() {
            ensure!(std::time::Instant::now() < deadline, "no start signal");
            std::thread::sleep(Duration::from_millis(1));
        }
        let store = SqliteStore::open(&format!("sqlite://{db}?mode=rwc"), None)
            .await
            .with_context(|| format!("process {} opening {db}", std::process::id()))?;
        store.pool().close().await;
        return Ok(());
    }

    let dir = tempfile::tempdir()?;
    let db = dir.path().join("shared.db");
    let children = (0..8)
        .map(|_| {
            std::process::Command::new(std::env::current_exe()?)
                .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
                .env(OPEN_CHILD_VAR, &db)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    // Let every child start and wait, then release them together.
    tokio::time::sleep(Duration::from_millis(500)).await;
    std::fs::write(format!("{}.start", db.display()), b"go")?;
    let mut failures = Vec::new();
    for child in children {
        let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || !stdout.contains("1 passed") {
            failures.push(format!(
                "{}\n{stdout}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    ensure!(
        failures.is_empty(),
        "{} of 8 processes failed to open a new file:\n{}",
        failures.len(),
        failures.join("\n---\n")
    );

    // Each migration ran once, and successfully.
    let store = SqliteStore::open(&format!("sqlite://{}", db.display()), None).await?;
    let migrations: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await?;
    let expected = sqlx::migrate!("migrations/sqlite").iter().count();
    ensure!(migrations.len() == expected, "{migrations:?}");
    ensure!(
        migrations.iter().all(|(_, success)| *success),
        "{migrations:?}"
    );
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'changelogs'",
    )
    .fetch_one(store.pool())
    .await?;
    ensure!(tables == 1);
    ensure!(
        dir.path().join("shared.db-migrate.lock").exists(),
        "the lock is a file beside the database"
    );
    Ok(())
}

/// A text holding a NUL, which the store never writes, cannot be told apart from the separator
/// of a page's fields on SQLite: the listing says so rather than shifting every field after it
/// onto the wrong one.
#[tokio::test]
async fn a_nul_written_behind_the_store_fails_the_listing_rather_than_shifting_it() -> Result<()> {
    for column in ["content", "title", "version"] {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("nul.db").display());
        let store = SqliteStore::open(&url, None).await?;
        let owner = store
            .create_user(&NewUser {
                username: "nul".into(),
                email: "nul@example.com".into(),
                ..NewUser::default()
            })
            .await?;
        for title in ["first", "second"] {
            store.create_changelog(&changelog(owner.id, title)).await?;
        }
        sqlx::query(&format!(
            "UPDATE changelogs SET {column} = 'a' || char(0) || 'b' WHERE title = 'first'"
        ))
        .execute(store.pool())
        .await?;
        let listed = store.list_changelogs(&ChangelogQuery::default()).await;
        ensure!(
            matches!(&listed, Err(StoreError::Backend { .. })),
            "{column}: {listed:?}"
        );
        ensure!(
            format!("{:?}", listed.unwrap_err()).contains("NUL"),
            "{column}: the error names the cause"
        );
        store.pool().close().await;
    }
    Ok(())
}

/// SQLite as the server runs it under load: built without memory statistics (with them every
/// allocation on every connection takes one global mutex) and with a page cache per
/// connection (memory management puts every connection's pages behind one global mutex);
/// `.cargo/config.toml` sets both. Its connections, local handles, are not pinged before each
/// use.
#[tokio::test]
async fn sqlite_is_built_and_pooled_for_concurrent_readers() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("pool.db").display());
    let store = SqliteStore::open(&url, None).await?;
    let without_statistics: bool =
        sqlx::query_scalar("SELECT sqlite_compileoption_used('DEFAULT_MEMSTATUS=0')")
            .fetch_one(store.pool())
            .await?;
    ensure!(
        without_statistics,
        "the bundled SQLite keeps memory statistics: LIBSQLITE3_FLAGS from .cargo/config.toml \
         was not applied"
    );
    let shared_page_cache: bool =
        sqlx::query_scalar("SELECT sqlite_compileoption_used('ENABLE_MEMORY_MANAGEMENT')")
            .fetch_one(store.pool())
            .await?;
    ensure!(
        !shared_page_cache,
        "the bundled SQLite shares one page cache between connections: LIBSQLITE3_FLAGS from \
         .cargo/config.toml was not applied"
    );
    ensure!(
        !store.pool().options().get_test_before_acquire(),
        "SQLite connections are pinged before each acquire"
    );
    store.pool().close().await;
    Ok(())
}

#[tokio::test]
async fn databases_in_memory_take_no_lock_file() -> Result<()> {
    let store = SqliteStore::open("sqlite::memory:", None).await?;
    store.pool().close().await;
    let strays: Vec<String> = std::fs::read_dir(".")?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with("-migrate.lock"))
        .collect();
    ensure!(
        strays.is_empty(),
        "lock files left in the working directory: {strays:?}"
    );
    Ok(())
}
/// The error and all its causes, as one text.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = format!("{error} / {error:?}");
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(&format!(" / {inner}"));
        cause = inner.source();
    }
    text
}

#[tokio::test]
async fn store_urls_with_passwords_are_named_without_them() -> Result<()> {
    for (url, shown) in [
        // A password holding `/ # ?` and a port that cannot be read.
        (
            "postgres://me:pa/ss#wo?rd@db:notaport/app",
            "postgres://me@db:notaport/app",
        ),
        (
            "postgresql://me:s3cr3t@db:notaport/app",
            "postgresql://me@db:notaport/app",
        ),
        // Scheme-less, as libpq's tools accept it.
        ("me:s3cr3t@db:5432/app", "me@db:5432/app"),
        (
            "mysql://me:s3cr3t@db/app?sslpassword=hunter2",
            "mysql://db/app",
        ),
    ] {
        let error = changelog_store::Store::open(url)
            .await
            .err()
            .with_context(|| format!("{url} opened"))?;
        let text = error_chain(&error);
        for secret in ["pa/ss#wo?rd", "pa/ss", "s3cr3t", "hunter2"] {
            ensure!(!text.contains(secret), "{url}: {text}");
        }
        ensure!(text.contains(shown), "{url} is named as {shown}: {text}");
    }
    let Ok(base) = std::env::var(PG_URL_VAR) else {
        return Ok(());
    };
    // A database that does not exist, on a server that answers: the driver's own error.
    let mut options = url_with_password(&base, "s3cr3t");
    options.push_str("_no_such_database_for_this_test");
    let error = changelog_store::Store::open(&options)
        .await
        .err()
        .context("a missing database opened")?;
    let text = error_chain(&error);
    ensure!(!text.contains("s3cr3t"), "{text}");
    ensure!(text.contains("_no_such_database_for_this_test"), "{text}");
    Ok(())
}

/// `postgres://user@host/db` with `password` put in its userinfo.
fn url_with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    match rest.split_once('@') {
        Some((user, host)) => format!("{scheme}://{user}:{password}@{host}"),
        None => format!("{scheme}://postgres:{password}@{rest}"),
    }
}

async fn job_events_are_numbered_kept_in_order_and_written_by_the_lease_holder_only(
    h: &Harness,
) -> Result<()> {
    use changelog_core::store::job::MAX_EVENTS_PER_READ;
    let job = h.store.enqueue_job(None, &serde_json::json!({})).await?;
    assert!(h.store.job_events(job.id, 0, 10).await?.is_empty());
    // Nobody holds the job yet: nothing is written.
    let event = |kind: &str, n: i64| (kind.to_owned(), serde_json::json!({ "n": n }));
    assert!(matches!(
        h.store
            .append_job_events(job.id, "w1", &[event("progress", 0)])
            .await,
        Err(StoreError::NotFound { .. })
    ));
    h.store
        .claim_job("w1", Duration::from_secs(60))
        .await?
        .context("claimed")?;
    let last = h
        .store
        .append_job_events(job.id, "w1", &[event("attempt", 1), event("progress", 2)])
        .await?;
    assert_eq!(last, 2);
    let last = h
        .store
        .append_job_events(job.id, "w1", &[event("delta", 3)])
        .await?;
    assert_eq!(last, 3);
    // Another worker does not hold it.
    assert!(matches!(
        h.store
            .append_job_events(job.id, "w2", &[event("delta", 9)])
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let all = h.store.job_events(job.id, 0, MAX_EVENTS_PER_READ).await?;
    assert_eq!(
        all.iter()
            .map(|e| (e.seq, e.kind.as_str(), e.data["n"].as_i64().unwrap()))
            .collect::<Vec<_>>(),
        [(1, "attempt", 1), (2, "progress", 2), (3, "delta", 3)]
    );
    let after = h.store.job_events(job.id, 1, 1).await?;
    assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), [2]);
    assert!(h.store.job_events(job.id, 3, 10).await?.is_empty());
    // A cancelled job takes no more events.
    h.store.cancel_job(job.id).await?;
    assert!(matches!(
        h.store
            .append_job_events(job.id, "w1", &[event("delta", 4)])
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        h.store.job_events(Uuid::new_v4(), 0, 10).await,
        Err(StoreError::NotFound { .. })
    ));
    Ok(())
}

async fn a_released_job_is_queued_again_without_counting_the_attempt(h: &Harness) -> Result<()> {
    let job = h.store.enqueue_job(None, &serde_json::json!({})).await?;
    let claimed = h
        .store
        .claim_job("w1", Duration::from_secs(60))
        .await?
        .context("claimed")?;
    assert_eq!(claimed.attempts, 1);
    assert!(matches!(
        h.store.release_job(job.id, "w2").await,
        Err(StoreError::NotFound { .. })
    ));
    let released = h.store.release_job(job.id, "w1").await?;
    assert_eq!(
        (released.status, released.attempts, released.lease_owner),
        (JobStatus::Queued, 0, None)
    );
    // At once claimable, long before the 60-second lease would have run out.
    let again = h
        .store
        .claim_job("w2", Duration::from_secs(60))
        .await?
        .context("claimed again")?;
    assert_eq!((again.id, again.attempts), (job.id, 1));
    Ok(())
}

async fn a_changelog_keeps_the_id_and_status_it_was_given(h: &Harness) -> Result<()> {
    use changelog_core::store::{ChangelogQuery, ChangelogStatus, ChangelogUpdate};
    let alice = user(h, "alice").await?;
    let id = Uuid::new_v4();
    let new = NewChangelog {
        id: Some(id),
        status: ChangelogStatus::Published,
        ..changelog(alice.id, "chosen")
    };
    let created = h.store.create_changelog(&new).await?;
    assert_eq!(
        (created.id, created.status),
        (id, ChangelogStatus::Published)
    );
    // The same id twice is a duplicate, and nothing else is written.
    assert!(matches!(
        h.store.create_changelog(&new).await,
        Err(StoreError::Duplicate { .. })
    ));
    let draft = h
        .store
        .create_changelog(&changelog(alice.id, "draft"))
        .await?;
    assert_eq!(draft.status, ChangelogStatus::Draft);
    let listed = |status| {
        let query = ChangelogQuery {
            owner_id: Some(alice.id),
            status: Some(status),
            ..ChangelogQuery::default()
        };
        let store = Arc::clone(&h.store);
        async move {
            store
                .list_changelogs(&query)
                .await
                .map(|page| page.items.into_iter().map(|c| c.title).collect::<Vec<_>>())
        }
    };
    assert_eq!(listed(ChangelogStatus::Published).await?, ["chosen"]);
    assert_eq!(listed(ChangelogStatus::Draft).await?, ["draft"]);
    let update = ChangelogUpdate {
        status: Some(ChangelogStatus::Published),
        ..ChangelogUpdate::default()
    };
    let published = h
        .store
        .update_changelog(draft.id, draft.revision, &update, None)
        .await?;
    assert_eq!(published.status, ChangelogStatus::Published);
    assert_eq!(listed(ChangelogStatus::Published).await?.len(), 2);
    Ok(())
}

/// The migration that put each changelog's tag names on its row fills them from the tag links
/// of changelogs written before it: its backfill, run on rows whose names were cleared, gives
/// every row its sorted names back (and `[]` where there are none).
async fn tag_names_are_backfilled_by_their_migration(h: &Harness) -> Result<()> {
    const MIGRATION: &str = "20261130000006_changelog_tag_names.sql";
    let alice = user(h, "alice").await?;
    let tagged = NewChangelog {
        tags: vec!["zeta".into(), "alpha".into(), "mid".into()],
        ..changelog(alice.id, "tagged")
    };
    h.store.create_changelog(&tagged).await?;
    h.store
        .create_changelog(&changelog(alice.id, "untagged"))
        .await?;
    let backfill = |sql: &str| {
        // The statement after the `ALTER TABLE` that adds the column.
        let (_, update) = sql.split_once(';').expect("two statements");
        update.trim().trim_end_matches(';').to_owned()
    };
    match &h.backend {
        Backend::Memory => return Ok(()),
        Backend::Sqlite(store) => {
            let sql = std::fs::read_to_string(format!("migrations/sqlite/{MIGRATION}"))?;
            sqlx::query("UPDATE changelogs SET tag_names = '[]'")
                .execute(store.writer())
                .await?;
            sqlx::query(&backfill(&sql)).execute(store.writer()).await?;
        }
        Backend::Postgres { store, .. } => {
            let sql = std::fs::read_to_string(format!("migrations/postgres/{MIGRATION}"))?;
            sqlx::query("UPDATE changelogs SET tag_names = '[]'")
                .execute(store.pool())
                .await?;
            sqlx::query(&backfill(&sql)).execute(store.pool()).await?;
        }
    }
    let query = ChangelogQuery {
        owner_id: Some(alice.id),
        sort: ChangelogSort::Title,
        direction: Direction::Asc,
        ..ChangelogQuery::default()
    };
    let page = h.store.list_changelogs(&query).await?;
    let tags: Vec<(String, Vec<String>)> =
        page.items.into_iter().map(|c| (c.title, c.tags)).collect();
    ensure!(
        tags == [
            (
                "tagged".to_owned(),
                vec!["alpha".to_owned(), "mid".to_owned(), "zeta".to_owned()]
            ),
            ("untagged".to_owned(), Vec::new()),
        ],
        "{tags:?}"
    );
    Ok(())
}
