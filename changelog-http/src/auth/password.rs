//! Passwords: a minimum strength on registration, argon2id hashes computed on the blocking
//! pool (never on the async threads), as many at once as there are cores.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// The longest password accepted, in characters (argon2 has no limit; this bounds the work to
/// 4 KiB of UTF-8). Characters, like every other limit of the API, so that the OpenAPI
/// document's `maxLength` states it exactly.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Checks a new password: long enough, not too long, not mostly one character, and not the
/// user's own name or address.
pub fn check_strength(password: &str, username: &str, email: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters long"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(ApiError::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters long"),
        ));
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 5 {
        return Err(ApiError::invalid(
            "password",
            "must use at least 5 different characters",
        ));
    }
    let lower = password.to_lowercase();
    if lower == username.to_lowercase() || lower == email.to_lowercase() {
        return Err(ApiError::invalid(
            "password",
            "must not be the username or the e-mail address",
        ));
    }
    Ok(())
}

/// How many argon2 computations run at once: one per core. Each holds 19 MiB and a core for
/// tens of milliseconds, so more at once only wait for the cores while holding their memory
/// (ten concurrent sign-ins took the server from 20 MB to 250 MB, and the allocator kept part
/// of it); the others wait here, in turn, without a thread.
fn turns() -> &'static Semaphore {
    static TURNS: OnceLock<Semaphore> = OnceLock::new();
    TURNS.get_or_init(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
    })
}

/// Runs an argon2 computation on the blocking pool when its turn comes. The turn ends with the
/// computation, also when the request is dropped while it runs.
async fn in_turn<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let turn = turns()
        .acquire()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    tokio::task::spawn_blocking(move || {
        let done = {
            #[cfg(test)]
            let _running = tests::Running::start();
            work()
        };
        drop(turn);
        done
    })
    .await
    .map_err(|e| ApiError::internal(&e))
}

/// The argon2id PHC string of `password`, computed on the blocking pool.
pub async fn hash(password: String) -> Result<String, ApiError> {
    in_turn(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await?
    .map_err(|e| ApiError::internal(&PasswordError(e.to_string())))
}

/// Whether `password` matches `hash`, checked on the blocking pool. Without a hash (an unknown
/// user) a dummy hash is checked, so the answer takes as long either way.
/// A password longer than [`MAX_PASSWORD_CHARS`] matches nothing and costs nothing.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Ok(false);
    }
    in_turn(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && matches
    })
    .await
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"not a password anyone has", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
struct PasswordError(String);

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::atomic::Ordering::SeqCst;

    use super::*;

    static RUNNING: AtomicUsize = AtomicUsize::new(0);
    static MOST: AtomicUsize = AtomicUsize::new(0);

    /// Counts the argon2 computations running at once, and the most seen.
    pub(super) struct Running;

    impl Running {
        pub(super) fn start() -> Self {
            let now = RUNNING.fetch_add(1, SeqCst) + 1;
            MOST.fetch_max(now, SeqCst);
            Self
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            RUNNING.fetch_sub(1, SeqCst);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_hashes_run_at_once_than_there_are_cores() {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let hashes: Vec<_> = (0..cores * 3)
            .map(|i| tokio::spawn(hash(format!("password number {i}"))))
            .collect();
        let mut phc = Vec::new();
        for task in hashes {
            phc.push(task.await.expect("task").expect("hash"));
        }
        let checks: Vec<_> = phc
            .iter()
            .enumerate()
            .map(|(i, h)| tokio::spawn(verify(format!("password number {i}"), Some(h.clone()))))
            .collect();
        for task in checks {
            assert!(task.await.expect("task").expect("verify"));
        }
        let most = MOST.load(SeqCst);
        assert!(
            (1..=cores).contains(&most),
            "{most} argon2 computations ran at once on {cores} cores"
        );
    }
}
