//! The stores in process memory, for tests and small embedders. Nothing survives the process.

mod records;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use uuid::Uuid;

use super::api_key::{
    ApiKey, ApiKeyStore, IssuedApiKey, KeyGenerator, NewApiKey, PREFIX_ATTEMPTS, hash_key,
    key_prefix, prefix_exhausted,
};
use super::job::{Job, JobEvent, JobOutcome, JobStatus, JobStore, MAX_EVENTS_PER_READ, lease_end};
use super::{
    ChangelogQuery, ChangelogRecord, ChangelogStore, ChangelogUpdate, ChangelogVersion, Cursor,
    NewChangelog, NewUser, Page, StoreError, StoreResult, TagMatch, User, UserStore,
    compare_records, limits, normalize_tags, now,
};

/// Users and changelogs in memory, behind one lock (so every write is atomic).
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    key_generator: KeyGenerator,
}

#[derive(Debug, Default)]
struct State {
    users: BTreeMap<Uuid, User>,
    github_tokens: BTreeMap<Uuid, String>,
    changelogs: BTreeMap<Uuid, ChangelogRecord>,
    versions: BTreeMap<Uuid, Vec<ChangelogVersion>>,
    tags: BTreeSet<String>,
    /// Keys with the hash of their secret.
    api_keys: BTreeMap<Uuid, (ApiKey, String)>,
    jobs: BTreeMap<Uuid, Job>,
    job_events: BTreeMap<Uuid, Vec<JobEvent>>,
    records: records::Records,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The same store drawing new API keys from `generator`.
    #[must_use]
    pub fn with_key_generator(mut self, generator: KeyGenerator) -> Self {
        self.key_generator = generator;
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-done write: writes check first
        // and mutate last.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn not_found(entity: &'static str, id: impl std::fmt::Display) -> StoreError {
    StoreError::NotFound {
        entity,
        id: id.to_string(),
    }
}

fn version_of(record: &ChangelogRecord, edited_by: Option<Uuid>) -> ChangelogVersion {
    ChangelogVersion {
        changelog_id: record.id,
        revision: record.revision,
        title: record.title.clone(),
        version: record.version.clone(),
        content: record.content.clone(),
        document: record.document.clone(),
        tags: record.tags.clone(),
        edited_by,
        created_at: record.updated_at,
    }
}

impl State {
    fn check_unique(&self, user: &NewUser) -> StoreResult<()> {
        for existing in self.users.values() {
            let field = if existing.username == user.username {
                "username"
            } else if existing.email == user.email {
                "email"
            } else if user.github_id.is_some() && existing.github_id == user.github_id {
                "github_id"
            } else {
                continue;
            };
            return Err(StoreError::Duplicate {
                field: field.into(),
            });
        }
        Ok(())
    }

    fn current(&self, id: Uuid, expected_revision: i64) -> StoreResult<&ChangelogRecord> {
        let record = self
            .changelogs
            .get(&id)
            .ok_or_else(|| not_found("changelog", id))?;
        if record.revision != expected_revision {
            return Err(StoreError::Conflict {
                expected: expected_revision,
                actual: record.revision,
            });
        }
        Ok(record)
    }

    fn commit_revision(
        &mut self,
        record: ChangelogRecord,
        edited_by: Option<Uuid>,
    ) -> ChangelogRecord {
        self.tags.extend(record.tags.iter().cloned());
        self.versions
            .entry(record.id)
            .or_default()
            .push(version_of(&record, edited_by));
        self.changelogs.insert(record.id, record.clone());
        record
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        limits::check_new_user(user)?;
        let mut state = self.state();
        state.check_unique(user)?;
        let at = now();
        let created = User {
            id: Uuid::new_v4(),
            username: user.username.clone(),
            email: user.email.clone(),
            password_hash: user.password_hash.clone(),
            github_id: user.github_id,
            github_username: user.github_username.clone(),
            has_github_token: false,
            created_at: at,
            updated_at: at,
        };
        state.users.insert(created.id, created.clone());
        Ok(created)
    }

