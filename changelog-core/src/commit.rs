//! Commits as read from a source, and the range they were read from.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::files::Files;

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
    /// References (`#34`, `!12`) of the pull or merge requests whose merges brought this commit
    /// in, the innermost (the one merged first) first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_refs: Vec<String>,
    /// Title of the innermost pull request whose merge brought this commit in, when the merge
    /// names it (`Subject (#12)` of a merge queue, the first body line of a GitHub, bors or
    /// GitLab merge, `Merged PR 12: Subject` of Azure DevOps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_title: Option<String>,
    /// The sort of every file the commit changes, when they are all of one sort (only tests,
    /// only documentation, ...). Sources that see the changes set it for the commits whose
    /// message leaves their kind open ([`crate::parse::files_may_decide`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Files>,
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
        let trailers = trailers(&body);
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
            merge_title: None,
            files: None,
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
    /// In a shallow clone read with [`RangeQuery::allow_shallow`], the commit where the clone's
    /// history stops within the range: the commits before it are missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated_at: Option<String>,
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
    /// Classify commits by their messages alone: sources do not look at the files of commits
    /// whose message has no Conventional Commits type (see [`crate::files`]).
    pub words_only: bool,
    /// Read a shallow clone's range even where it reaches the clone's boundary (the commits
    /// before it are missing; [`Range::truncated_at`] says where). Without it, that is an
    /// error.
    pub allow_shallow: bool,
    /// Prefix of the release tags of the package the range is about (`tokio-`, `@scope/pkg@`):
    /// only tags made of the prefix and a version (`tokio-1.52.0`, not `tokio-macros-2.7.1`)
    /// bound the default and single-tag ranges, and headings show the version alone.
    pub tag_prefix: Option<String>,
    /// Which tags are releases: a glob (`v*`) or a regular expression (`^v\d+`), as
    /// [`crate::version`] tells apart; by default, tags that read as versions. Like the
    /// prefix, it bounds the default and single-tag ranges.
    pub tag_pattern: Option<String>,
    /// A regular expression of tags that are never releases (`-rc`, `beta`): their commits
    /// belong to the next release.
    pub skip_tags: Option<String>,
}

/// Which releases of a history to read, one changelog each (see
/// [`GitSource::read_releases`](crate::source::git::GitSource::read_releases)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReleaseSelection {
    /// How many releases, newest first; `None` for every one.
    pub count: Option<usize>,
    /// Whether the commits after the latest release come first, as an unreleased changelog.
    pub unreleased: bool,
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
        let (authority, path) = if let Some((scheme, rest)) = remote.split_once("://") {
            if !matches!(scheme, "https" | "http" | "ssh" | "git") {
                return None;
            }
            // The authority ends where a URL parser ends it (`\` included), so the host read
            // here is the host a clone reached; the path ends before a query or a fragment,
            // which may hold a token.
            let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(end);
            let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
            (authority, &tail[..path_end])
        } else {
            // scp-like: git@github.com:owner/name.git
            let (authority, path) = remote.split_once(':')?;
            if authority.contains('/') {
                return None;
            }
            (authority, path)
        };
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let host_name = host.split(':').next()?.to_ascii_lowercase();
        if host_name.is_empty()
            || !host_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        {
            return None;
        }
        let kind = if host_name.contains("github") {
            RemoteHost::GitHub
        } else if host_name.contains("gitlab") {
            RemoteHost::GitLab
        } else {
            return None;
        };
        let path = path.trim_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        let plain = |segment: &&str| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        };
        if segments.len() < 2 || !segments.iter().all(plain) {
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

/// Link templates that replace the URL shapes of the detected host (`[links]` of
/// `changelog.toml`): `{id}` is a commit's full id, `{number}` the number of a pull request or
/// an issue (`12` of `#12`, `7` of `!7`). A template that is `None` leaves those links to the
/// host, if one is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkTemplates {
    /// Commit pages (`https://git.example.com/c/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Pull or merge request pages (`https://git.example.com/pull/{number}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<String>,
    /// Issue pages (`https://git.example.com/issues/{number}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
}

impl LinkTemplates {
    /// The placeholder of commit templates.
    pub const ID: &'static str = "{id}";
    /// The placeholder of pull request and issue templates.
    pub const NUMBER: &'static str = "{number}";

