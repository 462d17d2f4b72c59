//! A server per test and the requests tests make.

use std::str::FromStr;
use std::sync::Arc;

use changelog_core::llm::stack::{CacheChoice, ProviderKind, StackConfig};
use changelog_core::source::git::RepoPolicy;
use changelog_core::store::Storage;
use changelog_http::{AppState, ServerConfig, Workers};
use changelog_store::TokenKeys;
use changelog_store::postgres::PgStore;
use changelog_store::sqlite::SqliteStore;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::oneshot;
use uuid::Uuid;

const PG_URL_VAR: &str = "CHANGELOG_TEST_DATABASE_URL";

/// The secret the test servers sign access tokens with.
pub(crate) const JWT_SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123";

/// A server on 127.0.0.1 and what it runs on.
pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    /// The repository root generation requests may read from.
    pub(crate) repos: Arc<tempfile::TempDir>,
    store: Arc<dyn Storage>,
    hub: Arc<changelog_http::jobs::JobHub>,
    workers: std::sync::Mutex<Option<Workers>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

#[expect(clippy::large_enum_variant, reason = "one per test server")]
enum Backend {
    /// Another instance's database: left to it.
    Shared,
    Sqlite,
    Postgres {
        url: String,
        schema: String,
        store: PgStore,
    },
}

fn keys() -> TokenKeys {
    TokenKeys::new("test", &[9; 32])
}

/// The configuration of the test servers: repositories under `repos`, the simulated model
/// (no cache), 5-second job leases.
pub(crate) fn config(repos: &std::path::Path) -> ServerConfig {
    let mut repo_policy = RepoPolicy::default();
    repo_policy.local_roots = vec![repos.to_owned()];
    ServerConfig {
        cors_origins: vec!["https://app.example.com".into()],
        body_limit: 64 * 1024,
        repo_policy,
        provider: Some(StackConfig {
            cache: CacheChoice::Off,
            ..StackConfig::new(ProviderKind::Simulated)
        }),
        job_lease: std::time::Duration::from_secs(5),
        ..ServerConfig::new(JWT_SECRET.to_vec())
    }
}

impl Server {
    async fn start(
        store: Arc<dyn Storage>,
        backend: Backend,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let repos = Arc::new(tempfile::tempdir().expect("repository root"));
        let config = config(repos.path());
        Self::start_with(store, backend, dir, repos, config).await
    }

    /// Another instance on the same database, with `config` (its workers started).
    pub(crate) async fn another(&self, config: ServerConfig) -> Self {
        Self::start_with(
            Arc::clone(&self.store),
            Backend::Shared,
            None,
            Arc::clone(&self.repos),
            config,
        )
        .await
    }

    /// This instance's configuration, for [`Server::another`] and [`Server::restart`].
    pub(crate) fn config(&self) -> ServerConfig {
        config(self.repos.path())
    }

    /// Replaces this instance's router and workers by ones with `config` (same database).
    pub(crate) async fn restart(&mut self, config: ServerConfig) {
        let mut next = self.another(config).await;
        self.halt().await;
        std::mem::swap(&mut self.base, &mut next.base);
        std::mem::swap(&mut self.hub, &mut next.hub);
        self.workers = std::sync::Mutex::new(next.take_workers());
        self.stop = next.stop.take();
        self.task = next.task.take();
    }

    /// Stops this instance's workers at once, as if its process died: their jobs keep their
    /// leases until they run out.
    pub(crate) fn kill_workers(&self) {
        if let Some(workers) = self.take_workers() {
            workers.abort();
        }
    }

