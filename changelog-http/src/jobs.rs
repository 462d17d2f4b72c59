//! Generation jobs: what `POST /changelogs` with `source: "git"` queues, and the workers that
//! run them.
//!
//! A job lives in the store's leased queue, so any instance sharing the database may run it.
//! A worker claims a job under a lease, runs the core's one entry point
//! ([`changelog_core::request::generate`]) and writes what it reports (progress, streamed text)
//! as the job's events, renewing its lease as it goes. When the changelog is written it is
//! stored under the job's id (a job run twice stores one changelog), the owner's usage is
//! recorded from the provider's counts, and the job ends. A worker that loses its lease (the job
//! was cancelled, or another instance took it over after the lease ran out) stops at once; a
//! worker whose server is shutting down gives the job back to the queue.
//!
//! Followers ([`follow`]) read a job's events from the store, so a client may watch a job from
//! any instance and resume after the last event it saw; the instance running the job wakes its
//! own followers as soon as events are written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use changelog_core::llm::stack::StackConfig;
use changelog_core::pipeline::Observer;
use changelog_core::request::{self, Request};
use changelog_core::store::job::{Job, JobOutcome, JobStatus};
use changelog_core::store::{ChangelogRecord, ChangelogStatus, StoreError, UsageAmount, now};
use changelog_core::{ErrorKind, RangeQuery, Style};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast, mpsc, watch};
use uuid::Uuid;

use crate::state::AppState;

/// A job that was claimed this many times is not tried again: its workers keep dying on it.
pub const MAX_ATTEMPTS: i32 = 3;

/// How often an idle worker looks for jobs queued by other instances or left by dead workers.
const POLL: Duration = Duration::from_secs(1);

/// How long streamed text is gathered before it is written as one event.
const FLUSH: Duration = Duration::from_millis(100);

/// What a job was asked: the generation fields of `POST /changelogs`, as stored with the job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationSpec {
    /// The repository: a path under the server's repository root or an allowed URL.
    pub repo_url: String,
    /// The commit range.
    pub commit_range: Option<String>,
    /// The release's version.
    pub version: Option<String>,
    /// The title.
    pub title: Option<String>,
    /// Tags for the stored changelog.
    pub tags: Vec<String>,
    /// The model.
    pub model: Option<String>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Layout and tone.
    pub style: Style,
    /// Whether the model writes the entries (`true`: the server's provider).
    pub use_model: bool,
    /// Whether anyone may read the stored changelog.
    pub is_public: bool,
    /// The stored changelog's status.
    pub status: ChangelogStatus,
}

impl GenerationSpec {
    /// The core's request for this spec, with the server's provider.
    #[must_use]
    pub fn request(&self, provider: Option<&StackConfig>) -> Request {
        Request {
            repo_url: Some(self.repo_url.clone()),
            query: RangeQuery {
                range: self.commit_range.clone(),
                ..RangeQuery::default()
            },
            version: self.version.clone(),
            title: self.title.clone(),
            tags: self.tags.clone(),
            model: self.model.clone(),
            temperature: self.temperature,
            style: self.style,
            provider: if self.use_model {
                provider.cloned()
            } else {
                None
            },
            ..Request::default()
        }
    }
}

/// The stored changelog a succeeded job made.
#[must_use]
pub fn changelog_id(job: &Job) -> Option<Uuid> {
    job.result
        .as_ref()
        .and_then(|r| r.get("changelog_id"))
        .and_then(Value::as_str)
        .and_then(|id| Uuid::parse_str(id).ok())
}

/// What connects the workers of an instance with its request handlers: wake-ups for workers
/// when a job is queued, for followers when a job's events are written, and the stop switch of
/// each job running here (for `DELETE /jobs/{id}`).
#[derive(Debug)]
pub struct JobHub {
    queued: Notify,
    written: broadcast::Sender<Uuid>,
    running: Mutex<HashMap<Uuid, watch::Sender<bool>>>,
    closing: watch::Sender<bool>,
}

