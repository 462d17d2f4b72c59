//! Repositories a user generates changelogs from, with where they live and when they were
//! last synchronised.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{StoreError, StoreResult};

/// Where a repository is hosted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RepositoryProvider {
    /// github.com or GitHub Enterprise.
    Github,
    /// gitlab.com or a GitLab instance.
    Gitlab,
    /// Azure DevOps.
    AzureDevops,
    /// A repository on the server's own disk.
    Local,
}

impl RepositoryProvider {
    /// The name stored in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::AzureDevops => "azure-devops",
            Self::Local => "local",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> StoreResult<Self> {
        Ok(match name {
            "github" => Self::Github,
            "gitlab" => Self::Gitlab,
            "azure-devops" => Self::AzureDevops,
            "local" => Self::Local,
            other => {
                return Err(StoreError::Invalid {
                    what: "repository provider",
                    reason: format!("`{other}` (expected github, gitlab, azure-devops or local)"),
                });
            }
        })
    }
}

/// A repository known to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// Stable identifier.
    pub id: Uuid,
    /// The user who added it.
    pub owner_id: Uuid,
    /// Where it is hosted.
    pub provider: RepositoryProvider,
    /// The host's own id for it (GitHub's numeric id, GitLab's project id), if any.
    pub external_id: Option<String>,
    /// Short name (`changelog`).
    pub name: String,
    /// Full name (`acme/changelog`), unique per owner and provider.
    pub full_name: String,
    /// Where to clone or browse it (a path for local repositories).
    pub url: String,
    /// Its default branch, if known.
    pub default_branch: Option<String>,
    /// When its commits were last fetched.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// The fields of a repository to add or refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRepository {
    /// The user adding it.
    pub owner_id: Uuid,
    /// Where it is hosted.
    pub provider: RepositoryProvider,
    /// The host's own id for it.
    pub external_id: Option<String>,
    /// Short name.
    pub name: String,
    /// Full name.
    pub full_name: String,
    /// Where to clone or browse it.
    pub url: String,
    /// Its default branch.
    pub default_branch: Option<String>,
}

/// Repositories.
#[async_trait]
pub trait RepositoryStore: Send + Sync {
    /// Adds a repository, or refreshes the one the owner already has under this provider and
    /// full name (its id, creation time and last sync are kept).
    async fn upsert_repository(&self, repository: &NewRepository) -> StoreResult<Repository>;

    /// The repository with this id.
    async fn repository(&self, id: Uuid) -> StoreResult<Repository>;

    /// A user's repositories, by full name.
    async fn repositories(&self, owner_id: Uuid) -> StoreResult<Vec<Repository>>;

    /// Records that the repository's commits were fetched at `at`.
    async fn mark_repository_synced(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<Repository>;

    /// Forgets a repository (its changelogs stay).
    async fn delete_repository(&self, id: Uuid) -> StoreResult<()>;
}
