//! Where commits come from.
//!
//! A [`CommitSource`] resolves a [`RangeQuery`] into a [`Range`] and lists its commits. The
//! local git source ([`git::GitSource`]) reads a repository on disk with libgit2; remote sources
//! speak to hosting services' REST APIs.

#[cfg(feature = "git")]
pub mod git;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::commit::RangeQuery;
pub use crate::commit::{History, unambiguous_prefixes};
use crate::error::{Error, Result};

/// A provider of commit history.
///
/// The trait is object-safe so a source can be chosen at run time (`Arc<dyn CommitSource>`).
#[async_trait]
pub trait CommitSource: Send + Sync {
    /// Human-readable name of what is read (a path or a URL), for messages.
    fn name(&self) -> &str;

    /// Resolves the query and reads the commits of the range.
    async fn history(&self, query: &RangeQuery) -> Result<History>;
}

/// Reads a date given on a command line or in a request: `YYYY-MM-DD` (midnight UTC, or the end
/// of that day when `end_of_day` is set, so that `--until 2024-05-01` includes the 1st) or an
/// RFC 3339 timestamp.
pub fn parse_date(input: &str, end_of_day: bool) -> Result<DateTime<FixedOffset>> {
    let trimmed = input.trim();
    if let Ok(timestamp) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(timestamp);
    }
    let date = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d").map_err(|_| Error::InvalidDate {
        input: input.to_owned(),
    })?;
    let time = if end_of_day {
        NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default()
    } else {
        NaiveTime::MIN
    };
    Ok(Utc.from_utc_datetime(&date.and_time(time)).fixed_offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2024-05-01", false).unwrap().to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_date("2024-05-01", true).unwrap().to_rfc3339(),
            "2024-05-01T23:59:59+00:00"
        );
        assert_eq!(
            parse_date("2024-05-01T10:00:00+02:00", false)
                .unwrap()
                .to_rfc3339(),
            "2024-05-01T10:00:00+02:00"
        );
        let err = parse_date("yesterday", false).unwrap_err();
        assert!(err.to_string().contains("`yesterday`"), "{err}");
        assert!(err.is_usage());
    }
}