    /// Whether no template is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.commit.is_none() && self.pull_request.is_none() && self.issue.is_none()
    }

    /// Checks that a template is an `http` or `https` URL holding its placeholder; the reason
    /// when it is not.
    pub fn check_template(template: &str, placeholder: &str) -> std::result::Result<(), String> {
        let lower = template.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(format!("`{template}` is not an http:// or https:// URL"));
        }
        if !template.contains(placeholder) {
            return Err(format!("`{template}` does not contain `{placeholder}`"));
        }
        Ok(())
    }

    /// The page of a commit, when a commit template is set.
    #[must_use]
    pub fn commit_url(&self, id: &str) -> Option<String> {
        self.commit.as_ref().map(|t| t.replace(Self::ID, id))
    }

    /// The page of a reference (`#12`, `!7`) as a pull request or as an issue, when that
    /// template is set and the reference is a sigil and a number.
    #[must_use]
    pub fn reference_url(&self, reference: &str, pull_request: bool) -> Option<String> {
        let template = if pull_request {
            self.pull_request.as_ref()
        } else {
            self.issue.as_ref()
        }?;
        let (sigil, number) = reference.split_at_checked(1)?;
        if !matches!(sigil, "#" | "!")
            || number.is_empty()
            || !number.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(template.replace(Self::NUMBER, number))
    }
}

/// A person credited for an entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Author {
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

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

/// Parses the trailers (Conventional Commits footers) at the end of a message body.
///
/// The footer block is the longest run of final paragraphs whose first line is a footer
/// (`Token: value` or `Token #value`, the token having no spaces except in `BREAKING CHANGE`),
/// or starts earlier at a `BREAKING CHANGE:` paragraph. A line that does not start a footer
/// continues the value of the previous one.
#[must_use]
pub fn trailers(body: &str) -> Vec<Trailer> {
    let paragraphs: Vec<&str> = body
        .split("\n\n")
        .map(|p| p.trim_matches(['\n', '\r']))
        .filter(|p| !p.trim().is_empty())
        .collect();
    let mut first_footer_paragraph = paragraphs.len();
    while first_footer_paragraph > 0 {
        let candidate = paragraphs[first_footer_paragraph - 1];
        let first_line = candidate.lines().next().unwrap_or_default();
        if footer_start(first_line).is_none() {
            break;
        }
        first_footer_paragraph -= 1;
    }
    // A breaking-change footer may go on for paragraphs (the explanation of a migration, as in
    // Angular's convention): the footers start at the first one.
    if let Some(breaking) = paragraphs
        .iter()
        .position(|p| p.starts_with("BREAKING CHANGE:") || p.starts_with("BREAKING-CHANGE:"))
    {
        first_footer_paragraph = first_footer_paragraph.min(breaking);
    }
    let mut out: Vec<Trailer> = Vec::new();
    for paragraph in &paragraphs[first_footer_paragraph..] {
        for line in paragraph.lines() {
            let line = line.trim_end_matches('\r');
            if let Some((key, value)) = footer_start(line) {
                out.push(Trailer {
                    key: key.to_owned(),
                    value: value.to_owned(),
                });
            } else if let Some(last) = out.last_mut() {
                last.value.push('\n');
                last.value.push_str(line.trim());
            }
        }
    }
    out
}

/// `Some((token, value))` when the line starts a footer.
fn footer_start(line: &str) -> Option<(&str, &str)> {
    for breaking in ["BREAKING CHANGE", "BREAKING-CHANGE"] {
        if let Some(rest) = line.strip_prefix(breaking)
            && let Some(value) = rest.strip_prefix(':')
        {
            return Some((breaking, value.trim()));
        }
    }
    let token_end = line
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'-'))?;
    if token_end == 0 {
        return None;
    }
    let (token, rest) = line.split_at(token_end);
    if let Some(value) = rest.strip_prefix(": ") {
        return Some((token, value.trim()));
    }
    if rest.starts_with(" #") {
        return Some((token, rest.trim()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_grow_until_unambiguous() {
        let ids = ["abcdef0123", "abcdef0999", "1234567890", "abcdef1000"];
        assert_eq!(unambiguous_prefixes(&ids, 7), [8, 8, 7, 7]);
        assert_eq!(unambiguous_prefixes(&["abc"], 7), [3]);
    }

    #[test]
    fn remote_urls_name_the_host_a_clone_reached_and_carry_no_secret() {
        // The host a URL parser (and so git) connects to is evil.example in both.
        assert_eq!(
            RemoteRepository::from_remote_url("https://evil.example/x@github.com/o/r"),
            None
        );
        assert_eq!(
            RemoteRepository::from_remote_url("https://t@evil.example\\@github.com/o/r"),
            None
        );
        let with_token = RemoteRepository::from_remote_url(
            "https://gitlab.example.com/g/r.git?private_token=S3CRET#frag",
        )
        .unwrap();
        assert_eq!(with_token.url, "https://gitlab.example.com/g/r");
        for odd in [
            "https://github.com/o/r<script>",
            "https://github.com/o/r)x(",
            "https://github.com/o/../r",
            "https://git hub.com/o/r",
        ] {
            let remote = RemoteRepository::from_remote_url(odd);
            assert!(
                remote
                    .as_ref()
                    .is_none_or(|r| !r.url.contains(['<', ')', ' '])),
                "{odd}: {remote:?}"
            );
        }
    }

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
