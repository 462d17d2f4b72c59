//! Where commits come from.
//!
//! A [`CommitSource`] resolves a [`RangeQuery`] into a [`Range`] and lists its commits. The
//! local git source ([`git::GitSource`]) reads a repository on disk with libgit2; remote sources
//! speak to hosting services' REST APIs.

#[cfg(feature = "git")]
pub mod git;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::commit::{Commit, Range, RangeQuery, RemoteRepository};
use crate::error::{Error, Result};

/// The commits of a range, as a source read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The resolved range; `None` when the source has no commits at all to anchor it.
    pub range: Option<Range>,
    /// The commits, newest first (topological order, ties broken by date), each once.
    pub commits: Vec<Commit>,
    /// Where the repository lives on the web, if it is a known host.
    pub repository: Option<RemoteRepository>,
}

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

/// Short ids: for each full id, the shortest prefix of at least `min` digits that no other id of
/// the list shares. Returned in the order of `ids`.
#[must_use]
pub fn unambiguous_prefixes(ids: &[&str], min: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_unstable_by_key(|&i| ids[i]);
    let common = |a: &str, b: &str| a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let mut lengths: Vec<usize> = ids.iter().map(|id| min.min(id.len())).collect();
    for pair in order.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let shared = common(ids[a], ids[b]) + 1;
        lengths[a] = lengths[a].max(shared).min(ids[a].len());
        lengths[b] = lengths[b].max(shared).min(ids[b].len());
    }
    lengths
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

    #[test]
    fn prefixes_grow_until_unambiguous() {
        let ids = ["abcdef0123", "abcdef0999", "1234567890", "abcdef1000"];
        assert_eq!(unambiguous_prefixes(&ids, 7), [8, 8, 7, 7]);
        assert_eq!(unambiguous_prefixes(&["abc"], 7), [3]);
    }
}
