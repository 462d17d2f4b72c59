//! Answers of language models kept in the store, so that every server instance sharing it
//! shares one cache. [`StoreCache`] puts such a store behind the core's
//! [`CompletionCache`](crate::llm::cache::CompletionCache).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use super::job::lease_end;
use crate::llm::Completion;
use crate::llm::cache::CompletionCache;

/// Cache entries: a value (JSON) per key, with an optional expiry.
#[async_trait]
pub trait CacheEntryStore: Send + Sync {
    /// The value under `key`, if there is one that has not expired at `now`.
    async fn cache_entry(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<serde_json::Value>>;

    /// Stores `value` under `key` (replacing what was there), expiring at `expires_at`.
    async fn put_cache_entry(
        &self,
        key: &str,
        value: &serde_json::Value,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;

    /// Deletes the entries expired at `now`; returns how many.
    async fn purge_cache_entries(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// A [`CompletionCache`] on a store's cache entries. A store that fails is a miss (the
/// request is then sent), never an error of the generation.
#[derive(Clone)]
pub struct StoreCache {
    store: Arc<dyn CacheEntryStore>,
    ttl: Option<Duration>,
}

impl std::fmt::Debug for StoreCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl StoreCache {
    /// Answers kept in `store`, each for `ttl` (`None`: until purged by hand).
    #[must_use]
    pub fn new(store: Arc<dyn CacheEntryStore>, ttl: Option<Duration>) -> Self {
        Self { store, ttl }
    }
}

#[async_trait]
impl CompletionCache for StoreCache {
    async fn get(&self, key: &str) -> Option<Completion> {
        let value = self.store.cache_entry(key, super::now()).await.ok()??;
        serde_json::from_value(value).ok()
    }

    async fn put(&self, key: &str, completion: &Completion) {
        let Ok(value) = serde_json::to_value(completion) else {
            return;
        };
        let expires_at = self.ttl.map(|ttl| lease_end(super::now(), ttl));
        // A cache that cannot be written only costs a request next time.
        let _ignored = self.store.put_cache_entry(key, &value, expires_at).await;
    }

    /// Replaces the entry with one already expired: a miss from then on, purged later.
    async fn remove(&self, key: &str) {
        let expired = super::now() - chrono::Duration::seconds(1);
        let _ignored = self
            .store
            .put_cache_entry(key, &serde_json::Value::Null, Some(expired))
            .await;
    }
}