    async fn user(&self, id: Uuid) -> StoreResult<User> {
        self.state()
            .users
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("user", id))
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        Ok(self
            .state()
            .users
            .values()
            .find(|u| u.username == username)
            .cloned())
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        Ok(self
            .state()
            .users
            .values()
            .find(|u| u.email == email)
            .cloned())
    }

    async fn user_by_github_id(&self, github_id: i64) -> StoreResult<Option<User>> {
        Ok(self
            .state()
            .users
            .values()
            .find(|u| u.github_id == Some(github_id))
            .cloned())
    }

    async fn set_github_token(&self, user_id: Uuid, token: Option<&str>) -> StoreResult<()> {
        let mut state = self.state();
        let user = state
            .users
            .get_mut(&user_id)
            .ok_or_else(|| not_found("user", user_id))?;
        user.has_github_token = token.is_some();
        user.updated_at = now();
        match token {
            Some(token) => state.github_tokens.insert(user_id, token.to_owned()),
            None => state.github_tokens.remove(&user_id),
        };
        Ok(())
    }

    async fn github_token(&self, user_id: Uuid) -> StoreResult<Option<String>> {
        let state = self.state();
        if !state.users.contains_key(&user_id) {
            return Err(not_found("user", user_id));
        }
        Ok(state.github_tokens.get(&user_id).cloned())
    }
}

#[async_trait]
impl ChangelogStore for MemoryStore {
    async fn create_changelog(&self, new: &NewChangelog) -> StoreResult<ChangelogRecord> {
        let tags = limits::check_new_changelog(new)?;
        let mut state = self.state();
        if !state.users.contains_key(&new.owner_id) {
            return Err(not_found("user", new.owner_id));
        }
        if new.id.is_some_and(|id| state.changelogs.contains_key(&id)) {
            return Err(StoreError::Duplicate { field: "id".into() });
        }
        let at = now();
        let record = ChangelogRecord {
            id: new.id.unwrap_or_else(Uuid::new_v4),
            owner_id: new.owner_id,
            repository: new.repository.clone(),
            title: new.title.clone(),
            version: new.version.clone(),
            content: new.content.clone(),
            document: new.document.clone(),
            source: new.source,
            commit_range: new.commit_range.clone(),
            model: new.model.clone(),
            input_tokens: new.input_tokens,
            output_tokens: new.output_tokens,
            cost_usd: new.cost_usd,
            is_public: new.is_public,
            status: new.status,
            tags,
            revision: 1,
            created_at: at,
            updated_at: at,
        };
        Ok(state.commit_revision(record, Some(new.owner_id)))
    }

