//! `Store`: saved changelogs on SQLite or PostgreSQL, through changelog-store.
//!
//! Every changelog in a store has an owner. A `Store` acts for one user, named by `user=`
//! (`"local"` by default), created on first use: Python callers that have no accounts of their
//! own need not know about them, and a server's users are reachable by name.
//!
//! URLs, in the forms Python code already uses:
//!
//! | URL | database |
//! |---|---|
//! | `sqlite:///changelogs.db` | `changelogs.db`, relative to the working directory |
//! | `sqlite:////var/lib/app/changelogs.db` | an absolute path (four slashes) |
//! | `sqlite://` or `sqlite:///:memory:` | in memory, gone when the `Store` is |
//! | `postgres://user@host/db` (also `postgresql://`, `postgresql+psycopg://`) | PostgreSQL |
//!
//! An SQLite file is created when missing; the schema is migrated on open.

use std::sync::{Mutex, PoisonError};

use changelog_core::store::{
    ChangelogQuery, ChangelogSort, ChangelogUpdate, ChangelogVersion, Direction, NewUser,
    StoreError as CoreStoreError, TagMatch,
};
use changelog_store::Store;
use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::PyList;
use uuid::Uuid;

use crate::errors::Failure;
use crate::generate::read_date;
use crate::types::{PyChangelog, quote, quote_option};
use crate::wait::wait;
use changelog_core::redact;
use changelog_core::request::Generated;

/// The URL sqlx understands for a URL as Python code writes it.
fn sqlx_url(url: &str) -> Result<String, Failure> {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        // SQLAlchemy's convention: `sqlite:///relative.db`, `sqlite:////absolute.db`.
        let path = location
            .strip_prefix("///")
            .or_else(|| location.strip_prefix("//"))
            .unwrap_or(location);
        if path.is_empty() || path == ":memory:" {
            return Ok(IN_MEMORY.to_owned());
        }
        let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
        if !params.iter().any(|p| p.starts_with("mode=")) {
            params.push("mode=rwc");
        }
        return Ok(format!("sqlite://{path}?{}", params.join("&")));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(Failure::Argument(format!(
            "invalid store URL `{}`: expected sqlite:///PATH or postgres://...",
            redact::url(url)
        )));
    };
    // `postgresql+psycopg://...` (SQLAlchemy's driver suffix) is PostgreSQL all the same.
    let scheme = scheme
        .split_once('+')
        .map_or(scheme, |(base, _driver)| base);
    Ok(format!("{scheme}://{rest}"))
}

/// The user a store acts for: found by name, created on first use.
async fn ensure_user(store: &Store, username: &str) -> Result<Uuid, Failure> {
    if let Some(user) = store.user_by_username(username).await? {
        return Ok(user.id);
    }
    let new = NewUser {
        username: username.to_owned(),
        email: format!("{username}@localhost"),
        ..NewUser::default()
    };
    match store.create_user(&new).await {
        Ok(user) => Ok(user.id),
        // Another process created it in between.
        Err(CoreStoreError::Duplicate { .. }) => store
            .user_by_username(username)
            .await?
            .map(|user| user.id)
            .ok_or_else(|| {
                Failure::Argument(format!(
                    "user `{username}` cannot be created: its e-mail address is taken"
                ))
            }),
        Err(error) => Err(error.into()),
    }
}

fn parse_id(id: &str) -> Result<Uuid, Failure> {
    Uuid::parse_str(id.trim())
        .map_err(|_| Failure::Argument(format!("invalid changelog id `{id}`: expected a UUID")))
}

fn parse_sort(sort: &str) -> Result<ChangelogSort, Failure> {
    Ok(match sort {
        "created" => ChangelogSort::Created,
        "updated" => ChangelogSort::Updated,
        "title" => ChangelogSort::Title,
        "version" => ChangelogSort::Version,
        other => {
            return Err(Failure::Argument(format!(
                "unknown sort `{other}`: expected created, updated, title or version"
            )));
        }
    })
}

fn parse_direction(direction: &str) -> Result<Direction, Failure> {
    match direction {
        "asc" => Ok(Direction::Asc),
        "desc" => Ok(Direction::Desc),
        other => Err(Failure::Argument(format!(
            "unknown direction `{other}`: expected asc or desc"
        ))),
    }
}

fn parse_tag_match(tag_match: &str) -> Result<TagMatch, Failure> {
    match tag_match {
        "any" => Ok(TagMatch::Any),
        "all" => Ok(TagMatch::All),
        other => Err(Failure::Argument(format!(
            "unknown tag_match `{other}`: expected any or all"
        ))),
    }
}