impl Default for JobHub {
    fn default() -> Self {
        Self {
            queued: Notify::new(),
            written: broadcast::channel(1024).0,
            running: Mutex::new(HashMap::new()),
            closing: watch::channel(false).0,
        }
    }
}

impl JobHub {
    /// Wakes a worker: a job was queued.
    pub fn queued(&self) {
        self.queued.notify_one();
    }

    /// Wakes the followers of `job`.
    pub fn written(&self, job: Uuid) {
        let _ = self.written.send(job);
    }

    /// Waits for events of any job (followers filter by id).
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.written.subscribe()
    }

    /// Ends every follower's stream: the instance is shutting down (clients resume elsewhere
    /// with `Last-Event-ID`).
    pub fn close(&self) {
        let _ = self.closing.send(true);
    }

    /// Stops `job` if it runs on this instance.
    pub fn stop(&self, job: Uuid) {
        if let Some(switch) = self.lock().get(&job) {
            let _ = switch.send(true);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, watch::Sender<bool>>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The workers of one instance. Dropping this does not stop them: call [`Workers::shutdown`].
#[derive(Debug)]
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Starts `count` workers over `state`'s store.
    #[must_use]
    pub fn start(state: &AppState, count: usize) -> Self {
        let (stop, stopped) = watch::channel(false);
        let instance = Uuid::new_v4().simple().to_string();
        let tasks = (0..count.max(1))
            .map(|n| {
                let worker = Worker {
                    state: state.clone(),
                    name: format!("{}-{n}", &instance[..12]),
                    stopped: stopped.clone(),
                };
                tokio::spawn(worker.run())
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops the workers: each gives the job it runs back to the queue, then ends.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Stops the workers at once, as if the process died: their jobs keep their lease until it
    /// runs out (for tests of lease expiry).
    pub fn abort(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

struct Worker {
    state: AppState,
    name: String,
    stopped: watch::Receiver<bool>,
}

impl Worker {
    async fn run(mut self) {
        let hub = Arc::clone(self.state.jobs());
        loop {
            if *self.stopped.borrow() {
                return;
            }
            match self
                .state
                .store()
                .claim_job(&self.name, self.state.config().job_lease)
                .await
            {
                Ok(Some(job)) => {
                    self.run_job(job).await;
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, worker = %self.name, "cannot claim a job"),
            }
            tokio::select! {
                () = hub.queued.notified() => {}
                () = tokio::time::sleep(POLL) => {}
                _ = self.stopped.changed() => return,
            }
        }
    }

    async fn run_job(&mut self, job: Job) {
        let id = job.id;
        let store = self.state.store();
        if job.attempts > MAX_ATTEMPTS {
            self.finish(
                id,
                JobOutcome::Failed(format!(
                    "gave up after {MAX_ATTEMPTS} attempts: the workers running it stopped"
                )),
            )
            .await;
            return;
        }
        let spec: GenerationSpec = match serde_json::from_value(job.request.clone()) {
            Ok(spec) => spec,
            Err(error) => {
                self.finish(
                    id,
                    JobOutcome::Failed(format!("unreadable job request: {error}")),
                )
                .await;
                return;
            }
        };
        let Some(owner) = job.owner_id else {
            self.finish(id, JobOutcome::Failed("the job's owner was deleted".into()))
                .await;
            return;
        };
        let (switch, mut cancelled) = watch::channel(false);
        self.state.jobs().lock().insert(id, switch);
        metrics::gauge!("changelog_jobs_running").increment(1.0);
        let (sender, events) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_events(
            self.state.clone(),
            id,
            self.name.clone(),
            events,
        ));
        let reporter = Reporter { sender };
        reporter.send("attempt", json!({ "attempt": job.attempts }));
        reporter.progress(5, "reading the history");
        let config = self.state.config();
        let request = spec.request(config.provider.as_ref());
        let generated = tokio::select! {
            result = request::generate(&request, &config.repo_policy, &reporter) => Some(result),
            _ = cancelled.wait_for(|stop| *stop) => None,
            _ = self.stopped.wait_for(|stop| *stop) => None,
        };
        reporter.progress(95, "storing the changelog");
        drop(reporter);
        let held = writer.await.unwrap_or(false);
        self.state.jobs().lock().remove(&id);
        metrics::gauge!("changelog_jobs_running").decrement(1.0);
        let Some(generated) = generated else {
            if *self.stopped.borrow() && held {
                match store.release_job(id, &self.name).await {
                    Ok(_) => tracing::info!(job = %id, "gave a running job back to the queue"),
                    Err(error) => tracing::warn!(%error, job = %id, "cannot give a job back"),
                }
            } else {
                tracing::info!(job = %id, "job stopped: cancelled or taken over");
            }
            return;
        };
        if !held {
            tracing::info!(job = %id, "job lost its lease while running; its result is dropped");
            return;
        }
        let outcome = match generated {
            Ok(generated) => {
                let mut new = generated.into_new_changelog(owner, spec.is_public);
                new.id = Some(id);
                new.status = spec.status;
                match self.store_changelog(&new).await {
                    Ok((record, fresh)) => {
                        if fresh {
                            self.record_usage(owner, &record).await;
                        }
                        JobOutcome::Succeeded(json!({ "changelog_id": record.id }))
                    }
                    Err(error) => JobOutcome::Failed(describe(&error, error.kind())),
                }
            }
            Err(error) => JobOutcome::Failed(describe(&error, error.kind())),
        };
        self.finish(id, outcome).await;
    }

    /// Stores the changelog under the job's id; `false` when an earlier attempt already did.
    async fn store_changelog(
        &self,
        new: &changelog_core::store::NewChangelog,
    ) -> Result<(ChangelogRecord, bool), StoreError> {
        let store = self.state.store();
        match store.create_changelog(new).await {
            Ok(record) => Ok((record, true)),
            Err(StoreError::Duplicate { .. }) if new.id.is_some() => {
                let id = new.id.unwrap_or_default();
                Ok((store.changelog(id).await?, false))
            }
            Err(error) => Err(error),
        }
    }

    async fn record_usage(&self, owner: Uuid, record: &ChangelogRecord) {
        let requests = record
            .document
            .as_ref()
            .and_then(|d| d.usage.as_ref())
            .map_or(0, |u| i64::try_from(u.requests).unwrap_or(i64::MAX));
        let amount = UsageAmount {
            requests,
            input_tokens: record.input_tokens,
            output_tokens: record.output_tokens,
            cost_usd: record.cost_usd,
        };
        metrics::counter!("changelog_llm_tokens_total", "direction" => "input")
            .increment(u64::try_from(amount.input_tokens).unwrap_or(0));
        metrics::counter!("changelog_llm_tokens_total", "direction" => "output")
            .increment(u64::try_from(amount.output_tokens).unwrap_or(0));
        metrics::gauge!("changelog_llm_cost_usd_total").increment(amount.cost_usd);
        if let Err(error) = self
            .state
            .store()
            .record_usage(owner, now().date_naive(), &amount)
            .await
        {
            tracing::warn!(%error, %owner, "cannot record usage");
        }
    }

    async fn finish(&self, id: Uuid, outcome: JobOutcome) {
        let state = match &outcome {
            JobOutcome::Succeeded(_) => "succeeded",
            JobOutcome::Failed(_) => "failed",
        };
        match self
            .state
            .store()
            .finish_job(id, &self.name, &outcome)
            .await
        {
            Ok(_) => {
                metrics::counter!("changelog_jobs_total", "state" => state).increment(1);
            }
            Err(error) => tracing::info!(%error, job = %id, "job ended elsewhere"),
        }
        self.state.jobs().written(id);
    }
}

/// What a failed job tells its owner: the error's message, except for internal errors (logged).
fn describe(error: &dyn std::error::Error, kind: ErrorKind) -> String {
    if kind == ErrorKind::Internal {
        tracing::error!(%error, "a generation job failed");
        "the generation failed on the server".to_owned()
    } else {
        error.to_string()
    }
}

/// The observer the core reports to: events go to the writer task.
struct Reporter {
    sender: mpsc::UnboundedSender<(String, Value)>,
}

impl Reporter {
    fn send(&self, kind: &str, data: Value) {
        let _ = self.sender.send((kind.to_owned(), data));
    }

    fn progress(&self, percent: i32, message: &str) {
        self.send(
            "progress",
            json!({ "progress": percent, "message": message }),
        );
    }
}

impl Observer for Reporter {
    fn on_delta(&self, text: &str) {
        self.send("delta", json!({ "text": text }));
    }

    fn on_progress(&self, done: usize, total: usize) {
        let total = total.max(1);
        let percent = 10 + i32::try_from(done.min(total) * 80 / total).unwrap_or(80);
        self.send(
            "progress",
            json!({
                "progress": percent,
                "message": format!("asked the model ({done} of {total} requests)"),
                "done": done,
                "total": total,
            }),
        );
    }

    fn wants_stream(&self) -> bool {
        true
    }
}

/// Writes a running job's events, gathering streamed text for up to [`FLUSH`], and renews the
/// lease (a third of it apart at most). Ends when the reporter is dropped; returns whether the
/// worker still held the job. A lost lease stops the job through the hub.
async fn write_events(
    state: AppState,
    id: Uuid,
    worker: String,
    mut events: mpsc::UnboundedReceiver<(String, Value)>,
) -> bool {
    let lease = state.config().job_lease;
    let mut renew = tokio::time::interval((lease / 3).max(Duration::from_millis(100)));
    renew.tick().await;
    let mut pending: Vec<(String, Value)> = Vec::new();
    let mut text = String::new();
    let mut progress = (0, String::new());
    let mut open = true;
    while open {
        let mut deadline = None;
        tokio::select! {
            received = events.recv() => match received {
                Some((kind, data)) if kind == "delta" => {
                    text.push_str(data["text"].as_str().unwrap_or_default());
                    deadline = Some(FLUSH);
                }
                Some((kind, data)) => {
                    if kind == "progress" {
                        progress = (
                            i32::try_from(data["progress"].as_i64().unwrap_or(0)).unwrap_or(0),
                            data["message"].as_str().unwrap_or_default().to_owned(),
                        );
                    }
                    flush_text(&mut text, &mut pending);
                    pending.push((kind, data));
                }
                None => open = false,
            },
            _ = renew.tick() => {
                if state
                    .store()
                    .report_progress(id, &worker, progress.0, Some(&progress.1), lease)
                    .await
                    .is_err()
                {
                    state.jobs().stop(id);
                    return false;
                }
            }
        }
        if let Some(wait) = deadline
            && text.len() < 16 * 1024
        {
            // Gather what arrives within the flush window.
            let until = tokio::time::Instant::now() + wait;
            while let Ok(Some((kind, data))) = tokio::time::timeout_at(until, events.recv()).await {
                if kind == "delta" {
                    text.push_str(data["text"].as_str().unwrap_or_default());
                } else {
                    flush_text(&mut text, &mut pending);
                    pending.push((kind, data));
                    break;
                }
            }
        }
        flush_text(&mut text, &mut pending);
        if pending.is_empty() {
            continue;
        }
        let progress_changed = pending.iter().any(|(kind, _)| kind == "progress");
        let store = state.store();
        if store
            .append_job_events(id, &worker, &pending)
            .await
            .is_err()
        {
            state.jobs().stop(id);
            return false;
        }
        pending.clear();
        if progress_changed
            && store
                .report_progress(id, &worker, progress.0, Some(&progress.1), lease)
                .await
                .is_err()
        {
            state.jobs().stop(id);
            return false;
        }
        state.jobs().written(id);
    }
    true
}

fn flush_text(text: &mut String, pending: &mut Vec<(String, Value)>) {
    if !text.is_empty() {
        pending.push(("delta".to_owned(), json!({ "text": std::mem::take(text) })));
    }
}

/// One event of a job as followers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Frame {
    /// Its number (resume after it with `Last-Event-ID`).
    pub id: i64,
    /// `attempt`, `progress`, `delta`, then one of `completed`, `failed`, `cancelled`.
    pub event: String,
    /// Its payload.
    pub data: Value,
}

/// Whether a job is over.
#[must_use]
pub fn finished(status: JobStatus) -> bool {
    matches!(
        status,
        JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
    )
}

/// Follows a job from the event after `after`: its stored events, then the last one, made from
/// the job's end (`completed` with the stored changelog, `failed` with the reason, or
/// `cancelled`). Yields `None` after the last event; store errors end the stream.
pub fn follow(
    state: AppState,
    id: Uuid,
    after: i64,
) -> impl futures_util::Stream<Item = Frame> + Send + 'static {
    struct Cursor {
        state: AppState,
        id: Uuid,
        last: i64,
        queue: std::collections::VecDeque<Frame>,
        done: bool,
        wake: broadcast::Receiver<Uuid>,
        closing: watch::Receiver<bool>,
    }
    let wake = state.jobs().subscribe();
    let closing = state.jobs().closing.subscribe();
    let cursor = Cursor {
        state,
        id,
        last: after.max(0),
        queue: std::collections::VecDeque::new(),
        done: false,
        wake,
        closing,
    };
    futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(frame) = c.queue.pop_front() {
                return Some((frame, c));
            }
            if c.done {
                return None;
            }
            // The job first, then its events: every event written before the job ended is
            // then seen before its end.
            let store = c.state.store();
            let job = store.job(c.id).await.ok()?;
            let events = store
                .job_events(
                    c.id,
                    c.last,
                    changelog_core::store::job::MAX_EVENTS_PER_READ,
                )
                .await
                .ok()?;
            for event in events {
                c.last = event.seq;
                c.queue.push_back(Frame {
                    id: event.seq,
                    event: event.kind,
                    data: event.data,
                });
            }
            if c.queue.is_empty() && finished(job.status) {
                let (event, data) = last_event(&c.state, &job).await;
                c.queue.push_back(Frame {
                    id: c.last + 1,
                    event: event.to_owned(),
                    data,
                });
                c.done = true;
                continue;
            }
            if c.queue.is_empty() {
                if *c.closing.borrow() {
                    return None;
                }
                let deadline = tokio::time::Instant::now() + POLL;
                let wake = &mut c.wake;
                let id = c.id;
                let woken = async move {
                    loop {
                        match tokio::time::timeout_at(deadline, wake.recv()).await {
                            Ok(Ok(job)) if job != id => {}
                            Ok(Err(broadcast::error::RecvError::Closed)) => {
                                tokio::time::sleep_until(deadline).await;
                                break;
                            }
                            _ => break,
                        }
                    }
                };
                tokio::select! {
                    () = woken => {}
                    _ = c.closing.changed() => return None,
                }
            }
        }
    })
}

async fn last_event(state: &AppState, job: &Job) -> (&'static str, Value) {
    match job.status {
        JobStatus::Succeeded => {
            let changelog = match changelog_id(job) {
                Some(id) => state.store().changelog(id).await.ok(),
                None => None,
            };
            match changelog {
                Some(record) => (
                    "completed",
                    json!({ "changelog": crate::routes::changelogs::ChangelogResponse::from(record) }),
                ),
                None => (
                    "failed",
                    json!({ "detail": "the job's changelog was deleted" }),
                ),
            }
        }
        JobStatus::Failed => (
            "failed",
            json!({ "detail": job.error.clone().unwrap_or_default() }),
        ),
        _ => ("cancelled", json!({})),
    }
}
