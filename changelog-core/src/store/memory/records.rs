//! The records around changelogs, in memory: refresh tokens, repositories, annotations, usage,
//! the audit log and cache entries.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{MemoryStore, State, not_found};
use crate::store::annotation::{Annotation, AnnotationStore, check_body};
use crate::store::api_key::hash_key;
use crate::store::audit::{self, AuditEvent, AuditQuery, AuditStore, NewAuditEvent};
use crate::store::cache::CacheEntryStore;
use crate::store::refresh::{
    IssuedRefreshToken, RefreshToken, RefreshTokenStore, Rotation, expiry, generate_secret,
};
use crate::store::repository::{NewRepository, Repository, RepositoryStore};
use crate::store::usage::{UsageAmount, UsageDay, UsageStore};
use crate::store::{Page, StoreResult, now};

#[derive(Debug, Default)]
pub(super) struct Records {
    /// Tokens with the hash of their secret.
    refresh_tokens: BTreeMap<Uuid, (RefreshToken, String)>,
    repositories: BTreeMap<Uuid, Repository>,
    pub(super) annotations: BTreeMap<Uuid, Annotation>,
    usage: BTreeMap<(Uuid, NaiveDate), UsageAmount>,
    audit: Vec<AuditEvent>,
    cache: BTreeMap<String, CacheEntry>,
}

#[derive(Debug)]
struct CacheEntry {
    value: serde_json::Value,
    expires_at: Option<DateTime<Utc>>,
}

impl State {
    fn require_user(&self, id: Uuid) -> StoreResult<()> {
        if self.users.contains_key(&id) {
            Ok(())
        } else {
            Err(not_found("user", id))
        }
    }

    fn issue_in_family(
        &mut self,
        user_id: Uuid,
        family_id: Uuid,
        ttl: Duration,
    ) -> IssuedRefreshToken {
        let secret = generate_secret();
        let at = now();
        let token = RefreshToken {
            id: Uuid::new_v4(),
            user_id,
            family_id,
            expires_at: expiry(at, ttl),
            used_at: None,
            revoked_at: None,
            created_at: at,
        };
        self.records
            .refresh_tokens
            .insert(token.id, (token.clone(), hash_key(&secret)));
        IssuedRefreshToken { token, secret }
    }

    fn revoke_tokens(&mut self, matches: impl Fn(&RefreshToken) -> bool) -> u64 {
        let at = now();
        let mut live = 0;
        for (token, _) in self.records.refresh_tokens.values_mut() {
            if matches(token) && token.revoked_at.is_none() {
                token.revoked_at = Some(at);
                if token.used_at.is_none() {
                    live += 1;
                }
            }
        }
        live
    }
}

#[async_trait]
impl RefreshTokenStore for MemoryStore {
    async fn issue_refresh_token(
        &self,
        user_id: Uuid,
        ttl: Duration,
    ) -> StoreResult<IssuedRefreshToken> {
        let mut state = self.state();
        state.require_user(user_id)?;
        Ok(state.issue_in_family(user_id, Uuid::new_v4(), ttl))
    }

    async fn rotate_refresh_token(&self, secret: &str, ttl: Duration) -> StoreResult<Rotation> {
        let hash = hash_key(secret);
        let at = now();
        let mut state = self.state();
        let Some((token, _)) = state
            .records
            .refresh_tokens
            .values_mut()
            .find(|(_, stored)| *stored == hash)
        else {
            return Ok(Rotation::Rejected);
        };
        if token.revoked_at.is_some() {
            return Ok(Rotation::Rejected);
        }
        let (user_id, family_id) = (token.user_id, token.family_id);
        if token.used_at.is_some() {
            state.revoke_tokens(|t| t.family_id == family_id);
            return Ok(Rotation::Reused { user_id, family_id });
        }
        if token.expires_at <= at {
            return Ok(Rotation::Rejected);
        }
        token.used_at = Some(at);
        Ok(Rotation::Rotated(
            state.issue_in_family(user_id, family_id, ttl),
        ))
    }

    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<u64> {
        Ok(self.state().revoke_tokens(|t| t.family_id == family_id))
    }

