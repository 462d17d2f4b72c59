//! `changelog serve`, `changelog migrate` and `changelog user create`: configuration from
//! flags and the environment, development secrets, the store, graceful shutdown.

use std::io::{self, BufRead as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use changelog_core::llm::stack::StackConfig;
use changelog_core::source::git::RepoPolicy;
use changelog_core::store::NewUser;
use changelog_store::{Store, TokenKeys};
use clap::{Args, Subcommand};

use crate::cli::{CliError, ProviderArg};
use crate::jobs::Workers;
use crate::state::{AppState, ServerConfig};

/// The database a server uses when none is configured: a SQLite file in the working
/// directory.
pub(crate) const DEFAULT_DATABASE_URL: &str = "sqlite://changelog.db?mode=rwc";

// Secrets never appear in debug output.
impl std::fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field(
                "database_url",
                &changelog_core::redact::url(&self.database_url),
            )
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl std::fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeArgs")
            .field("bind", &self.bind)
            .field("database", &self.database)
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("cors_origins", &self.cors_origins)
            .field("body_limit", &self.body_limit)
            .field("request_timeout", &self.request_timeout)
            .field("repos_root", &self.repos_root)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("job_lease", &self.job_lease)
            .field("workers", &self.workers)
            .field("provider", &self.provider)
            .finish()
    }
}

impl ServeProviderArgs {
    /// The provider stack generation jobs use; `None` for `--provider none`.
    fn stack(&self) -> Option<StackConfig> {
        let provider = self.provider.kind()?;
        Some(StackConfig {
            model: self.model.clone(),
            fallback_models: self.fallback_models.clone(),
            base_url: self.base_url.clone(),
            ..StackConfig::new(provider)
        })
    }
}

/// Where the database is.
#[derive(Args)]
pub struct DatabaseArgs {
    /// The database: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        value_name = "URL",
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = DEFAULT_DATABASE_URL
    )]
    pub database_url: String,
    /// The key GitHub tokens are encrypted with at rest (64 hex digits). Without it, a
    /// development key is generated and kept beside a SQLite database.
    #[arg(
        long,
        value_name = "HEX",
        env = "CHANGELOG_ENCRYPTION_KEY",
        hide_env_values = true
    )]
    pub encryption_key: Option<String>,
}

/// Arguments of `changelog serve`.
#[derive(Args)]
#[command(
    after_help = "Every option can also be set with the environment variable shown. \
With no configuration the server listens on 127.0.0.1:8080, creates ./changelog.db, runs the \
migrations and generates development secrets, kept in ./changelog.db.secrets (mode 0600). \
Several instances sharing PostgreSQL need the same --jwt-secret and --encryption-key."
)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        env = "CHANGELOG_BIND",
        default_value = "127.0.0.1:8080"
    )]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The secret access tokens are signed with (at least 32 characters).
    #[arg(
        long,
        value_name = "SECRET",
        env = "CHANGELOG_JWT_SECRET",
        hide_env_values = true
    )]
    pub jwt_secret: Option<String>,
    /// Origins allowed to call the API from a browser (comma-separated); none by default.
    #[arg(
        long = "cors-origin",
        value_name = "ORIGIN",
        env = "CHANGELOG_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// The largest request body, in bytes; larger ones are answered 413.
    #[arg(long, value_name = "BYTES", env = "CHANGELOG_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Seconds a request may take before it is answered 408.
    #[arg(long, value_name = "SECONDS", env = "CHANGELOG_REQUEST_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout: u64,
    /// The directory local repositories may be read from by generation requests (a relative
    /// `repo_url` is read from it; `..` and symbolic links cannot leave it). Without it, only
    /// clones of HTTPS URLs.
    #[arg(long, value_name = "DIR", env = "CHANGELOG_REPOS_ROOT")]
    pub repos_root: Option<PathBuf>,
    /// The only hosts generation requests may clone from (comma-separated; `*.example.com`
    /// matches its subdomains). Without it, any public host.
    #[arg(
        long = "allowed-host",
        value_name = "HOST",
        env = "CHANGELOG_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Seconds a worker holds a job without renewing its lease; another instance takes the
    /// job over once it runs out.
    #[arg(long, value_name = "SECONDS", env = "CHANGELOG_JOB_LEASE", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub job_lease: u64,
    /// Generation workers per instance (for generation jobs).
    #[arg(long, value_name = "N", env = "CHANGELOG_WORKERS", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
    #[command(flatten)]
    pub provider: ServeProviderArgs,
}

/// The language-model settings of generation requests (as `changelog generate` takes them).
#[derive(Debug, Args)]
#[command(next_help_heading = "Language model")]
pub struct ServeProviderArgs {
    /// Who writes generated entries: none, simulated, openai or anthropic.
    #[arg(long, value_enum, env = "CHANGELOG_PROVIDER", default_value_t = ProviderArg::None)]
    pub provider: ProviderArg,
    /// The model.
    #[arg(long, value_name = "M", env = "CHANGELOG_MODEL")]
    pub model: Option<String>,
    /// Another model to try when the previous one fails; repeatable.
    #[arg(long = "fallback-model", value_name = "M")]
    pub fallback_models: Vec<String>,
    /// The provider's API base URL.
    #[arg(long, value_name = "URL", env = "CHANGELOG_BASE_URL")]
    pub base_url: Option<String>,
}