    fn take_workers(&self) -> Option<Workers> {
        self.workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    async fn start_with(
        store: Arc<dyn Storage>,
        backend: Backend,
        dir: Option<tempfile::TempDir>,
        repos: Arc<tempfile::TempDir>,
        config: ServerConfig,
    ) -> Self {
        let state = AppState::new(Arc::clone(&store), config)
            .expect("state")
            .with_metrics(changelog_http::metrics_recorder());
        let workers = Workers::start(&state, 2);
        let hub = Arc::clone(state.jobs());
        let app = changelog_http::router(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            repos,
            store,
            hub,
            workers: std::sync::Mutex::new(Some(workers)),
            stop: Some(stop),
            task: Some(task),
            backend,
            _dir: dir,
        }
    }

    pub(crate) async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("api.db").display());
        let store = SqliteStore::open(&url, Some(keys()))
            .await
            .expect("open SQLite");
        Self::start(Arc::new(store), Backend::Sqlite, Some(dir)).await
    }

    /// `None` when PostgreSQL is not configured (or, outside CI, not reachable).
    pub(crate) async fn postgres() -> Option<Self> {
        let Ok(url) = std::env::var(PG_URL_VAR) else {
            notice(&format!(
                "{PG_URL_VAR} is not set: the PostgreSQL half is skipped"
            ));
            return None;
        };
        let schema = format!("api_{}", Uuid::new_v4().simple());
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
        Some(
            Self::start(
                Arc::new(store.clone()),
                Backend::Postgres { url, schema, store },
                None,
            )
            .await,
        )
    }

    async fn halt(&mut self) {
        self.hub.close();
        let workers = self.take_workers();
        if let Some(workers) = workers {
            workers.shutdown().await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Stops the server (running jobs go back to the queue, requests in flight finish) and
    /// drops a PostgreSQL schema.
    pub(crate) async fn stop(mut self) {
        self.halt().await;
        if let Backend::Postgres { url, schema, store } = &self.backend {
            store.pool().close().await;
            if let Ok(mut admin) = sqlx::PgConnection::connect(url).await {
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&mut admin)
                    .await;
            }
        }
    }

    /// The store under this server.
    pub(crate) fn store(&self) -> &dyn Storage {
        &*self.store
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to an API path (`/changelogs` means `/api/v1/changelogs`).
    pub(crate) fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(&format!("/api/v1{path}")))
    }

    /// Registers `name` (password `correct horse battery`) and signs in.
    pub(crate) async fn user(&self, name: &str) -> User {
        let response = self
            .api(Method::POST, "/auth/register")
            .json(&json!({
                "username": name,
                "email": format!("{name}@example.com"),
                "password": "correct horse battery",
            }))
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), StatusCode::CREATED, "register {name}");
        let registered: Value = response.json().await.expect("user");
        let tokens = self
            .api(Method::POST, "/auth/login")
            .json(&json!({"username": name, "password": "correct horse battery"}))
            .send()
            .await
            .expect("login");
        assert_eq!(tokens.status(), StatusCode::OK, "login {name}");
        let tokens: Value = tokens.json().await.expect("tokens");
        User {
            id: registered["id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid"),
            access: tokens["access_token"].as_str().expect("access").to_owned(),
            refresh: tokens["refresh_token"]
                .as_str()
                .expect("refresh")
                .to_owned(),
        }
    }

    /// A request as `user`.
    pub(crate) fn as_user(&self, user: &User, method: Method, path: &str) -> RequestBuilder {
        self.api(method, path).bearer_auth(&user.access)
    }

    /// `GET path` as `user`, which must answer 200; returns its JSON.
    pub(crate) async fn get_json(&self, user: &User, path: &str) -> Value {
        let response = self
            .as_user(user, Method::GET, path)
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("JSON")
    }

    /// Creates a manual changelog as `user`; returns its JSON.
    pub(crate) async fn changelog(&self, user: &User, body: Value) -> Value {
        let response = self
            .as_user(user, Method::POST, "/changelogs")
            .json(&body)
            .send()
            .await
            .expect("create");
        assert_eq!(response.status(), StatusCode::CREATED, "create a changelog");
        response.json().await.expect("changelog")
    }
}

/// A signed-in user.
pub(crate) struct User {
    pub(crate) id: Uuid,
    pub(crate) access: String,
    pub(crate) refresh: String,
}

/// Checks an error answer: its status, the error format, and returns its body.
pub(crate) async fn error(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "status of {}", response.url());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "error answers are JSON, got `{content_type}`"
    );
    let body: Value = response.json().await.expect("error body");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["code"], status.as_u16(), "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert!(body["request_id"].as_str().is_some(), "{body}");
    body
}

/// Checks a 422 names `field` among its field errors.
pub(crate) async fn invalid(response: reqwest::Response, field: &str) -> Value {
    let body = error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default();
    assert!(fields.contains(&field), "422 should name `{field}`: {body}");
    body
}

/// Says once per test binary that a backend was skipped, past the harness's capture.
fn notice(message: &str) {
    use std::io::Write as _;
    static SHOWN: std::sync::Once = std::sync::Once::new();
    SHOWN.call_once(|| {
        let _ = writeln!(std::io::stderr(), "notice: {message}");
    });
}

/// Runs each test body against a SQLite and a PostgreSQL server.
#[macro_export]
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let server = $crate::harness::Server::sqlite().await;
                    super::$name(&server).await;
                    server.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(server) = $crate::harness::Server::postgres().await else { return };
                    super::$name(&server).await;
                    server.stop().await;
                }
            )*
        }
    };
}
