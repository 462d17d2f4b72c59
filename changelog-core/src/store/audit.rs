//! The audit log: who did what to what, from where, and how it ended. Events are only ever
//! added; listings go newest first with a keyset cursor on (time, id).

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{MAX_PAGE_SIZE, Page, StoreError, StoreResult};

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// It was done.
    Success,
    /// It was refused (authentication, permission, quota).
    Denied,
    /// It failed.
    Failure,
}

impl AuditOutcome {
    /// The name stored in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failure => "failure",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> StoreResult<Self> {
        Ok(match name {
            "success" => Self::Success,
            "denied" => Self::Denied,
            "failure" => Self::Failure,
            other => {
                return Err(StoreError::Invalid {
                    what: "audit outcome",
                    reason: format!("`{other}`"),
                });
            }
        })
    }
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAuditEvent {
    /// The acting user, if known (`None` for failed sign-ins and anonymous calls).
    pub actor_id: Option<Uuid>,
    /// What was done (`changelog.update`, `auth.login`, `api_key.revoke`, ...).
    pub action: String,
    /// What it was done to (`changelog:<id>`), if anything.
    pub target: Option<String>,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Stable identifier.
    pub id: Uuid,
    /// The acting user.
    pub actor_id: Option<Uuid>,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Filters and page of an audit listing (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Only this actor's events.
    pub actor_id: Option<Uuid>,
    /// Only this action.
    pub action: Option<String>,
    /// Only events about this target.
    pub target: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Strictly before.
    pub until: Option<DateTime<Utc>>,
    /// Page size; 0 means 50, anything above [`MAX_PAGE_SIZE`] is capped.
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl AuditQuery {
    /// The page size this query gets.
    #[must_use]
    pub fn page_size(&self) -> u32 {
        match self.limit {
            0 => 50,
            n => n.min(MAX_PAGE_SIZE),
        }
    }

    /// The position the query continues after: (time in microseconds, id).
    pub fn after(&self) -> StoreResult<Option<(i64, Uuid)>> {
        self.cursor.as_deref().map(decode_cursor).transpose()
    }
}

/// The longest user agent kept; longer ones are cut (on a character boundary).
pub const MAX_USER_AGENT_LEN: usize = 512;

/// Checks an event and cuts what may be cut.
pub fn checked(event: &NewAuditEvent) -> StoreResult<NewAuditEvent> {
    if event.action.trim().is_empty() {
        return Err(StoreError::Invalid {
            what: "audit event",
            reason: "the action is empty".into(),
        });
    }
    let mut event = event.clone();
    if let Some(agent) = &mut event.user_agent
        && let Some((cut, _)) = agent.char_indices().nth(MAX_USER_AGENT_LEN)
    {
        agent.truncate(cut);
    }
    Ok(event)
}

impl Page<AuditEvent> {
    /// A page of an audit listing; when more rows follow, the cursor points after its last
    /// row.
    #[must_use]
    pub fn of_audit_events(items: Vec<AuditEvent>, more: bool) -> Self {
        let next_cursor = if more {
            items
                .last()
                .map(|e| format!("{}_{}", e.at.timestamp_micros(), e.id.simple()))
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

fn decode_cursor(text: &str) -> StoreResult<(i64, Uuid)> {
    let invalid = || StoreError::Invalid {
        what: "cursor",
        reason: "not a cursor of an audit listing".into(),
    };
    let (micros, id) = text.split_once('_').ok_or_else(invalid)?;
    Ok((
        micros.parse().map_err(|_| invalid())?,
        Uuid::try_parse(id).map_err(|_| invalid())?,
    ))
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Records an event at the current time.
    async fn record_audit(&self, event: &NewAuditEvent) -> StoreResult<AuditEvent>;

    /// One page of events, newest first.
    async fn audit_events(&self, query: &AuditQuery) -> StoreResult<Page<AuditEvent>>;
}