/// Saved changelogs, on SQLite or PostgreSQL.
#[pyclass(name = "Store", module = "changelog", frozen)]
pub(crate) struct PyStore {
    opened: Mutex<Opened>,
    /// The URL as sqlx reads it, to open the store again in a forked child.
    target: String,
    owner: Uuid,
    user: String,
    url: String,
}

/// A store's connections and the process they belong to.
struct Opened {
    pid: u32,
    store: Store,
}

/// Opens the store at `target` (`shown` is its URL without a password, for messages).
async fn open(target: &str, shown: &str) -> Result<Store, Failure> {
    Store::open(target).await.map_err(|error| match error {
        changelog_store::Error::UnsupportedUrl { .. } => Failure::Open(error),
        error => Failure::Store(CoreStoreError::backend(
            format!("cannot open the store at `{shown}`"),
            error,
        )),
    })
}

impl PyStore {
    /// Runs an operation on the store with the GIL released.
    fn run<T, F, Fut>(&self, py: Python<'_>, operation: F) -> PyResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Store, Uuid) -> Fut,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        let store = self.store(py)?;
        wait(py, operation(store, self.owner))
    }

    /// The store's connections in this process. A child made by `fork()` inherits the parent's
    /// pool as memory only (SQLite connections live on the parent's threads, PostgreSQL ones
    /// are sockets the parent goes on using): its first call opens the store again, and the
    /// parent's pool is left untouched (leaked, never closed from the child).
    fn store(&self, py: Python<'_>) -> PyResult<Store> {
        let pid = std::process::id();
        {
            let opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
            if opened.pid == pid {
                return Ok(opened.store.clone());
            }
        }
        if self.target == IN_MEMORY {
            return Err(Failure::Store(CoreStoreError::backend(
                "an in-memory store cannot be used in a process made by fork() after it was opened",
                "its data lives in the parent's connection; open the store in the child, \
                 or use an SQLite file or PostgreSQL, which a forked child opens again",
            ))
            .into_pyerr(py));
        }
        let (target, shown) = (self.target.clone(), self.url.clone());
        let fresh = wait(py, async move { open(&target, &shown).await })?;
        let mut opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        if opened.pid != pid {
            let parents = std::mem::replace(&mut *opened, Opened { pid, store: fresh });
            std::mem::forget(parents);
        }
        Ok(opened.store.clone())
    }
}

/// The URL of an SQLite database in memory, as [`sqlx_url`] writes it.
const IN_MEMORY: &str = "sqlite::memory:";

#[pymethods]
impl PyStore {
    /// Opens (and migrates) the store at `url`, acting for `user` (created on first use).
    #[new]
    #[pyo3(signature = (url, *, user = "local"))]
    fn new(py: Python<'_>, url: &str, user: &str) -> PyResult<Self> {
        let shown = redact::url(url);
        let target = sqlx_url(url).map_err(|failure| failure.into_pyerr(py))?;
        let user = user.trim().to_owned();
        if user.is_empty() {
            return Err(Failure::Argument("user must not be empty".to_owned()).into_pyerr(py));
        }
        let (opening, opened) = (target.clone(), shown.clone());
        let name = user.clone();
        let (store, owner) = wait(py, async move {
            let store = open(&opening, &opened).await?;
            let owner = ensure_user(&store, &name).await?;
            Ok((store, owner))
        })?;
        Ok(Self {
            opened: Mutex::new(Opened {
                pid: std::process::id(),
                store,
            }),
            target,
            owner,
            user,
            url: shown,
        })
    }

    /// The store's URL, without its password.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// The user the store acts for.
    #[getter]
    fn user(&self) -> &str {
        &self.user
    }

    /// Saves a changelog as a new stored changelog (revision 1) and returns it as stored, with
    /// its `id`, `revision` and normalised tags.
    #[pyo3(signature = (changelog, *, public = false))]
    fn save(&self, py: Python<'_>, changelog: &PyChangelog, public: bool) -> PyResult<PyChangelog> {
        let new = Generated {
            changelog: changelog.document.clone(),
            content: Some(changelog.markdown().to_owned()),
            source: changelog.source,
            tags: changelog.tags.clone(),
            commit_range: changelog.commit_range.clone(),
            repository: changelog.repository.clone(),
        }
        .into_new_changelog(self.owner, public);
        self.run(py, |store, _| async move {
            Ok(PyChangelog::from_record(
                store.create_changelog(&new).await?,
            ))
        })
    }