    async fn revoke_user_refresh_tokens(&self, user_id: Uuid) -> StoreResult<u64> {
        Ok(self.state().revoke_tokens(|t| t.user_id == user_id))
    }

    async fn session_live(&self, family_id: Uuid) -> StoreResult<bool> {
        Ok(self
            .state()
            .records
            .refresh_tokens
            .values()
            .any(|(t, _)| t.family_id == family_id && t.revoked_at.is_none()))
    }
}

#[async_trait]
impl RepositoryStore for MemoryStore {
    async fn upsert_repository(&self, new: &NewRepository) -> StoreResult<Repository> {
        crate::store::limits::check_new_repository(new)?;
        let mut state = self.state();
        state.require_user(new.owner_id)?;
        let at = now();
        let existing = state.records.repositories.values_mut().find(|r| {
            r.owner_id == new.owner_id && r.provider == new.provider && r.full_name == new.full_name
        });
        if let Some(repository) = existing {
            repository.external_id.clone_from(&new.external_id);
            repository.name.clone_from(&new.name);
            repository.url.clone_from(&new.url);
            repository.default_branch.clone_from(&new.default_branch);
            repository.updated_at = at;
            return Ok(repository.clone());
        }
        let repository = Repository {
            id: Uuid::new_v4(),
            owner_id: new.owner_id,
            provider: new.provider,
            external_id: new.external_id.clone(),
            name: new.name.clone(),
            full_name: new.full_name.clone(),
            url: new.url.clone(),
            default_branch: new.default_branch.clone(),
            last_synced_at: None,
            created_at: at,
            updated_at: at,
        };
        state
            .records
            .repositories
            .insert(repository.id, repository.clone());
        Ok(repository)
    }

    async fn repository(&self, id: Uuid) -> StoreResult<Repository> {
        self.state()
            .records
            .repositories
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("repository", id))
    }

    async fn repositories(&self, owner_id: Uuid) -> StoreResult<Vec<Repository>> {
        let mut found: Vec<Repository> = self
            .state()
            .records
            .repositories
            .values()
            .filter(|r| r.owner_id == owner_id)
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            (&a.full_name, a.provider.as_str()).cmp(&(&b.full_name, b.provider.as_str()))
        });
        Ok(found)
    }

    async fn mark_repository_synced(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<Repository> {
        let mut state = self.state();
        let repository = state
            .records
            .repositories
            .get_mut(&id)
            .ok_or_else(|| not_found("repository", id))?;
        repository.last_synced_at = Some(at);
        repository.updated_at = now();
        Ok(repository.clone())
    }

    async fn delete_repository(&self, id: Uuid) -> StoreResult<()> {
        self.state()
            .records
            .repositories
            .remove(&id)
            .map(drop)
            .ok_or_else(|| not_found("repository", id))
    }
}

#[async_trait]
impl AnnotationStore for MemoryStore {
    async fn add_annotation(
        &self,
        changelog_id: Uuid,
        user_id: Uuid,
        body: &str,
    ) -> StoreResult<Annotation> {
        check_body(body)?;
        let mut state = self.state();
        if !state.changelogs.contains_key(&changelog_id) {
            return Err(not_found("changelog", changelog_id));
        }
        state.require_user(user_id)?;
        let at = now();
        let annotation = Annotation {
            id: Uuid::new_v4(),
            changelog_id,
            user_id,
            body: body.to_owned(),
            created_at: at,
            updated_at: at,
        };
        state
            .records
            .annotations
            .insert(annotation.id, annotation.clone());
        Ok(annotation)
    }

    async fn annotations(&self, changelog_id: Uuid) -> StoreResult<Vec<Annotation>> {
        let mut found: Vec<Annotation> = self
            .state()
            .records
            .annotations
            .values()
            .filter(|a| a.changelog_id == changelog_id)
            .cloned()
            .collect();
        found.sort_by_key(|a| (a.created_at, a.id));
        Ok(found)
    }

