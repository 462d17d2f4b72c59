//! Commits as read from a source, and the range they were read from.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// A person and the moment they acted on a commit (as author or as committer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Display name, after `.mailmap` resolution.
    pub name: String,
    /// E-mail address, after `.mailmap` resolution.
    pub email: String,
    /// When, with the signer's own UTC offset.
    pub time: DateTime<FixedOffset>,
}

/// A `Key: value` trailer at the end of a commit message (`Co-authored-by`, `Refs`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailer {
    /// The key as written (`Co-authored-by`, `BREAKING CHANGE`).
    pub key: String,
    /// The value; continuation lines are joined with `\n`.
    pub value: String,
}

/// One commit of the history, independent of where it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// Full object id (40 hexadecimal digits for SHA-1 repositories).
    pub id: String,
    /// Shortest prefix of `id` (at least 7 digits) that is unambiguous within its range.
    pub short_id: String,
    /// Who wrote the change.
    pub author: Signature,
    /// Who recorded it.
    pub committer: Signature,
    /// First line of the message.
    pub summary: String,
    /// The message after the summary and the blank line that follows it, trailers included.
    pub body: String,
    /// Trailers of the message's last paragraph.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trailers: Vec<Trailer>,
    /// Parent ids, first parent first.
    pub parents: Vec<String>,
    /// References (`#34`, `!12`) of the pull or merge request whose merge brought this commit in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_refs: Vec<String>,
}

impl Commit {
    /// Builds a commit from its raw message: splits summary, body and trailers.
    #[must_use]
    pub fn from_message(
        id: String,
        author: Signature,
        committer: Signature,
        message: &str,
        parents: Vec<String>,
    ) -> Self {
        let normalised;
        let message = if message.contains('\r') {
            normalised = message.replace("\r\n", "\n");
            normalised.as_str()
        } else {
            message
        };
        let message = message.trim_start_matches('\n');
        let (summary, rest) = message.split_once('\n').unwrap_or((message, ""));
        let body = rest.trim_matches(['\n', '\r', ' ', '\t']).to_owned();
        let trailers = crate::parse::trailers(&body);
        let short_id = id.chars().take(7).collect();
        Self {
            id,
            short_id,
            author,
            committer,
            summary: summary.trim_end().to_owned(),
            body,
            trailers,
            parents,
            merge_refs: Vec::new(),
        }
    }

    /// Whether the commit has more than one parent.
    #[must_use]
    pub fn is_merge(&self) -> bool {
        self.parents.len() > 1
    }
}

/// One end of a resolved range: what the user named and the commit it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeEnd {
    /// The revision as named (`v1.2.0`, `HEAD`, `main~3`).
    pub rev: String,
    /// The full id of the commit it points to.
    pub commit: String,
    /// The tag naming that commit, when the revision is a tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The commit's committer date.
    pub time: DateTime<FixedOffset>,
}

/// The range a set of commits was read from, after resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The canonical spelling, `from..to`, or `to` alone when the range starts at the root.
    pub spec: String,
    /// Exclusive lower end; `None` means the whole history up to `to`.
    pub from: Option<RangeEnd>,
    /// Inclusive upper end.
    pub to: RangeEnd,
    /// Only commits committed at or after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<FixedOffset>>,
    /// Only commits committed at or before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<FixedOffset>>,
    /// Only commits touching one of these paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

/// What a caller asks a [`CommitSource`](crate::source::CommitSource) for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeQuery {
    /// `A..B`, `A..`, a single tag, or `None` for "latest tag to HEAD".
    pub range: Option<String>,
    /// Lower bound on the commit date (inclusive).
    pub since: Option<DateTime<FixedOffset>>,
    /// Upper bound on the commit date (inclusive).
    pub until: Option<DateTime<FixedOffset>>,
    /// Path prefixes (relative to the repository root) that a commit must touch.
    pub paths: Vec<String>,
}

/// Where the history lives on the web, used to link commits and references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRepository {
    /// The hosting service.
    pub host: RemoteHost,
    /// Web URL of the project, without a trailing slash (`https://github.com/owner/name`).
    pub url: String,
}

/// Hosting services whose URL shapes are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteHost {
    /// github.com or GitHub Enterprise.
    GitHub,
    /// gitlab.com or a self-hosted GitLab.
    GitLab,
}