/// `changelog user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from standard input (one line) or
    /// CHANGELOG_USER_PASSWORD.
    Create(UserCreateArgs),
}

/// Arguments of `changelog user create`.
#[derive(Debug, Args)]
pub struct UserCreateArgs {
    /// The login name.
    #[arg(long)]
    pub username: String,
    /// The e-mail address.
    #[arg(long)]
    pub email: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Development secrets kept beside a SQLite database.
struct Secrets {
    jwt: String,
    encryption: String,
}

/// The file beside a SQLite database, or `None` for other databases and in-memory SQLite.
fn secrets_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite://")?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    let mut file = PathBuf::from(path).into_os_string();
    file.push(".secrets");
    Some(PathBuf::from(file))
}

fn random_hex() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Reads the development secrets beside the database, creating them (mode 0600) on first use.
fn development_secrets(path: &Path) -> Result<Secrets, CliError> {
    let read = |text: &str| {
        let mut jwt = None;
        let mut encryption = None;
        for line in text.lines() {
            match line.split_once('=') {
                Some(("CHANGELOG_JWT_SECRET", v)) => jwt = Some(v.trim().to_owned()),
                Some(("CHANGELOG_ENCRYPTION_KEY", v)) => encryption = Some(v.trim().to_owned()),
                _ => {}
            }
        }
        jwt.zip(encryption)
            .map(|(jwt, encryption)| Secrets { jwt, encryption })
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            return read(&text).ok_or_else(|| {
                CliError::Usage(format!(
                    "`{}` does not hold CHANGELOG_JWT_SECRET and CHANGELOG_ENCRYPTION_KEY",
                    path.display()
                ))
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(CliError::Input {
                path: path.to_owned(),
                source,
            });
        }
    }
    let secrets = Secrets {
        jwt: random_hex(),
        encryption: random_hex(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = |options: &std::fs::OpenOptions| -> io::Result<()> {
        let mut file = options.open(path)?;
        writeln!(
            file,
            "# Development secrets of changelog serve. Set CHANGELOG_JWT_SECRET and\n\
             # CHANGELOG_ENCRYPTION_KEY in production instead.\n\
             CHANGELOG_JWT_SECRET={}\nCHANGELOG_ENCRYPTION_KEY={}",
            secrets.jwt, secrets.encryption
        )?;
        file.sync_all()
    };
    write(&options).map_err(|source| CliError::Output {
        path: path.to_owned(),
        source,
    })?;
    tracing::warn!(
        file = %path.display(),
        "no JWT secret or encryption key configured: generated development secrets; \
         set CHANGELOG_JWT_SECRET and CHANGELOG_ENCRYPTION_KEY in production"
    );
    Ok(secrets)
}

/// The secrets to use: configured ones, else development ones beside a SQLite database.
fn secrets(
    database: &DatabaseArgs,
    jwt_secret: Option<&str>,
    need_jwt: bool,
) -> Result<(Option<String>, TokenKeys), CliError> {
    let stored = if (need_jwt && jwt_secret.is_none()) || database.encryption_key.is_none() {
        match secrets_path(&database.database_url) {
            Some(path) => Some(development_secrets(&path)?),
            None => {
                return Err(CliError::Usage(
                    "this database keeps no development secrets: set CHANGELOG_JWT_SECRET \
                     (--jwt-secret) and CHANGELOG_ENCRYPTION_KEY (--encryption-key)"
                        .into(),
                ));
            }
        }
    } else {
        None
    };
    let jwt = jwt_secret
        .map(str::to_owned)
        .or_else(|| stored.as_ref().map(|s| s.jwt.clone()));
    let key_hex = database
        .encryption_key
        .clone()
        .or_else(|| stored.as_ref().map(|s| s.encryption.clone()))
        .unwrap_or_default();
    let key = TokenKeys::parse_hex_key(&key_hex)
        .map_err(|e| CliError::Usage(format!("invalid encryption key (--encryption-key): {e}")))?;
    Ok((jwt, TokenKeys::new("k1", &key)))
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // A blocking thread idle for a second ends (tokio's default is ten). Password hashes
        // run on them, 19 MiB each, and the allocator hands what a thread freed back to the
        // system when the thread ends: a burst of sign-ins had an idle server hold some 60 MB
        // more than it needs for those ten seconds.
        .thread_keep_alive(std::time::Duration::from_secs(1))
        .build()
        .map_err(CliError::Runtime)
}

async fn open(url: &str, keys: TokenKeys) -> Result<Store, CliError> {
    Store::open_with_keys(url, Some(keys))
        .await
        .map_err(|e| CliError::Failed(format!("cannot open the database: {}", chain(&e))))
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

pub(crate) fn init_logging() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // sqlx logs the connection parameters it does not know with their values (libpq's
    // `sslpassword`, say): never, whatever RUST_LOG asks for.
    if let Ok(quiet) = "sqlx_postgres::options::parse=off".parse() {
        filter = filter.add_directive(quiet);
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .try_init();
}

/// Runs the server until SIGTERM or Ctrl-C; requests in flight then finish.
pub(crate) fn serve(args: &ServeArgs) -> Result<(), CliError> {
    init_logging();
    let (jwt, keys) = secrets(&args.database, args.jwt_secret.as_deref(), true)?;
    let jwt = jwt.unwrap_or_default();
    if let Some(root) = &args.repos_root
        && !root.is_dir()
    {
        return Err(CliError::Usage(format!(
            "--repos-root `{}` is not a directory",
            root.display()
        )));
    }
    let mut repo_policy = RepoPolicy::default();
    repo_policy.local_roots = args.repos_root.iter().cloned().collect();
    if !args.allowed_hosts.is_empty() {
        repo_policy.allowed_hosts = Some(args.allowed_hosts.clone());
    }
    let config = ServerConfig {
        cors_origins: args.cors_origins.clone(),
        body_limit: args.body_limit,
        request_timeout: Duration::from_secs(args.request_timeout),
        repo_policy,
        provider: args.provider.stack(),
        job_lease: Duration::from_secs(args.job_lease),
        ..ServerConfig::new(jwt.into_bytes())
    };
    let runtime = runtime()?;
    runtime.block_on(async {
        // A write to a closed pipe (a log reader gone) is an error to that write, never the
        // end of the server, whatever the disposition the process started with (see main's
        // `without_huge_pages`): the signal is caught for as long as the server runs.
        #[cfg(unix)]
        let _closed_pipes = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::pipe());
        let store = open(&args.database.database_url, keys).await?;
        let state = AppState::new(store.storage(), config)
            .map_err(|e| CliError::Usage(format!("--jwt-secret: {e}")))?
            .with_metrics(crate::metrics_recorder());
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .map_err(|e| CliError::Failed(format!("cannot listen on {}: {e}", args.bind)))?;
        let local = listener.local_addr().map_err(CliError::Runtime)?;
        tracing::info!(address = %local, workers = args.workers, "listening");
        let workers = Workers::start(&state, usize::from(args.workers));
        let hub = std::sync::Arc::clone(state.jobs());
        let stopping = async move {
            shutdown_signal().await;
            // Followers of jobs end their streams (they resume on another instance), and
            // running jobs go back to the queue, before the requests in flight are awaited.
            hub.close();
            workers.shutdown().await;
        };
        // Each answer and each streamed event goes out when written: with Nagle's algorithm a
        // small write waits for the peer to acknowledge the one before it, and a token event
        // would wait on the client's delayed acknowledgement (up to 40 ms on Linux).
        let listener =
            axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY");
                }
            });
        axum::serve(
            listener,
            crate::router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopping)
        .await
        .map_err(CliError::Runtime)?;
        tracing::info!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Creates the database if needed and runs the migrations.
pub(crate) fn migrate(args: &DatabaseArgs) -> Result<(), CliError> {
    init_logging();
    let (_, keys) = secrets(args, None, false)?;
    runtime()?.block_on(async {
        open(&args.database_url, keys).await?;
        let _ = writeln!(io::stdout().lock(), "the database is migrated");
        Ok(())
    })
}

/// Creates an account from the command line.
pub(crate) fn user(command: &UserCommand) -> Result<(), CliError> {
    let UserCommand::Create(args) = command;
    init_logging();
    let password = match std::env::var("CHANGELOG_USER_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|source| CliError::Input {
                    path: PathBuf::from("<stdin>"),
                    source,
                })?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let email = args.email.trim().to_lowercase();
    crate::routes::auth::check_account(&args.username, &email, &password)
        .map_err(|e| CliError::Usage(e.detail().to_owned()))?;
    let (_, keys) = secrets(&args.database, None, false)?;
    runtime()?.block_on(async {
        let store = open(&args.database.database_url, keys).await?;
        let hash = crate::auth::password::hash(password)
            .await
            .map_err(|e| CliError::Failed(e.detail().to_owned()))?;
        let user = store
            .create_user(&NewUser {
                username: args.username.clone(),
                email,
                password_hash: Some(hash),
                ..NewUser::default()
            })
            .await
            .map_err(|e| CliError::Failed(format!("cannot create the user: {e}")))?;
        let _ = writeln!(
            io::stdout().lock(),
            "created user {} ({})",
            user.username,
            user.id
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::cli::{Cli, Command};

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let cli = Cli::try_parse_from([
            "changelog",
            "serve",
            "--jwt-secret",
            "jwt-secret-jwt-secret-jwt-secret-1234",
            "--encryption-key",
            &"ab".repeat(32),
            "--database-url",
            "postgres://app:db-password@db.internal/changelog?sslpassword=hunter2",
        ])
        .expect("arguments");
        let Command::Serve(args) = &cli.command else {
            panic!("serve");
        };
        let shown = format!("{cli:?} {args:?}");
        for secret in ["jwt-secret-jwt", &"ab".repeat(32), "db-password", "hunter2"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(shown.contains("db.internal"), "{shown}");
    }
}
