//! API keys: the secret is shown once at creation; stores keep only its visible prefix and its
//! SHA-256 hash.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::StoreResult;

/// What every key starts with, so that leaked keys are recognisable.
pub const KEY_PREFIX: &str = "clk_";

/// A stored API key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Stable identifier.
    pub id: Uuid,
    /// The user the key acts for.
    pub user_id: Uuid,
    /// A name the user chose.
    pub name: String,
    /// The visible start of the key (`clk_` and 8 characters), unique.
    pub prefix: String,
    /// What the key may do.
    pub scopes: Vec<String>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last accepted.
    pub last_used_at: Option<DateTime<Utc>>,
    /// How many times it was accepted.
    pub use_count: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// The fields of a new API key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiKey {
    /// The user the key acts for.
    pub user_id: Uuid,
    /// A name the user chose.
    pub name: String,
    /// What the key may do.
    pub scopes: Vec<String>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key just created: the record, and the secret, which is never available again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedApiKey {
    /// What is stored.
    pub key: ApiKey,
    /// The whole key, to show the user once.
    pub secret: String,
}

/// A fresh key: `clk_`, 8 visible characters, `_`, 56 secret ones (random, from UUIDv4s).
#[must_use]
pub fn generate_key() -> (String, String) {
    let random = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let prefix = format!("{KEY_PREFIX}{}", &random[..8]);
    let secret = format!("{prefix}_{}", &random[8..]);
    (prefix, secret)
}

/// The prefix a presented key claims (`None` if it is not shaped like a key).
#[must_use]
pub fn key_prefix(secret: &str) -> Option<&str> {
    let prefix = secret.get(..KEY_PREFIX.len() + 8)?;
    (prefix.starts_with(KEY_PREFIX) && secret.as_bytes().get(prefix.len()) == Some(&b'_'))
        .then_some(prefix)
}

/// The SHA-256 of a key, in hex: what stores keep.
#[must_use]
pub fn hash_key(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// API keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Creates a key and returns its secret, once.
    async fn create_api_key(&self, key: &NewApiKey) -> StoreResult<IssuedApiKey>;

    /// The key a presented secret belongs to, if it exists and is neither revoked nor expired;
    /// counts the use and records its time.
    async fn authenticate_api_key(&self, secret: &str) -> StoreResult<Option<ApiKey>>;

    /// A user's keys, oldest first.
    async fn api_keys(&self, user_id: Uuid) -> StoreResult<Vec<ApiKey>>;

    /// Revokes a key (it stays listed, marked revoked).
    async fn revoke_api_key(&self, id: Uuid) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_their_prefix_and_hash_differently() {
        let (prefix, secret) = generate_key();
        assert_eq!(key_prefix(&secret), Some(prefix.as_str()));
        assert_eq!(secret.len(), KEY_PREFIX.len() + 8 + 1 + 56);
        assert_eq!(hash_key(&secret).len(), 64);
        assert_ne!(generate_key().1, secret);
        assert_eq!(key_prefix("clk_short"), None);
        assert_eq!(key_prefix("xxx_12345678_rest"), None);
    }
}