    async fn edit_annotation(&self, id: Uuid, body: &str) -> StoreResult<Annotation> {
        check_body(body)?;
        let mut state = self.state();
        let annotation = state
            .records
            .annotations
            .get_mut(&id)
            .ok_or_else(|| not_found("annotation", id))?;
        body.clone_into(&mut annotation.body);
        annotation.updated_at = now();
        Ok(annotation.clone())
    }

    async fn delete_annotation(&self, id: Uuid) -> StoreResult<()> {
        self.state()
            .records
            .annotations
            .remove(&id)
            .map(drop)
            .ok_or_else(|| not_found("annotation", id))
    }
}

#[async_trait]
impl UsageStore for MemoryStore {
    async fn record_usage(
        &self,
        user_id: Uuid,
        day: NaiveDate,
        amount: &UsageAmount,
    ) -> StoreResult<UsageDay> {
        let mut state = self.state();
        state.require_user(user_id)?;
        let total = state.records.usage.entry((user_id, day)).or_default();
        *total = total.plus(*amount);
        Ok(UsageDay {
            user_id,
            day,
            amount: *total,
        })
    }

    async fn usage(
        &self,
        user_id: Uuid,
        first: NaiveDate,
        last: NaiveDate,
    ) -> StoreResult<Vec<UsageDay>> {
        if first > last {
            return Ok(Vec::new());
        }
        Ok(self
            .state()
            .records
            .usage
            .range((user_id, first)..=(user_id, last))
            .map(|(&(user_id, day), &amount)| UsageDay {
                user_id,
                day,
                amount,
            })
            .collect())
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn record_audit(&self, event: &NewAuditEvent) -> StoreResult<AuditEvent> {
        let event = audit::checked(event)?;
        let recorded = AuditEvent {
            id: Uuid::new_v4(),
            actor_id: event.actor_id,
            action: event.action,
            target: event.target,
            outcome: event.outcome,
            ip: event.ip,
            user_agent: event.user_agent,
            at: now(),
        };
        self.state().records.audit.push(recorded.clone());
        Ok(recorded)
    }

    async fn audit_events(&self, query: &AuditQuery) -> StoreResult<Page<AuditEvent>> {
        let after = query.after()?;
        let state = self.state();
        let mut rows: Vec<&AuditEvent> = state
            .records
            .audit
            .iter()
            .filter(|e| query.actor_id.is_none_or(|a| e.actor_id == Some(a)))
            .filter(|e| query.action.as_ref().is_none_or(|a| e.action == *a))
            .filter(|e| {
                query
                    .target
                    .as_ref()
                    .is_none_or(|t| e.target.as_ref() == Some(t))
            })
            .filter(|e| query.since.is_none_or(|t| e.at >= t))
            .filter(|e| query.until.is_none_or(|t| e.at < t))
            .filter(|e| after.is_none_or(|key| (e.at.timestamp_micros(), e.id) < key))
            .collect();
        rows.sort_by_key(|e| std::cmp::Reverse((e.at, e.id)));
        let size = query.page_size() as usize;
        let more = rows.len() > size;
        let items = rows.into_iter().take(size).cloned().collect();
        Ok(Page::of_audit_events(items, more))
    }
}

#[async_trait]
impl CacheEntryStore for MemoryStore {
    async fn cache_entry(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<serde_json::Value>> {
        Ok(self
            .state()
            .records
            .cache
            .get(key)
            .filter(|entry| entry.expires_at.is_none_or(|t| t > now))
            .map(|entry| entry.value.clone()))
    }

    async fn put_cache_entry(
        &self,
        key: &str,
        value: &serde_json::Value,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        self.state().records.cache.insert(
            key.to_owned(),
            CacheEntry {
                value: value.clone(),
                expires_at,
            },
        );
        Ok(())
    }

    async fn purge_cache_entries(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let cache = &mut self.state().records.cache;
        let before = cache.len();
        cache.retain(|_, entry| entry.expires_at.is_none_or(|t| t > now));
        Ok((before - cache.len()) as u64)
    }
}
