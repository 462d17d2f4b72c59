//! Usage per user per day: requests, tokens and cost, what quotas are checked against.
//!
//! Days are UTC calendar days. Recording adds to the day's row in one statement, so concurrent
//! requests are all counted.

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoreResult;

/// What one or more requests used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageAmount {
    /// Requests made.
    pub requests: i64,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Cost in US dollars.
    pub cost_usd: f64,
}

impl UsageAmount {
    /// The sum of two amounts.
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self {
            requests: self.requests + other.requests,
            input_tokens: self.input_tokens + other.input_tokens,
            output_tokens: self.output_tokens + other.output_tokens,
            cost_usd: self.cost_usd + other.cost_usd,
        }
    }
}

/// One user's usage on one day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UsageDay {
    /// The user.
    pub user_id: Uuid,
    /// The UTC day.
    pub day: NaiveDate,
    /// What was used that day.
    pub amount: UsageAmount,
}

/// Usage counters.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds `amount` to a user's usage on `day` and returns the day's new total.
    async fn record_usage(
        &self,
        user_id: Uuid,
        day: NaiveDate,
        amount: &UsageAmount,
    ) -> StoreResult<UsageDay>;

    /// A user's usage on each day from `first` to `last` (both included) that has any,
    /// oldest first.
    async fn usage(
        &self,
        user_id: Uuid,
        first: NaiveDate,
        last: NaiveDate,
    ) -> StoreResult<Vec<UsageDay>>;

    /// A user's total usage from `first` to `last` (both included).
    async fn usage_total(
        &self,
        user_id: Uuid,
        first: NaiveDate,
        last: NaiveDate,
    ) -> StoreResult<UsageAmount> {
        Ok(self
            .usage(user_id, first, last)
            .await?
            .iter()
            .fold(UsageAmount::default(), |sum, day| sum.plus(day.amount)))
    }
}