impl RemoteRepository {
    /// Recognises a GitHub or GitLab remote from its fetch URL (HTTPS, SSH or scp-like form).
    #[must_use]
    pub fn from_remote_url(remote: &str) -> Option<Self> {
        let remote = remote.trim();
        let (host, path) = if let Some(rest) = remote
            .strip_prefix("https://")
            .or_else(|| remote.strip_prefix("http://"))
            .or_else(|| remote.strip_prefix("ssh://"))
            .or_else(|| remote.strip_prefix("git://"))
        {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            rest.split_once('/')?
        } else {
            // scp-like: git@github.com:owner/name.git
            let rest = remote.split_once('@').map_or(remote, |(_, r)| r);
            rest.split_once(':')?
        };
        let host_name = host.split(':').next()?.to_ascii_lowercase();
        let kind = if host_name.contains("github") {
            RemoteHost::GitHub
        } else if host_name.contains("gitlab") {
            RemoteHost::GitLab
        } else {
            return None;
        };
        let path = path.trim_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        if path.split('/').filter(|s| !s.is_empty()).count() < 2 {
            return None;
        }
        Some(Self {
            host: kind,
            url: format!("https://{host_name}/{path}"),
        })
    }

    /// Web page of a commit.
    #[must_use]
    pub fn commit_url(&self, id: &str) -> String {
        match self.host {
            RemoteHost::GitHub => format!("{}/commit/{id}", self.url),
            RemoteHost::GitLab => format!("{}/-/commit/{id}", self.url),
        }
    }

    /// Web page of a reference such as `#12` (issue or pull request) or `!7` (merge request).
    #[must_use]
    pub fn reference_url(&self, reference: &str) -> Option<String> {
        let (sigil, number) = reference.split_at_checked(1)?;
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        match (self.host, sigil) {
            (RemoteHost::GitHub, "#") => Some(format!("{}/issues/{number}", self.url)),
            (RemoteHost::GitLab, "#") => Some(format!("{}/-/issues/{number}", self.url)),
            (RemoteHost::GitLab, "!") => Some(format!("{}/-/merge_requests/{number}", self.url)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls_in_every_form() {
        for url in [
            "https://github.com/owner/name.git",
            "https://token@github.com/owner/name",
            "git@github.com:owner/name.git",
            "ssh://git@github.com/owner/name.git",
            "ssh://git@github.com:22/owner/name/",
        ] {
            let remote = RemoteRepository::from_remote_url(url).unwrap();
            assert_eq!(remote.host, RemoteHost::GitHub, "{url}");
            assert_eq!(remote.url, "https://github.com/owner/name", "{url}");
        }
        let lab = RemoteRepository::from_remote_url("git@gitlab.com:group/sub/name.git").unwrap();
        assert_eq!(lab.url, "https://gitlab.com/group/sub/name");
        assert_eq!(
            lab.commit_url("abc"),
            "https://gitlab.com/group/sub/name/-/commit/abc"
        );
        assert_eq!(
            lab.reference_url("!7").as_deref(),
            Some("https://gitlab.com/group/sub/name/-/merge_requests/7")
        );
        assert!(RemoteRepository::from_remote_url("https://example.com/a/b").is_none());
        assert!(RemoteRepository::from_remote_url("/srv/git/repo.git").is_none());
        assert!(RemoteRepository::from_remote_url("https://github.com/owner").is_none());
    }

    #[test]
    fn message_is_split_into_summary_body_and_trailers() {
        let sig = Signature {
            name: "A".into(),
            email: "a@example.com".into(),
            time: DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap(),
        };
        let commit = Commit::from_message(
            "0123456789abcdef0123456789abcdef01234567".into(),
            sig.clone(),
            sig,
            "\nfeat: x\n\nbody line\n\nRefs: #1\nCo-authored-by: B <b@example.com>\n",
            vec![],
        );
        assert_eq!(commit.summary, "feat: x");
        assert_eq!(commit.short_id, "0123456");
        assert_eq!(
            commit.body,
            "body line\n\nRefs: #1\nCo-authored-by: B <b@example.com>"
        );
        assert_eq!(commit.trailers.len(), 2);
        assert_eq!(commit.trailers[1].key, "Co-authored-by");
    }
}