    async fn changelog(&self, id: Uuid) -> StoreResult<ChangelogRecord> {
        self.state()
            .changelogs
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("changelog", id))
    }

    async fn update_changelog(
        &self,
        id: Uuid,
        expected_revision: i64,
        update: &ChangelogUpdate,
        edited_by: Option<Uuid>,
    ) -> StoreResult<ChangelogRecord> {
        let tags = limits::check_update(update)?;
        let mut state = self.state();
        let mut record = state.current(id, expected_revision)?.clone();
        if let Some(title) = &update.title {
            record.title.clone_from(title);
        }
        if let Some(version) = &update.version {
            record.version.clone_from(version);
        }
        if let Some(content) = &update.content {
            record.content.clone_from(content);
        }
        if let Some(document) = &update.document {
            record.document.clone_from(document);
        }
        if let Some(is_public) = update.is_public {
            record.is_public = is_public;
        }
        if let Some(status) = update.status {
            record.status = status;
        }
        if let Some(tags) = tags {
            record.tags = tags;
        }
        record.revision += 1;
        record.updated_at = now();
        Ok(state.commit_revision(record, edited_by))
    }

    async fn restore_revision(
        &self,
        id: Uuid,
        revision: i64,
        expected_revision: i64,
        edited_by: Option<Uuid>,
    ) -> StoreResult<ChangelogRecord> {
        let mut state = self.state();
        let mut record = state.current(id, expected_revision)?.clone();
        let old = state
            .versions
            .get(&id)
            .and_then(|versions| versions.iter().find(|v| v.revision == revision))
            .ok_or_else(|| not_found("revision", format!("{id}@{revision}")))?;
        record.title.clone_from(&old.title);
        record.version.clone_from(&old.version);
        record.content.clone_from(&old.content);
        record.document.clone_from(&old.document);
        record.tags.clone_from(&old.tags);
        record.revision += 1;
        record.updated_at = now();
        Ok(state.commit_revision(record, edited_by))
    }

    async fn versions(&self, id: Uuid) -> StoreResult<Vec<ChangelogVersion>> {
        self.state()
            .versions
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("changelog", id))
    }

    async fn delete_changelog(&self, id: Uuid) -> StoreResult<()> {
        let mut state = self.state();
        state
            .changelogs
            .remove(&id)
            .ok_or_else(|| not_found("changelog", id))?;
        state.versions.remove(&id);
        state
            .records
            .annotations
            .retain(|_, a| a.changelog_id != id);
        Ok(())
    }

    async fn list_changelogs(&self, query: &ChangelogQuery) -> StoreResult<Page<ChangelogRecord>> {
        limits::check_query(query)?;
        let cursor = query
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, query))
            .transpose()?;
        let wanted = normalize_tags(&query.tags);
        let terms: Vec<String> = query
            .text_terms()
            .iter()
            .map(|t| t.to_lowercase())
            .collect();
        let state = self.state();
        let mut rows: Vec<&ChangelogRecord> = state
            .changelogs
            .values()
            .filter(|c| query.owner_id.is_none_or(|o| c.owner_id == o))
            .filter(|c| query.version.is_none() || c.version == query.version)
            .filter(|c| query.repository.is_none() || c.repository == query.repository)
            .filter(|c| query.is_public.is_none_or(|p| c.is_public == p))
            .filter(|c| query.status.is_none_or(|s| c.status == s))
            .filter(|c| query.created_since.is_none_or(|t| c.created_at >= t))
            .filter(|c| query.created_until.is_none_or(|t| c.created_at < t))
            .filter(|c| {
                wanted.is_empty()
                    || match query.tag_match {
                        TagMatch::Any => wanted.iter().any(|t| c.tags.contains(t)),
                        TagMatch::All => wanted.iter().all(|t| c.tags.contains(t)),
                    }
            })
            .filter(|c| {
                let words = word_set(&format!("{} {}", c.title, c.content));
                terms.iter().all(|t| words.contains(t.as_str()))
            })
            .collect();
        rows.sort_by(|a, b| compare_records(a, b, query.sort, query.direction));
        let start = match &cursor {
            None => 0,
            Some(cursor) => rows.partition_point(|row| {
                Cursor::after(row, query.sort, query.direction)
                    .position_cmp(cursor, query.direction)
                    != std::cmp::Ordering::Greater
            }),
        };
        let size = query.page_size() as usize;
        let items: Vec<ChangelogRecord> = rows
            .iter()
            .skip(start)
            .take(size)
            .map(|r| {
                let mut record = (*r).clone();
                if query.skip_documents {
                    record.document = None;
                }
                record
            })
            .collect();
        Ok(Page::of_changelogs(items, rows.len() > start + size, query))
    }

    async fn tags(&self) -> StoreResult<Vec<String>> {
        Ok(self.state().tags.iter().cloned().collect())
    }

    async fn owner_tags(&self, owner_id: Uuid) -> StoreResult<Vec<String>> {
        let tags: BTreeSet<String> = self
            .state()
            .changelogs
            .values()
            .filter(|c| c.owner_id == owner_id)
            .flat_map(|c| c.tags.iter().cloned())
            .collect();
        Ok(tags.into_iter().collect())
    }
}