    /// The stored changelog with this id.
    fn get(&self, py: Python<'_>, id: &str) -> PyResult<PyChangelog> {
        let id = parse_id(id).map_err(|failure| failure.into_pyerr(py))?;
        self.run(py, |store, _| async move {
            Ok(PyChangelog::from_record(store.changelog(id).await?))
        })
    }

    /// Changes a stored changelog if it is still at `revision`, making a new revision (the
    /// previous one is kept); a stale revision raises `ConflictError`. Arguments left `None`
    /// keep their value; `version=""` clears the version. `changelog=` replaces the title,
    /// version, content and document with a newly generated changelog's. New `content` alone
    /// drops the structured document, which no longer describes it.
    #[pyo3(signature = (id, *, revision, title = None, version = None, content = None, tags = None, public = None, changelog = None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "one keyword argument per field that can change"
    )]
    fn update(
        &self,
        py: Python<'_>,
        id: &str,
        revision: i64,
        title: Option<String>,
        version: Option<String>,
        content: Option<String>,
        tags: Option<Vec<String>>,
        public: Option<bool>,
        changelog: Option<&PyChangelog>,
    ) -> PyResult<PyChangelog> {
        let id = parse_id(id).map_err(|failure| failure.into_pyerr(py))?;
        let mut update = ChangelogUpdate {
            is_public: public,
            tags,
            ..ChangelogUpdate::default()
        };
        if let Some(generated) = changelog {
            update.title = Some(generated.document.title.clone());
            update.version = Some(generated.document.version.clone());
            update.content = Some(generated.markdown().to_owned());
            update.document = Some(match generated.source {
                changelog_core::store::ChangelogSource::Git => Some(generated.document.clone()),
                changelog_core::store::ChangelogSource::Manual => None,
            });
        }
        if let Some(title) = title {
            update.title = Some(title);
        }
        if let Some(version) = version {
            update.version = Some(Some(version).filter(|v| !v.is_empty()));
        }
        if let Some(content) = content {
            update.content = Some(content);
            if changelog.is_none() {
                update.document = Some(None);
            }
        }
        self.run(py, |store, owner| async move {
            let record = store
                .update_changelog(id, revision, &update, Some(owner))
                .await?;
            Ok(PyChangelog::from_record(record))
        })
    }

    /// Every kept revision of a stored changelog, oldest first.
    fn versions(&self, py: Python<'_>, id: &str) -> PyResult<Vec<PyChangelogVersion>> {
        let id = parse_id(id).map_err(|failure| failure.into_pyerr(py))?;
        self.run(py, |store, _| async move {
            Ok(store
                .versions(id)
                .await?
                .into_iter()
                .map(PyChangelogVersion::from)
                .collect())
        })
    }

    /// Deletes a stored changelog with its revisions.
    fn delete(&self, py: Python<'_>, id: &str) -> PyResult<()> {
        let id = parse_id(id).map_err(|failure| failure.into_pyerr(py))?;
        self.run(py, |store, _| async move {
            store.delete_changelog(id).await?;
            Ok(())
        })
    }

    /// One page of stored changelogs, filtered and sorted as the server's listing is. `owner`
    /// is a user name (`None`: everyone's); `tags` match any (`tag_match="all"`: all) of the
    /// tags; `created_since` is inclusive and `created_until` exclusive; `text` searches titles
    /// and content (every word must occur). Pass a page's `next_cursor` as `cursor` for the
    /// next one. `limit` is capped at 100.
    #[pyo3(signature = (*, owner = None, version = None, tags = None, tag_match = "any", created_since = None, created_until = None, repository = None, public = None, text = None, sort = "created", direction = "desc", limit = 20, cursor = None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "the listing's filters, as keyword arguments"
    )]
    fn list<'py>(
        &self,
        py: Python<'py>,
        owner: Option<String>,
        version: Option<String>,
        tags: Option<Vec<String>>,
        tag_match: &str,
        created_since: Option<&Bound<'py, PyAny>>,
        created_until: Option<&Bound<'py, PyAny>>,
        repository: Option<String>,
        public: Option<bool>,
        text: Option<String>,
        sort: &str,
        direction: &str,
        limit: i64,
        cursor: Option<String>,
    ) -> PyResult<PyPage> {
        let query = (|| {
            if !(1..=i64::from(u32::MAX)).contains(&limit) {
                return Err(Failure::Argument(format!(
                    "limit {limit} must be a positive number of rows"
                )));
            }
            Ok(ChangelogQuery {
                owner_id: None,
                version,
                tags: tags.unwrap_or_default(),
                tag_match: parse_tag_match(tag_match)?,
                created_since: read_date(created_since, "created_since", false)?
                    .map(|t| t.with_timezone(&Utc)),
                created_until: read_date(created_until, "created_until", false)?
                    .map(|t| t.with_timezone(&Utc)),
                repository,
                is_public: public,
                status: None,
                text,
                sort: parse_sort(sort)?,
                direction: parse_direction(direction)?,
                limit: u32::try_from(limit).unwrap_or(u32::MAX),
                cursor,
                // Python's changelogs carry their documents (sections, entries, commits).
                skip_documents: false,
            })
        })()
        .map_err(|failure| failure.into_pyerr(py))?;
        let (items, next_cursor) = self.run(py, |store, _| async move {
            let mut query = query;
            if let Some(name) = owner {
                match store.user_by_username(&name).await? {
                    Some(user) => query.owner_id = Some(user.id),
                    // Nobody of that name owns anything.
                    None => return Ok((Vec::new(), None)),
                }
            }
            let page = store.list_changelogs(&query).await?;
            let items: Vec<PyChangelog> = page
                .items
                .into_iter()
                .map(PyChangelog::from_record)
                .collect();
            Ok((items, page.next_cursor))
        })?;
        Ok(PyPage {
            items: PyList::new(py, items)?.unbind(),
            next_cursor,
        })
    }

    /// Every tag in the store, sorted.
    fn tags(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.run(py, |store, _| async move { Ok(store.tags().await?) })
    }

    fn __repr__(&self) -> String {
        format!(
            "Store(url={}, user={})",
            quote(&self.url),
            quote(&self.user)
        )
    }
}

