//! Persistence for the changelog engine, on sqlx: an SQLite file as the embedded default and
//! PostgreSQL for teams sharing one database between several server instances.
//!
//! Both backends implement every store trait of the core (everything
//! [`Storage`](changelog_core::store::Storage) gathers: users, changelogs, annotations, API
//! keys, refresh tokens, repositories, jobs, usage, the audit log, cache entries) with the
//! same SQL where the dialects agree, and embed their own migrations, which run on open.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use changelog_core::store::ChangelogQuery;
//!
//! let store = changelog_store::Store::open("sqlite://changelogs.db?mode=rwc").await?;
//! let page = store.list_changelogs(&ChangelogQuery::default()).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("enable at least one of the features `sqlite` and `postgres`");

mod crypto;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::ops::Deref;
use std::sync::Arc;

use changelog_core::redact;
use changelog_core::store::{Storage, StoreError};

pub use crypto::TokenKeys;

/// What can go wrong opening a store. Errors of the store operations themselves are the core's
/// [`StoreError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL names no backend this build supports.
    #[error("unsupported database URL `{location}`: expected sqlite:// or postgres://")]
    UnsupportedUrl {
        /// The URL's scheme, or the text before its first `:` (never a password).
        scheme: String,
        /// The URL without its password ([`changelog_core::redact::url`]).
        location: String,
    },

    /// The URL names a backend whose feature is not compiled in.
    #[error("this build has no {backend} support (enable the `{backend}` feature)")]
    BackendDisabled {
        /// `sqlite` or `postgres`.
        backend: &'static str,
    },

    /// Connecting failed.
    #[error("cannot connect to the {backend} database{}", at(location.as_deref()))]
    Connect {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The URL without its password, when the store was opened from a URL.
        location: Option<String>,
        /// What the driver said.
        #[source]
        source: sqlx::Error,
    },

    /// Another process's migration of the same SQLite file could not be waited for.
    #[error("cannot lock `{}` to migrate the database", path.display())]
    MigrationLock {
        /// The lock file beside the database.
        path: std::path::PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },

    /// Running the migrations failed.
    #[error("cannot migrate the database")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

fn at(location: Option<&str>) -> String {
    location.map_or_else(String::new, |location| format!(" at `{location}`"))
}

impl Error {
    /// The error, naming the URL (without its password) it is about.
    pub(crate) fn at_url(self, url: &str) -> Self {
        match self {
            Self::Connect {
                backend,
                location: None,
                source,
            } => Self::Connect {
                backend,
                location: Some(redact::url(url)),
                source,
            },
            other => other,
        }
    }
}

pub(crate) fn no_keys() -> StoreError {
    StoreError::Invalid {
        what: "configuration",
        reason: "no token encryption key is configured".into(),
    }
}

/// A store on whichever backend its URL names, usable as `dyn Storage`.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn Storage>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `url` (`sqlite://path?mode=rwc`, `postgres://...`) and runs its
    /// migrations. Without token keys, storing a GitHub token is refused.
    pub async fn open(url: &str) -> Result<Self, Error> {
        Self::open_with_keys(url, None).await
    }

    /// Like [`Store::open`], with the keys GitHub tokens are encrypted with.
    pub async fn open_with_keys(url: &str, keys: Option<TokenKeys>) -> Result<Self, Error> {
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        let inner: Arc<dyn Storage> = match scheme {
            "sqlite" => {
                #[cfg(feature = "sqlite")]
                {
                    Arc::new(sqlite::SqliteStore::open(url, keys).await?)
                }
                #[cfg(not(feature = "sqlite"))]
                {
                    return Err(Error::BackendDisabled { backend: "sqlite" });
                }
            }
            "postgres" | "postgresql" => {
                #[cfg(feature = "postgres")]
                {
                    Arc::new(postgres::PgStore::open(url, keys).await?)
                }
                #[cfg(not(feature = "postgres"))]
                {
                    return Err(Error::BackendDisabled {
                        backend: "postgres",
                    });
                }
            }
            other => {
                // Scheme-less `user:pw@host` text: the part before `:` is a user name.
                let scheme = if other.contains('@') {
                    String::new()
                } else {
                    other.to_owned()
                };
                return Err(Error::UnsupportedUrl {
                    scheme,
                    location: redact::url(url),
                });
            }
        };
        Ok(Self { inner })
    }

    /// Wraps an already opened store (a backend store, or the core's memory store).
    #[must_use]
    pub fn from_storage(inner: Arc<dyn Storage>) -> Self {
        Self { inner }
    }

    /// The store as a shared trait object.
    #[must_use]
    pub fn storage(&self) -> Arc<dyn Storage> {
        Arc::clone(&self.inner)
    }
}

impl Deref for Store {
    type Target = dyn Storage;

    fn deref(&self) -> &Self::Target {
        &*self.inner
    }
}