/// The lowercase words of a text, split as a full-text index does (on anything that is not a
/// letter or a digit).
fn word_set(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl Cursor {
    /// Where this position lies relative to `other` in a listing's order.
    fn position_cmp(&self, other: &Self, direction: super::Direction) -> std::cmp::Ordering {
        let ordering = (&self.key, self.id).cmp(&(&other.key, other.id));
        match direction {
            super::Direction::Asc => ordering,
            super::Direction::Desc => ordering.reverse(),
        }
    }
}

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn create_api_key(&self, new: &NewApiKey) -> StoreResult<IssuedApiKey> {
        limits::check_new_api_key(new)?;
        let mut state = self.state();
        if !state.users.contains_key(&new.user_id) {
            return Err(not_found("user", new.user_id));
        }
        let taken = |prefix: &str| state.api_keys.values().any(|(key, _)| key.prefix == prefix);
        let (prefix, secret) = std::iter::repeat_with(|| self.key_generator.generate())
            .take(PREFIX_ATTEMPTS)
            .find(|(prefix, _)| !taken(prefix))
            .ok_or_else(prefix_exhausted)?;
        let key = ApiKey {
            id: Uuid::new_v4(),
            user_id: new.user_id,
            name: new.name.clone(),
            prefix,
            scopes: new.scopes.clone(),
            expires_at: new.expires_at,
            last_used_at: None,
            use_count: 0,
            revoked_at: None,
            created_at: now(),
        };
        state
            .api_keys
            .insert(key.id, (key.clone(), hash_key(&secret)));
        Ok(IssuedApiKey { key, secret })
    }

    async fn authenticate_api_key(&self, secret: &str) -> StoreResult<Option<ApiKey>> {
        let Some(prefix) = key_prefix(secret) else {
            return Ok(None);
        };
        let hash = hash_key(secret);
        let at = now();
        let mut state = self.state();
        let found = state.api_keys.values_mut().find(|(key, stored)| {
            key.prefix == prefix
                && *stored == hash
                && key.revoked_at.is_none()
                && key.expires_at.is_none_or(|t| t > at)
        });
        Ok(found.map(|(key, _)| {
            key.use_count += 1;
            key.last_used_at = Some(at);
            key.clone()
        }))
    }

    async fn api_keys(&self, user_id: Uuid) -> StoreResult<Vec<ApiKey>> {
        let mut keys: Vec<ApiKey> = self
            .state()
            .api_keys
            .values()
            .filter(|(key, _)| key.user_id == user_id)
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort_by_key(|k| (k.created_at, k.id));
        Ok(keys)
    }

    async fn revoke_api_key(&self, id: Uuid) -> StoreResult<()> {
        let mut state = self.state();
        let (key, _) = state
            .api_keys
            .get_mut(&id)
            .ok_or_else(|| not_found("api key", id))?;
        key.revoked_at.get_or_insert_with(now);
        Ok(())
    }
}

impl State {
    fn held_job(&mut self, id: Uuid, worker: &str) -> StoreResult<&mut Job> {
        self.jobs
            .get_mut(&id)
            .filter(|job| {
                job.status == JobStatus::Running && job.lease_owner.as_deref() == Some(worker)
            })
            .ok_or_else(|| not_found("job lease", format!("{id} held by {worker}")))
    }
}

#[async_trait]
impl JobStore for MemoryStore {
    async fn enqueue_job(
        &self,
        owner_id: Option<Uuid>,
        request: &serde_json::Value,
    ) -> StoreResult<Job> {
        let at = now();
        let job = Job {
            id: Uuid::new_v4(),
            owner_id,
            status: JobStatus::Queued,
            progress: 0,
            message: None,
            request: request.clone(),
            result: None,
            error: None,
            attempts: 0,
            lease_owner: None,
            lease_expires_at: None,
            created_at: at,
            updated_at: at,
        };
        self.state().jobs.insert(job.id, job.clone());
        Ok(job)
    }

