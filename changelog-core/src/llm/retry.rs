//! Trying a failed request again, with exponential backoff and full jitter.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{ChatRequest, Completion, CompletionStream, LlmError, LlmProvider};

/// When and how often to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (4). `0` counts as `1`.
    pub max_attempts: u32,
    /// The ceiling of the first wait (500 ms); it doubles after each failure.
    pub base_delay: Duration,
    /// The highest ceiling of a wait (30 s).
    pub max_delay: Duration,
    /// The most time all attempts and waits may take together (120 s).
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempt`-th failure (from 1), given a random `fraction` in
    /// `[0, 1)`: a uniform share of `min(max_delay, base_delay * 2^(attempt-1))` ("full
    /// jitter"), but never less than the `Retry-After` the error carries.
    #[must_use]
    pub fn delay(&self, attempt: u32, error: &LlmError, fraction: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let ceiling = self
            .base_delay
            .saturating_mul(1_u32 << doublings)
            .min(self.max_delay);
        let jittered = ceiling.mul_f64(fraction.clamp(0.0, 1.0));
        jittered.max(error.retry_after().unwrap_or_default())
    }
}

/// A random number in `[0, 1)` without a random number crate: `RandomState` is seeded
/// randomly per thread and changes its keys with every instance.
fn random_fraction() -> f64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    if let Ok(since_epoch) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(since_epoch.as_nanos());
    }
    // The top 53 bits make an evenly spread f64.
    (hasher.finish() >> 11) as f64 / (1_u64 << 53) as f64
}

/// A provider that tries again when the inner provider fails in a way that may pass
/// ([`LlmError::is_retryable`]). For [`stream`](LlmProvider::stream), opening the stream is
/// retried; a stream that fails later is the caller's to restart.
pub struct Retry {
    inner: Arc<dyn LlmProvider>,
    policy: RetryPolicy,
}

impl Retry {
    /// Wraps `inner`.
    #[must_use]
    pub fn new(inner: Arc<dyn LlmProvider>, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    /// The policy in use.
    #[must_use]
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, LlmError>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, LlmError>> + Send,
        T: Send,
    {
        let deadline = Instant::now() + self.policy.deadline;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let error = match tokio::time::timeout(remaining, attempt()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => error,
                Err(_) => {
                    return Err(LlmError::Timeout {
                        provider: self.inner.name().to_owned(),
                        seconds: self.policy.deadline.as_secs_f64().ceil() as u64,
                    });
                }
            };
            if !error.is_retryable() || attempts >= self.policy.max_attempts.max(1) {
                return Err(error);
            }
            let wait = self.policy.delay(attempts, &error, random_fraction());
            if Instant::now() + wait >= deadline {
                return Err(explain_no_wait(error, wait, self.policy.deadline));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// The error of a request not tried again because the wait it asked for (`Retry-After`) runs
/// past the retry deadline: its message says so.
fn explain_no_wait(error: LlmError, wait: Duration, deadline: Duration) -> LlmError {
    match error {
        LlmError::Status {
            provider,
            status,
            message,
            retry_after: Some(asked),
        } => LlmError::Status {
            message: format!(
                "{message} (not retried: the server asked to wait {} s with Retry-After, past the retry deadline of {} s)",
                asked.as_secs_f64().ceil(),
                deadline.as_secs_f64().ceil()
            ),
            provider,
            status,
            retry_after: Some(asked),
        },
        LlmError::Status {
            provider,
            status,
            message,
            retry_after: None,
        } => LlmError::Status {
            message: format!(
                "{message} (not retried: the next wait, {} s, runs past the retry deadline of {} s)",
                wait.as_secs_f64().ceil(),
                deadline.as_secs_f64().ceil()
            ),
            provider,
            status,
            retry_after: None,
        },
        other => other,
    }
}

impl std::fmt::Debug for Retry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retry")
            .field("inner", &self.inner.name())
            .field("policy", &self.policy)
            .finish()
    }
}

#[async_trait]
impl LlmProvider for Retry {
    /// The inner provider's name: retrying does not change what answers.
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn endpoint(&self) -> String {
        self.inner.endpoint()
    }

    async fn complete(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        self.run(|| self.inner.complete(request)).await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<CompletionStream, LlmError> {
        self.run(|| self.inner.stream(request)).await
    }

    async fn forget(&self, request: &ChatRequest) {
        self.inner.forget(request).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::test_support::{Scripted, completion, request, status};

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            deadline: Duration::from_secs(60),
        }
    }

    #[test]
    fn delay_is_full_jitter_under_a_doubling_ceiling() {
        let policy = policy();
        let error = status(500, None);
        assert_eq!(policy.delay(1, &error, 0.0), Duration::ZERO);
        assert_eq!(policy.delay(1, &error, 0.5), Duration::from_millis(50));
        assert_eq!(policy.delay(3, &error, 0.5), Duration::from_millis(200));
        assert_eq!(policy.delay(30, &error, 0.5), Duration::from_millis(500));
        assert_eq!(policy.delay(u32::MAX, &error, 1.0), Duration::from_secs(1));
        let limited = status(429, Some(Duration::from_secs(3)));
        assert_eq!(policy.delay(1, &limited, 0.9), Duration::from_secs(3));
    }

    #[test]
    fn random_fractions_vary_within_range() {
        let fractions: Vec<f64> = (0..100).map(|_| random_fraction()).collect();
        assert!(fractions.iter().all(|f| (0.0..1.0).contains(f)));
        let mut distinct = fractions.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        assert!(distinct.len() > 90, "{distinct:?}");
        assert!(fractions.iter().any(|&f| f < 0.5) && fractions.iter().any(|&f| f >= 0.5));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_until_success() {
        let inner = Scripted::new([Err(status(503, None)), Err(status(429, None)), Ok(())]);
        let retry = Retry::new(inner.clone(), policy());
        let answer = retry.complete(&request("m")).await.expect("third answer");
        assert_eq!(answer, completion("m"));
        assert_eq!(inner.calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_after_max_attempts_with_the_last_error() {
        let inner = Scripted::new([
            Err(status(500, None)),
            Err(status(501, None)),
            Err(status(502, None)),
            Err(status(503, None)),
            Ok(()),
        ]);
        let retry = Retry::new(inner.clone(), policy());
        let error = retry.complete(&request("m")).await.expect_err("fails");
        assert_eq!(error, status(503, None));
        assert_eq!(inner.calls(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_request_faults() {
        let inner = Scripted::new([Err(status(400, None)), Ok(())]);
        let retry = Retry::new(inner.clone(), policy());
        assert_eq!(retry.complete(&request("m")).await, Err(status(400, None)));
        assert_eq!(inner.calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_at_least_retry_after() {
        let wait = Duration::from_secs(7);
        let inner = Scripted::new([Err(status(429, Some(wait))), Ok(())]);
        let retry = Retry::new(inner.clone(), policy());
        let start = Instant::now();
        retry.complete(&request("m")).await.expect("second answer");
        assert!(start.elapsed() >= wait, "{:?}", start.elapsed());
        assert!(start.elapsed() < wait + Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn never_waits_past_the_deadline() {
        let inner = Scripted::new([Err(status(429, Some(Duration::from_secs(600)))), Ok(())]);
        let retry = Retry::new(inner.clone(), policy());
        let start = Instant::now();
        let error = retry.complete(&request("m")).await.expect_err("gives up");
        assert_eq!(error.retry_after(), Some(Duration::from_secs(600)));
        assert_eq!(inner.calls(), 1);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_opening_a_stream() {
        let inner = Scripted::new([Err(status(502, None)), Ok(())]);
        let retry = Retry::new(inner.clone(), policy());
        let events = crate::llm::test_support::collect(retry.stream(&request("m")).await).await;
        assert_eq!(events.len(), 2);
        assert_eq!(inner.calls(), 2);
    }
}
