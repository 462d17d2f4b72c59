//! Generation jobs: their state, their events (Server-Sent Events, resumable with
//! `Last-Event-ID`, or a WebSocket), and cancellation. Another user's job is 404.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use changelog_core::store::job::{Job, JobStatus};
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Caller, ClientInfo};
use crate::error::{ApiError, Json, Query};
use crate::jobs::{self, Frame};
use crate::openapi::{Forbidden, Invalid, NotFound, Unauthorized, UpgradeRequired};
use crate::routes::parse_id;
use crate::state::AppState;

/// A job as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Job)]
pub struct JobResponse {
    /// Id.
    pub id: Uuid,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: JobStatus,
    /// Progress, 0 to 100.
    pub progress: i32,
    /// What it is doing now.
    pub message: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The stored changelog, once succeeded.
    pub changelog_id: Option<Uuid>,
    /// How many times a worker took it.
    pub attempts: i32,
    /// Where its events are (Server-Sent Events).
    pub events_url: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Job> for JobResponse {
    fn from(job: Job) -> Self {
        Self {
            changelog_id: jobs::changelog_id(&job),
            events_url: format!("{}/jobs/{}/events", crate::API_PREFIX, job.id),
            id: job.id,
            status: job.status,
            progress: job.progress,
            message: job.message,
            error: job.error,
            attempts: job.attempts,
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}

/// The caller's job with this id; 404 for another user's or a missing one.
async fn owned(state: &AppState, caller: &Caller, id: &str) -> Result<Job, ApiError> {
    let uuid = parse_id("job", id)?;
    match state.store().job(uuid).await {
        Ok(job) if job.owner_id == Some(caller.user_id) => Ok(job),
        Ok(_) | Err(changelog_core::store::StoreError::NotFound { .. }) => {
            Err(ApiError::not_found("job", id))
        }
        Err(other) => Err(other.into()),
    }
}

/// The job id of a path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct JobId {
    /// The job's id.
    #[expect(
        dead_code,
        reason = "documents the path parameter; handlers read it as text"
    )]
    id: Uuid,
}

/// A job's state and progress.
#[utoipa::path(
    get,
    path = "/jobs/{id}",
    operation_id = "get_job",
    tag = "jobs",
    params(JobId),
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The job", body = JobResponse),
        Unauthorized,
        NotFound,
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobResponse>, ApiError> {
    Ok(Json(owned(&state, &caller, &id).await?.into()))
}

/// Cancels a job that has not finished; a finished one is returned as it is.
#[utoipa::path(
    delete,
    path = "/jobs/{id}",
    operation_id = "cancel_job",
    tag = "jobs",
    params(JobId),
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The job, cancelled unless it had finished", body = JobResponse),
        Unauthorized,
        Forbidden,
        NotFound,
    ),
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<Json<JobResponse>, ApiError> {
    caller.require_write()?;
    let job = owned(&state, &caller, &id).await?;
    let job = state.store().cancel_job(job.id).await?;
    state.jobs().stop(job.id);
    state.jobs().written(job.id);
    if job.status == JobStatus::Cancelled {
        metrics::counter!("changelog_jobs_total", "state" => "cancelled").increment(1);
    }
    state
        .audit(
            "job.cancel",
            Some(caller.user_id),
            Some(job.id.to_string()),
            changelog_core::store::AuditOutcome::Success,
            &client,
        )
        .await;
    Ok(Json(job.into()))
}

/// The event to resume after: `Last-Event-ID` (what browsers send on reconnecting), else the
/// `after` parameter, else the start.
fn resume_point(headers: &HeaderMap, after: Option<i64>) -> Result<i64, ApiError> {
    match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                ApiError::invalid("Last-Event-ID", "must be the id of an event (a number)")
            }),
        None => Ok(after.unwrap_or(0).max(0)),
    }
}

/// The query of the event routes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// Resume after this event (as `Last-Event-ID`).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// Where a follower resumes, as a header.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct LastEventId {
    /// The id of the last event seen (what browsers send on reconnecting).
    #[param(rename = "Last-Event-ID", pattern = "^[0-9]+$")]
    #[expect(
        dead_code,
        reason = "documents the header; handlers read it from the headers"
    )]
    last_event_id: Option<String>,
}

/// A job's events as Server-Sent Events: `attempt`, `progress`, `delta` (streamed text), then
/// `completed` (with the stored changelog), `failed` or `cancelled`, and the stream ends.
#[utoipa::path(
    get,
    path = "/jobs/{id}/events",
    operation_id = "job_events",
    tag = "jobs",
    params(JobId, EventParams, LastEventId),
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "Server-Sent Events: `id`, `event` (attempt, progress, delta, \
            completed, failed, cancelled) and JSON `data`", content_type = "text/event-stream", body = String),
        Unauthorized,
        NotFound,
        Invalid,
    ),
)]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<EventParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = owned(&state, &caller, &id).await?;
    let after = resume_point(&headers, params.after)?;
    let stream = jobs::follow(state, job.id, after).map(|frame| sse_event(&frame));
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn sse_event(frame: &Frame) -> Result<Event, std::convert::Infallible> {
    Ok(Event::default()
        .id(frame.id.to_string())
        .event(&frame.event)
        .data(frame.data.to_string()))
}

/// A job's events over a WebSocket: each a text message `{"id", "event", "data"}`, as the
/// Server-Sent Events carry them. The server pings every 15 seconds; a client's ping is
/// answered with a pong, and so is a text message `{"type": "ping"}`. The socket closes after
/// the last event.
#[utoipa::path(
    get,
    path = "/ws/jobs/{id}",
    operation_id = "job_websocket",
    tag = "jobs",
    params(JobId, EventParams),
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        UpgradeRequired,
        Unauthorized,
        NotFound,
        Invalid,
    ),
)]
pub async fn websocket(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<EventParams>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // The job is looked up first: another user's job is 404 whatever the request.
    let job = owned(&state, &caller, &id).await?;
    let after = resume_point(&headers, params.after)?;
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            format!("this route speaks WebSocket: {rejection}"),
        )
    })?;
    Ok(upgrade.on_upgrade(move |socket| relay(socket, state, job.id, after)))
}

async fn relay(mut socket: WebSocket, state: AppState, id: Uuid, after: i64) {
    let frames = jobs::follow(state, id, after);
    let mut frames = std::pin::pin!(frames);
    let mut ping = tokio::time::interval(Duration::from_secs(15));
    ping.tick().await;
    loop {
        tokio::select! {
            frame = frames.next() => {
                let Some(frame) = frame else { break };
                let text = serde_json::to_string(&frame).unwrap_or_default();
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let asks_ping = serde_json::from_str::<serde_json::Value>(&text)
                        .is_ok_and(|v| v["type"] == "ping");
                    if asks_ping {
                        let pong = r#"{"type":"pong"}"#;
                        if socket.send(Message::Text(pong.into())).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
