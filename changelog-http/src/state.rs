//! What every handler shares: the store, the access-token keys, the server's limits and the
//! metrics handle. Everything here is built once, when the server starts.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use changelog_core::store::{AuditOutcome, NewAuditEvent, Storage};
use metrics_exporter_prometheus::PrometheusHandle;
use uuid::Uuid;

use changelog_core::llm::stack::StackConfig;
use changelog_core::source::git::RepoPolicy;

use crate::auth::SessionCache;
use crate::auth::jwt::JwtKeys;
use crate::jobs::JobHub;

/// The server's settings that the router reads.
#[derive(Clone)]
pub struct ServerConfig {
    /// The HS256 secret access tokens are signed with (at least 32 bytes).
    pub jwt_secret: Vec<u8>,
    /// How long an access token is valid.
    pub access_ttl: Duration,
    /// How long a refresh token is valid.
    pub refresh_ttl: Duration,
    /// Origins allowed to call the API from a browser; empty allows none.
    pub cors_origins: Vec<String>,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long a request may take before it is answered 408.
    pub request_timeout: Duration,
    /// What generation requests may read: local repositories under its roots, clones of its
    /// hosts (default: HTTPS clones of public hosts, no local path).
    pub repo_policy: RepoPolicy,
    /// Who writes generated entries; `None` for the deterministic changelog only.
    pub provider: Option<StackConfig>,
    /// How long a worker holds a job without renewing its lease; a job whose worker died is
    /// taken over by another once this runs out.
    pub job_lease: Duration,
}

impl ServerConfig {
    /// The defaults with this signing secret: 15-minute access tokens, 7-day refresh tokens,
    /// no CORS origin, 1 MiB bodies, 30-second requests.
    #[must_use]
    pub fn new(jwt_secret: Vec<u8>) -> Self {
        Self {
            jwt_secret,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            cors_origins: Vec::new(),
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            repo_policy: RepoPolicy::default(),
            provider: None,
            job_lease: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("jwt_secret", &"<redacted>")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("cors_origins", &self.cors_origins)
            .field("body_limit", &self.body_limit)
            .field("request_timeout", &self.request_timeout)
            .field("repo_policy", &self.repo_policy)
            .field(
                "provider",
                &self
                    .provider
                    .as_ref()
                    .map(|p| (p.provider.name(), p.model())),
            )
            .field("job_lease", &self.job_lease)
            .finish()
    }
}

/// The shared state of the router. Cloning is cheap (one `Arc`).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Storage>,
    jwt: JwtKeys,
    config: ServerConfig,
    metrics: Option<PrometheusHandle>,
    jobs: Arc<JobHub>,
    sessions: Arc<SessionCache>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state over `store` with `config`. The signing secret must be at least 32 bytes.
    pub fn new(store: Arc<dyn Storage>, config: ServerConfig) -> Result<Self, ConfigError> {
        if config.jwt_secret.len() < 32 {
            return Err(ConfigError(format!(
                "the JWT secret is {} bytes long; it must be at least 32",
                config.jwt_secret.len()
            )));
        }
        let jwt = JwtKeys::new(&config.jwt_secret, config.access_ttl);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                jwt,
                config,
                metrics: None,
                jobs: Arc::new(JobHub::default()),
                sessions: Arc::new(SessionCache::default()),
            }),
        })
    }

    /// Serves Prometheus metrics at `/metrics` from `handle` (see [`crate::metrics_recorder`]).
    #[must_use]
    pub fn with_metrics(self, handle: PrometheusHandle) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            store: Arc::clone(&shared.store),
            jwt: shared.jwt.clone(),
            config: shared.config.clone(),
            metrics: None,
            jobs: Arc::clone(&shared.jobs),
            sessions: Arc::clone(&shared.sessions),
        });
        Self {
            inner: Arc::new(Inner {
                metrics: Some(handle),
                ..inner
            }),
        }
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &dyn Storage {
        &*self.inner.store
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    pub(crate) fn jwt(&self) -> &JwtKeys {
        &self.inner.jwt
    }

    /// The wake-ups and stop switches of this instance's jobs.
    #[must_use]
    pub fn jobs(&self) -> &Arc<JobHub> {
        &self.inner.jobs
    }

    /// The sign-ins seen live lately.
    #[must_use]
    pub fn sessions(&self) -> &SessionCache {
        &self.inner.sessions
    }

    pub(crate) fn metrics(&self) -> Option<&PrometheusHandle> {
        self.inner.metrics.as_ref()
    }

    /// Records an audit event; a failure to record is logged, never shown to the caller.
    pub(crate) async fn audit(
        &self,
        action: &str,
        actor: Option<Uuid>,
        target: Option<String>,
        outcome: AuditOutcome,
        client: &crate::auth::ClientInfo,
    ) {
        let event = NewAuditEvent {
            actor_id: actor,
            action: action.to_owned(),
            target,
            outcome,
            ip: client.ip,
            user_agent: client.user_agent.clone(),
        };
        if let Err(error) = self.store().record_audit(&event).await {
            tracing::warn!(%error, action, "cannot record an audit event");
        }
    }
}

/// A configuration the server cannot start with.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);