/// One page of a listing.
#[pyclass(name = "Page", module = "changelog", frozen)]
pub(crate) struct PyPage {
    items: Py<PyList>,
    next_cursor: Option<String>,
}

#[pymethods]
impl PyPage {
    /// The changelogs of the page, in order.
    #[getter]
    fn items(&self, py: Python<'_>) -> Py<PyList> {
        self.items.clone_ref(py)
    }

    /// Pass it as `cursor=` to get the next page; `None` on the last page.
    #[getter]
    fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.items.bind(py).len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.items.bind(py).try_iter()?.into_any())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Page(items={}, next_cursor={})",
            self.items.bind(py).len(),
            quote_option(self.next_cursor.as_deref())
        )
    }
}

/// One kept revision of a stored changelog.
#[pyclass(name = "ChangelogVersion", module = "changelog", frozen, get_all)]
pub(crate) struct PyChangelogVersion {
    /// The changelog's id.
    changelog_id: String,
    /// The revision number.
    revision: i64,
    /// Title at that revision.
    title: String,
    /// Version at that revision.
    version: Option<String>,
    /// Markdown at that revision.
    content: String,
    /// Tags at that revision.
    tags: Vec<String>,
    /// The id of the user who wrote the revision, if known.
    edited_by: Option<String>,
    /// When the revision was written.
    created_at: DateTime<Utc>,
}

impl From<ChangelogVersion> for PyChangelogVersion {
    fn from(version: ChangelogVersion) -> Self {
        Self {
            changelog_id: version.changelog_id.to_string(),
            revision: version.revision,
            title: version.title,
            version: version.version,
            content: version.content,
            tags: version.tags,
            edited_by: version.edited_by.map(|id| id.to_string()),
            created_at: version.created_at,
        }
    }
}

#[pymethods]
impl PyChangelogVersion {
    fn __repr__(&self) -> String {
        format!(
            "ChangelogVersion(changelog_id={}, revision={}, title={})",
            quote(&self.changelog_id),
            self.revision,
            quote(&self.title)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> String {
        sqlx_url(text).unwrap()
    }

    #[test]
    fn sqlite_urls_follow_sqlalchemy() {
        assert_eq!(
            url("sqlite:///changelogs.db"),
            "sqlite://changelogs.db?mode=rwc"
        );
        assert_eq!(url("sqlite:////var/x.db"), "sqlite:///var/x.db?mode=rwc");
        assert_eq!(url("sqlite://rel.db?mode=ro"), "sqlite://rel.db?mode=ro");
        assert_eq!(
            url("sqlite:///a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(url("sqlite://"), "sqlite::memory:");
        assert_eq!(url("sqlite:///:memory:"), "sqlite::memory:");
    }

    #[test]
    fn postgres_urls_lose_the_driver_suffix() {
        assert_eq!(url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            url("postgresql+psycopg://u:p@h:5432/db"),
            "postgresql://u:p@h:5432/db"
        );
        assert!(sqlx_url("changelogs.db").is_err());
    }
}
