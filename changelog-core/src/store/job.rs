//! Generation jobs: queued by one server instance, claimed under a lease by any worker.
//!
//! A claim takes the oldest job that is queued, or running under a lease that has expired (its
//! worker died), marks it running under the claimer's lease and counts the attempt. Two
//! workers never hold the same job: SQL stores claim with one atomic statement (`FOR UPDATE
//! SKIP LOCKED` on PostgreSQL, SQLite's single writer). Only the lease holder can report
//! progress or finish; a worker whose lease expired and was taken over gets `NotFound`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{StoreError, StoreResult};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// Held by a worker under a lease.
    Running,
    /// Done, with a result.
    Succeeded,
    /// Done, with an error.
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl JobStatus {
    /// The name stored in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> StoreResult<Self> {
        Ok(match name {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            other => {
                return Err(StoreError::Invalid {
                    what: "job status",
                    reason: format!("`{other}`"),
                });
            }
        })
    }
}

/// A generation job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Stable identifier.
    pub id: Uuid,
    /// The user who asked, if any.
    pub owner_id: Option<Uuid>,
    /// Where it is.
    pub status: JobStatus,
    /// Progress, 0 to 100.
    pub progress: i32,
    /// What it is doing now.
    pub message: Option<String>,
    /// What was asked (the generation request).
    pub request: serde_json::Value,
    /// What came out, once succeeded.
    pub result: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// How many times it was claimed.
    pub attempts: i32,
    /// The worker holding it.
    pub lease_owner: Option<String>,
    /// When that worker's lease runs out.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobOutcome {
    /// With this result.
    Succeeded(serde_json::Value),
    /// With this error.
    Failed(String),
}

/// Something a job reported while it ran: progress, streamed text. Numbered from 1 in the
/// order it was written, across attempts, so that a follower resumes after the last it saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// Its place in the job's events, from 1.
    pub seq: i64,
    /// What it is (`progress`, `delta`, ...).
    pub kind: String,
    /// Its payload.
    pub data: serde_json::Value,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// The most events one [`JobStore::job_events`] call returns.
pub const MAX_EVENTS_PER_READ: u32 = 1000;

/// The job queue.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Queues a job.
    async fn enqueue_job(
        &self,
        owner_id: Option<Uuid>,
        request: &serde_json::Value,
    ) -> StoreResult<Job>;

    /// The job with this id.
    async fn job(&self, id: Uuid) -> StoreResult<Job>;

    /// Claims the oldest claimable job for `worker` for `lease`, if there is one.
    async fn claim_job(&self, worker: &str, lease: Duration) -> StoreResult<Option<Job>>;

    /// Records progress and extends the lease; `NotFound` if `worker` no longer holds the job.
    async fn report_progress(
        &self,
        id: Uuid,
        worker: &str,
        progress: i32,
        message: Option<&str>,
        lease: Duration,
    ) -> StoreResult<Job>;

    /// Ends a job `worker` holds; `NotFound` if it no longer does.
    async fn finish_job(&self, id: Uuid, worker: &str, outcome: &JobOutcome) -> StoreResult<Job>;

    /// Gives a job `worker` holds back to the queue (its worker is stopping): queued again at
    /// once, the attempt not counted. `NotFound` if `worker` no longer holds it.
    async fn release_job(&self, id: Uuid, worker: &str) -> StoreResult<Job>;

    /// Appends events (kind, data) to a job `worker` holds; returns the last one's number.
    /// `NotFound` if `worker` no longer holds the job, and nothing is written.
    async fn append_job_events(
        &self,
        id: Uuid,
        worker: &str,
        events: &[(String, serde_json::Value)],
    ) -> StoreResult<i64>;

    /// A job's events numbered above `after`, in order, at most `limit` (capped at
    /// [`MAX_EVENTS_PER_READ`]).
    async fn job_events(&self, id: Uuid, after: i64, limit: u32) -> StoreResult<Vec<JobEvent>>;

    /// Cancels a job that has not finished (a finished job is returned unchanged); its worker
    /// then loses the lease.
    async fn cancel_job(&self, id: Uuid) -> StoreResult<Job>;
}

/// `now + lease`, saturating.
#[must_use]
pub fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
