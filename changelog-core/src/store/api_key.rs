//! API keys: the secret is shown once at creation; stores keep only its visible prefix and its
//! SHA-256 hash.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{StoreError, StoreResult};

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
    /// The visible start of the key (`clk_` and [`VISIBLE_DIGITS`] characters), unique.
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

/// How many hexadecimal digits of the key are visible (and stored, under a unique index): 64
/// random bits, so that a store with millions of keys rarely sees two draw the same.
pub const VISIBLE_DIGITS: usize = 16;

/// How many hexadecimal digits of the key are secret: 192 random bits.
pub const SECRET_DIGITS: usize = 48;

/// How many keys a store draws before it gives up on finding a prefix nobody has.
pub const PREFIX_ATTEMPTS: usize = 5;

/// `n` random hexadecimal digits: the random nibbles of UUIDv4s (all but the version nibble
/// and the variant nibble, which are fixed or half fixed).
fn random_hex(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let uuid = Uuid::new_v4().simple().to_string();
        for (i, c) in uuid.chars().enumerate() {
            if i != 12 && i != 16 && out.len() < n {
                out.push(c);
            }
        }
    }
    out
}

/// A fresh key: `clk_`, [`VISIBLE_DIGITS`] visible hexadecimal digits, `_`, [`SECRET_DIGITS`]
/// secret ones. Returns the prefix (what is stored and shown) and the whole key.
#[must_use]
pub fn generate_key() -> (String, String) {
    let prefix = format!("{KEY_PREFIX}{}", random_hex(VISIBLE_DIGITS));
    let secret = format!("{prefix}_{}", random_hex(SECRET_DIGITS));
    (prefix, secret)
}

/// Where a store's new keys come from: [`generate_key`] unless the store was given another
/// source (to see what happens when two keys draw the same prefix).
#[derive(Clone)]
pub struct KeyGenerator(Arc<dyn Fn() -> (String, String) + Send + Sync>);

impl KeyGenerator {
    /// Keys from `generate`, which returns a prefix and the whole key starting with it.
    pub fn new(generate: impl Fn() -> (String, String) + Send + Sync + 'static) -> Self {
        Self(Arc::new(generate))
    }

    /// The next key: its prefix and the whole key.
    #[must_use]
    pub fn generate(&self) -> (String, String) {
        (self.0)()
    }
}

impl Default for KeyGenerator {
    fn default() -> Self {
        Self::new(generate_key)
    }
}

impl std::fmt::Debug for KeyGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyGenerator")
    }
}

/// The error when each of [`PREFIX_ATTEMPTS`] keys drew a prefix already taken.
#[must_use]
pub fn prefix_exhausted() -> StoreError {
    StoreError::Duplicate {
        field: format!("API key prefix (after {PREFIX_ATTEMPTS} attempts)"),
    }
}

/// The prefix a presented key claims (`None` if it is not shaped like a key): `clk_`, then 8
/// (keys made before the prefix grew) to 32 letters or digits, then `_`.
#[must_use]
pub fn key_prefix(secret: &str) -> Option<&str> {
    let rest = secret.strip_prefix(KEY_PREFIX)?;
    let visible = rest.split_once('_')?.0;
    ((8..=32).contains(&visible.len()) && visible.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| &secret[..KEY_PREFIX.len() + visible.len()])
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
    /// Creates a key and returns its secret, once. A drawn prefix that is already taken is
    /// drawn again, up to [`PREFIX_ATTEMPTS`] times.
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
        assert_eq!(prefix.len(), KEY_PREFIX.len() + VISIBLE_DIGITS);
        assert_eq!(secret.len(), KEY_PREFIX.len() + 16 + 1 + 48);
        assert_eq!(hash_key(&secret).len(), 64);
        assert_ne!(generate_key().1, secret);
        assert_eq!(key_prefix("clk_short"), None);
        assert_eq!(key_prefix("clk_1234567_rest"), None);
        assert_eq!(key_prefix("xxx_12345678_rest"), None);
        // Keys made when the prefix had 8 digits still name theirs.
        assert_eq!(key_prefix("clk_1234abcd_rest"), Some("clk_1234abcd"));
    }

    #[test]
    fn visible_digits_are_all_random() {
        // Every position takes many values: none is a UUID's fixed version or variant nibble.
        let prefixes: Vec<String> = (0..200).map(|_| generate_key().0).collect();
        for i in KEY_PREFIX.len()..KEY_PREFIX.len() + VISIBLE_DIGITS {
            let values: std::collections::BTreeSet<u8> =
                prefixes.iter().map(|p| p.as_bytes()[i]).collect();
            assert!(values.len() > 8, "position {i} takes {values:?}");
        }
    }
}
