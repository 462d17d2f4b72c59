//! Encryption at rest of GitHub access tokens: AES-256-GCM with a fresh random nonce per
//! value, the user's id as associated data (a ciphertext copied to another user's row does not
//! decrypt), and the id of the key stored next to each value so that keys can rotate.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use changelog_core::store::{StoreError, StoreResult};
use uuid::Uuid;

const NONCE_LEN: usize = 12;

/// The keys tokens are encrypted with: the current one (used for every new value) and older
/// ones still accepted for reading.
#[derive(Clone)]
pub struct TokenKeys {
    current: (String, Aes256Gcm),
    previous: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.debug_struct("TokenKeys")
            .field("current", &self.current.0)
            .field(
                "previous",
                &self.previous.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl TokenKeys {
    /// Keys whose current key is `key`, known as `id`.
    #[must_use]
    pub fn new(id: impl Into<String>, key: &[u8; 32]) -> Self {
        Self {
            current: (id.into(), cipher(key)),
            previous: Vec::new(),
        }
    }

    /// Also accepts values encrypted under an older key.
    #[must_use]
    pub fn with_previous(mut self, id: impl Into<String>, key: &[u8; 32]) -> Self {
        self.previous.push((id.into(), cipher(key)));
        self
    }

    /// The id of the key new values are encrypted with.
    #[must_use]
    pub fn current_id(&self) -> &str {
        &self.current.0
    }

    /// Reads a key written as 64 hexadecimal digits (how configuration carries it).
    pub fn parse_hex_key(hex: &str) -> StoreResult<[u8; 32]> {
        let invalid = || StoreError::Invalid {
            what: "encryption key",
            reason: "expected 64 hexadecimal digits (32 bytes)".into(),
        };
        // Exactly 64 digits: no surrounding space, no `0x`, and no sign (`from_str_radix`
        // would read `+0` as a digit pair).
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let digit = |b: u8| match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => b - b'A' + 10,
        };
        let mut key = [0u8; 32];
        for (byte, pair) in key.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            *byte = digit(pair[0]) << 4 | digit(pair[1]);
        }
        Ok(key)
    }

    /// Encrypts `token` for `user`: the stored bytes (nonce, then ciphertext and tag) and the
    /// id of the key used.
    pub(crate) fn encrypt(&self, user: Uuid, token: &str) -> StoreResult<(Vec<u8>, String)> {
        let (id, cipher) = &self.current;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: token.as_bytes(),
                    aad: user.as_bytes(),
                },
            )
            .map_err(|_| StoreError::backend("cannot encrypt a token", "AES-GCM failed"))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok((stored, id.clone()))
    }

    /// Decrypts what [`TokenKeys::encrypt`] stored.
    pub(crate) fn decrypt(&self, user: Uuid, key_id: &str, stored: &[u8]) -> StoreResult<String> {
        let cipher = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|(id, _)| id == key_id)
            .map(|(_, cipher)| cipher)
            .ok_or_else(|| StoreError::Invalid {
                what: "encryption key",
                reason: format!(
                    "the token was encrypted with key `{key_id}`, which is not configured"
                ),
            })?;
        let fail = || StoreError::backend("cannot decrypt a stored token", "AES-GCM check failed");
        if stored.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: user.as_bytes(),
                },
            )
            .map_err(|_| fail())?;
        String::from_utf8(plain).map_err(|e| StoreError::backend("a stored token is not UTF-8", e))
    }
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_keys_still_decrypt_and_other_users_cannot() {
        let old = TokenKeys::new("k1", &[1; 32]);
        let user = Uuid::new_v4();
        let (stored, id) = old.encrypt(user, "ghp_secret").unwrap();
        assert_eq!(id, "k1");
        let rotated = TokenKeys::new("k2", &[2; 32]).with_previous("k1", &[1; 32]);
        assert_eq!(rotated.decrypt(user, &id, &stored).unwrap(), "ghp_secret");
        assert_eq!(rotated.encrypt(user, "x").unwrap().1, "k2");
        assert!(rotated.decrypt(Uuid::new_v4(), &id, &stored).is_err());
        assert!(
            TokenKeys::new("k2", &[2; 32])
                .decrypt(user, &id, &stored)
                .is_err()
        );
        assert!(TokenKeys::parse_hex_key(&"ab".repeat(32)).is_ok());
        assert!(TokenKeys::parse_hex_key("abc").is_err());
    }

    #[test]
    fn hex_keys_are_exactly_64_hex_digits() {
        let digits = "0123456789abcdefABCDEF".repeat(3);
        let key = TokenKeys::parse_hex_key(&digits[..64]).unwrap();
        assert_eq!(key[..3], [0x01, 0x23, 0x45]);
        assert_eq!(
            TokenKeys::parse_hex_key(&"Ff".repeat(32)).unwrap(),
            [0xff; 32]
        );
        let refused = [
            "+0".repeat(32),
            "-0".repeat(32),
            format!(" {}", "0".repeat(63)),
            format!("{} ", "0".repeat(64)),
            format!(" {} ", "0".repeat(64)),
            format!("{}\n", "0".repeat(64)),
            format!("0x{}", "0".repeat(62)),
            format!("0x{}", "0".repeat(64)),
            "0".repeat(63),
            "0".repeat(65),
            format!("{}g", "0".repeat(63)),
            "\u{e9}".repeat(32),
            String::new(),
        ];
        for hex in &refused {
            let error = TokenKeys::parse_hex_key(hex).expect_err(hex);
            assert!(
                error.to_string().contains("64 hexadecimal digits"),
                "{error}"
            );
        }
    }
}