    async fn job(&self, id: Uuid) -> StoreResult<Job> {
        self.state()
            .jobs
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("job", id))
    }

    async fn claim_job(
        &self,
        worker: &str,
        lease: std::time::Duration,
    ) -> StoreResult<Option<Job>> {
        let at = now();
        let mut state = self.state();
        let job = state
            .jobs
            .values_mut()
            .filter(|job| {
                job.status == JobStatus::Queued
                    || (job.status == JobStatus::Running
                        && job.lease_expires_at.is_some_and(|t| t < at))
            })
            .min_by_key(|job| (job.created_at, job.id));
        Ok(job.map(|job| {
            job.status = JobStatus::Running;
            job.attempts += 1;
            job.lease_owner = Some(worker.to_owned());
            job.lease_expires_at = Some(lease_end(at, lease));
            job.updated_at = at;
            job.clone()
        }))
    }

    async fn report_progress(
        &self,
        id: Uuid,
        worker: &str,
        progress: i32,
        message: Option<&str>,
        lease: std::time::Duration,
    ) -> StoreResult<Job> {
        let at = now();
        let mut state = self.state();
        let job = state.held_job(id, worker)?;
        job.progress = progress.clamp(0, 100);
        job.message = message.map(str::to_owned);
        job.lease_expires_at = Some(lease_end(at, lease));
        job.updated_at = at;
        Ok(job.clone())
    }

    async fn finish_job(&self, id: Uuid, worker: &str, outcome: &JobOutcome) -> StoreResult<Job> {
        let mut state = self.state();
        let job = state.held_job(id, worker)?;
        match outcome {
            JobOutcome::Succeeded(result) => {
                job.status = JobStatus::Succeeded;
                job.result = Some(result.clone());
                job.progress = 100;
            }
            JobOutcome::Failed(error) => {
                job.status = JobStatus::Failed;
                job.error = Some(error.clone());
            }
        }
        job.lease_owner = None;
        job.lease_expires_at = None;
        job.updated_at = now();
        Ok(job.clone())
    }

    async fn release_job(&self, id: Uuid, worker: &str) -> StoreResult<Job> {
        let mut state = self.state();
        let job = state.held_job(id, worker)?;
        job.status = JobStatus::Queued;
        job.attempts = (job.attempts - 1).max(0);
        job.lease_owner = None;
        job.lease_expires_at = None;
        job.updated_at = now();
        Ok(job.clone())
    }

    async fn append_job_events(
        &self,
        id: Uuid,
        worker: &str,
        events: &[(String, serde_json::Value)],
    ) -> StoreResult<i64> {
        let mut state = self.state();
        state.held_job(id, worker)?;
        let at = now();
        let list = state.job_events.entry(id).or_default();
        for (kind, data) in events {
            let seq = list.last().map_or(1, |e| e.seq + 1);
            list.push(JobEvent {
                seq,
                kind: kind.clone(),
                data: data.clone(),
                created_at: at,
            });
        }
        Ok(list.last().map_or(0, |e| e.seq))
    }

    async fn job_events(&self, id: Uuid, after: i64, limit: u32) -> StoreResult<Vec<JobEvent>> {
        let state = self.state();
        if !state.jobs.contains_key(&id) {
            return Err(not_found("job", id));
        }
        let take = limit.clamp(1, MAX_EVENTS_PER_READ) as usize;
        Ok(state.job_events.get(&id).map_or_else(Vec::new, |list| {
            list.iter()
                .filter(|e| e.seq > after)
                .take(take)
                .cloned()
                .collect()
        }))
    }

    async fn cancel_job(&self, id: Uuid) -> StoreResult<Job> {
        let mut state = self.state();
        let job = state
            .jobs
            .get_mut(&id)
            .ok_or_else(|| not_found("job", id))?;
        if matches!(job.status, JobStatus::Queued | JobStatus::Running) {
            job.status = JobStatus::Cancelled;
            job.lease_owner = None;
            job.lease_expires_at = None;
            job.updated_at = now();
        }
        Ok(job.clone())
    }
}
