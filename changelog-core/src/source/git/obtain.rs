//! The one way a repository is obtained: a local path, or a clone of a URL, under a
//! [`RepoPolicy`].
//!
//! Every front end goes through [`obtain`]; each builds its own policy. A location is read as:
//!
//! - an option-like value (leading `-`), a transport-helper address (`ext::...`, `fd::...`) or
//!   a value with control characters: always refused;
//! - `scheme://...`: a URL. `https` (and `http` when the policy allows it) is cloned; `file://`
//!   is a local path under the local rules; anything else (`ssh://`, `git://`, ...) is refused;
//! - `[user@]host:path` (scp-like SSH): refused;
//! - anything else: a local path.
//!
//! Local paths are refused unless the policy allows any local path or the canonical path lies
//! under one of its canonical roots (so neither `..` nor a symlink leaves a root), and they are
//! opened as they are, without looking upward for a repository (unless the policy discovers).
//!
//! A clone URL's host must be on the policy's allow-list when it has one, and the host must not
//! be, or resolve to, a loopback, private, link-local, carrier-grade NAT, unspecified,
//! multicast, broadcast, IPv4-mapped or metadata address (unless the policy allows private
//! addresses). Git is then pinned to the checked address, so a second DNS answer cannot send it
//! elsewhere. See [`super::clone`] for how git runs.

use std::ffi::OsStr;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use tempfile::TempDir;

use super::GitSource;
use super::address::{non_public, parse_ipv4_loose, refused_name};
use super::clone::{CloneRequest, run_clone};
use crate::error::{Error, Result};
use crate::redact;

/// A URL scheme a clone may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `https://`.
    Https,
    /// `http://`: no transport security; for tests and trusted networks only.
    Http,
}

impl Scheme {
    /// The scheme's name as URLs and `GIT_ALLOW_PROTOCOL` write it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Https => "https",
            Self::Http => "http",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Https => 443,
            Self::Http => 80,
        }
    }
}

/// What [`obtain`] may read or clone, and how far a clone may go.
///
/// `RepoPolicy::default()` is the strict policy of a server: HTTPS clones of public hosts only,
/// no local path, 120 s, 1 GiB. The command line uses [`RepoPolicy::command_line`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RepoPolicy {
    /// The URL schemes a clone may use (default: HTTPS only).
    pub schemes: Vec<Scheme>,
    /// When set, the only hosts a clone may reach (names compared ignoring case; `*.example.com`
    /// matches its subdomains). When `None`, any public host.
    pub allowed_hosts: Option<Vec<String>>,
    /// Directories under which local repositories may be read (default: none). A relative
    /// path is read from the first.
    pub local_roots: Vec<PathBuf>,
    /// Any local path may be read (the command line's own `--repo`).
    pub any_local_path: bool,
    /// A local path may be inside a repository's work tree; the repository is looked up
    /// upward from it. Only for the command line.
    pub discover: bool,
    /// Clones may reach loopback, private and link-local addresses (tests, on-premise servers).
    pub private_addresses: bool,
    /// Ranges may use revision expressions (`main~3`, `v1^`, `:/message`, `@{1}`), which
    /// libgit2 evaluates by reading commits unchecked. Without it, a range names tags, branches
    /// and commit ids only (`v1.0.0..v1.1.0`, `v1.1.0`, `..HEAD`). Only for the command line.
    pub revision_expressions: bool,
    /// Wall-clock limit of a clone, resolution included (default 120 s).
    pub clone_timeout: Duration,
    /// A clone slower than this many bytes per second ...
    pub low_speed_bytes: u32,
    /// ... for this long is abandoned (git's `http.lowSpeedLimit` / `http.lowSpeedTime`).
    pub low_speed_time: Duration,
    /// The most a clone may write to disk, in bytes (default 1 GiB).
    pub max_clone_bytes: u64,
}

impl Default for RepoPolicy {
    fn default() -> Self {
        Self {
            schemes: vec![Scheme::Https],
            allowed_hosts: None,
            local_roots: Vec::new(),
            any_local_path: false,
            discover: false,
            private_addresses: false,
            revision_expressions: false,
            clone_timeout: Duration::from_secs(120),
            low_speed_bytes: 1024,
            low_speed_time: Duration::from_secs(30),
            max_clone_bytes: 1 << 30,
        }
    }
}

impl RepoPolicy {
    /// The command line's policy: the user's own `--repo` may be any local path, looked up
    /// upward as git does; URLs as in the default policy.
    #[must_use]
    pub fn command_line() -> Self {
        Self {
            any_local_path: true,
            discover: true,
            revision_expressions: true,
            ..Self::default()
        }
    }

    fn allows_scheme(&self, scheme: &str) -> Option<Scheme> {
        self.schemes
            .iter()
            .copied()
            .find(|allowed| allowed.name() == scheme)
    }

    fn allows_local(&self) -> bool {
        self.any_local_path || !self.local_roots.is_empty()
    }

    fn allows_host(&self, host: &str) -> bool {
        let Some(allowed) = &self.allowed_hosts else {
            return true;
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        allowed.iter().any(|pattern| {
            let pattern = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
            match pattern.strip_prefix("*.") {
                Some(domain) => host
                    .strip_suffix(domain)
                    .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1),
                None => host == pattern,
            }
        })
    }
}

/// A repository ready to be read. A clone lives in a temporary directory removed when this is
/// dropped.
#[derive(Debug)]
pub struct Checkout {
    path: PathBuf,
    location: String,
    discover: bool,
    _clone: Option<TempDir>,
}

impl Checkout {
    /// The repository's directory (a bare clone, or the local path).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The location as given, without credentials: what messages and stored records show.
    #[must_use]
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Opens the repository as a commit source.
    pub fn source(&self) -> Result<GitSource> {
        let mut source = if self.discover {
            GitSource::open(&self.path)?
        } else {
            GitSource::open_exact(&self.path)?
        };
        source.name.clone_from(&self.location);
        Ok(source)
    }
}

/// What a location names.
enum Target {
    Local(PathBuf),
    Remote { url: Url, scheme: Scheme },
}

/// Obtains the repository at `location` (a local path or a clone URL) under `policy`.
///
/// Refusals happen before any file is opened or any connection made, and name the location
/// without its credentials ([`Error::RepositoryRefused`]). A clone that fails, runs past the
/// policy's timeout or grows past its size cap is stopped, git's children included
/// ([`Error::CloneFailed`], [`Error::CloneTimedOut`], [`Error::CloneTooLarge`]).
pub async fn obtain(location: impl AsRef<OsStr>, policy: &RepoPolicy) -> Result<Checkout> {
    let location = location.as_ref();
    let Some(text) = location.to_str() else {
        // Not UTF-8: only a local path can be written so.
        return open_local(Path::new(location), policy, &location.to_string_lossy());
    };
    let shown = redact::url(text);
    let refuse = |reason: String| Error::RepositoryRefused {
        location: shown.clone(),
        reason,
    };
    match classify(text, policy).map_err(refuse)? {
        Target::Local(path) => open_local(&path, policy, &shown),
        Target::Remote { url, scheme } => clone_url(url, scheme, policy, &shown).await,
    }
}

/// Checks a range against `policy`: without [`RepoPolicy::revision_expressions`], each end is
/// a tag, branch or commit id (letters, digits, `.`, `_`, `-`, `/`, `+`), or missing.
pub fn check_range(spec: &str, policy: &RepoPolicy) -> std::result::Result<(), String> {
    if policy.revision_expressions {
        return Ok(());
    }
    let plain = |end: &str| {
        end.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '+'))
            && !end.starts_with(['-', '.', '/'])
    };
    let (from, to) = spec.trim().split_once("..").unwrap_or(("", spec.trim()));
    if plain(from) && plain(to.strip_prefix('.').unwrap_or(to)) {
        Ok(())
    } else {
        Err(format!(
            "`{spec}`: name tags, branches or commit ids (`v1.0.0..v1.1.0`); revision \
             expressions such as `main~3` or `:/text` are not read here"
        ))
    }
}

/// Checks a location against `policy` without cloning or reading any history: what a server
/// does before it queues a job, so that a refused location is refused at once. A remote's
/// addresses are checked when [`obtain`] resolves them.
pub fn check_location(location: &str, policy: &RepoPolicy) -> Result<()> {
    let shown = redact::url(location);
    let refuse = |reason: String| Error::RepositoryRefused {
        location: shown.clone(),
        reason,
    };
    match classify(location, policy).map_err(refuse)? {
        Target::Local(path) => open_local(&path, policy, &shown).map(drop),
        Target::Remote { url, .. } => match url.host_str() {
            None => Err(refuse("the URL has no host".to_owned())),
            Some(host) if !policy.allows_host(host) => Err(refuse(format!(
                "the host `{host}` is not on the allowed hosts"
            ))),
            Some(_) => Ok(()),
        },
    }
}

/// Reads a location into what it names, refusing what no policy allows.
fn classify(text: &str, policy: &RepoPolicy) -> Result<Target, String> {
    if text.trim().is_empty() {
        return Err("the location is empty".to_owned());
    }
    if text.starts_with('-') {
        return Err("a location must not start with `-` (git would read it as an option)".into());
    }
    if text.chars().any(char::is_control) {
        return Err("the location holds control characters".to_owned());
    }
    if let Some((scheme, _)) = text.split_once("://")
        && is_scheme(scheme)
    {
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "file" {
            if !policy.allows_local() {
                return Err(local_refusal());
            }
            let url = Url::parse(text).map_err(|e| format!("invalid file URL: {e}"))?;
            let path = url
                .to_file_path()
                .map_err(|()| "a file URL must name an absolute local path".to_owned())?;
            return Ok(Target::Local(path));
        }
        let Some(allowed) = policy.allows_scheme(&scheme) else {
            return Err(format!(
                "the `{scheme}` scheme is not allowed: expected {}",
                expected_schemes(policy)
            ));
        };
        let url = Url::parse(text).map_err(|e| format!("invalid URL: {e}"))?;
        return Ok(Target::Remote {
            url,
            scheme: allowed,
        });
    }
    if let Some((helper, _)) = text.split_once("::")
        && !helper.is_empty()
        && is_scheme(helper)
    {
        return Err(format!(
            "`{helper}::` names a git remote helper, which is never run: expected {}",
            expected_schemes(policy)
        ));
    }
    // The command line reads the user's own paths: an existing `dir:name` is a directory.
    if is_scp_like(text) && !(policy.any_local_path && Path::new(text).exists()) {
        return Err(format!(
            "SSH addresses (`host:path`) are not allowed: expected {}",
            expected_schemes(policy)
        ));
    }
    if !policy.allows_local() {
        return Err(local_refusal());
    }
    Ok(Target::Local(PathBuf::from(text)))
}

fn local_refusal() -> String {
    "local paths are not allowed here (no local root is configured)".to_owned()
}

fn expected_schemes(policy: &RepoPolicy) -> String {
    let names: Vec<String> = policy
        .schemes
        .iter()
        .map(|scheme| format!("{}://", scheme.name()))
        .collect();
    if names.is_empty() {
        "no URL (this policy allows none)".to_owned()
    } else {
        format!("a {} URL", names.join(" or "))
    }
}

fn is_scheme(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `[user@]host:path` as git reads it: a colon before any slash, and a host longer than a
/// drive letter.
fn is_scp_like(text: &str) -> bool {
    match (text.find(':'), text.find('/')) {
        (Some(colon), slash) => colon > 1 && slash.is_none_or(|slash| colon < slash),
        (None, _) => false,
    }
}

/// Opens a local repository under the policy's local rules.
fn open_local(path: &Path, policy: &RepoPolicy, shown: &str) -> Result<Checkout> {
    let refuse = |reason: String| Error::RepositoryRefused {
        location: shown.to_owned(),
        reason,
    };
    if !policy.allows_local() {
        return Err(refuse(local_refusal()));
    }
    // Under roots only, a relative path is read from the first root.
    let joined;
    let path = match policy.local_roots.first() {
        Some(root) if !policy.any_local_path && path.is_relative() => {
            joined = root.join(path);
            joined.as_path()
        }
        _ => path,
    };
    let canonical = match std::fs::canonicalize(path) {
        Ok(canonical) => canonical,
        Err(_) if policy.any_local_path => {
            return Err(Error::PathNotFound {
                path: path.to_owned(),
            });
        }
        // Under roots only, a missing path and a refused one read the same: whether a path
        // outside the roots exists is not told.
        Err(_) => return Err(refuse(outside_roots(policy))),
    };
    if !policy.any_local_path {
        let root = policy
            .local_roots
            .iter()
            .filter_map(|root| std::fs::canonicalize(root).ok())
            .find(|root| canonical.starts_with(root));
        let Some(root) = root else {
            return Err(refuse(outside_roots(policy)));
        };
        if let Some(elsewhere) = storage_outside(&canonical, &root) {
            return Err(refuse(format!(
                "its git data lies outside the allowed root (`{}`)",
                elsewhere.display()
            )));
        }
    }
    Ok(Checkout {
        path: canonical,
        location: shown.to_owned(),
        discover: policy.discover,
        _clone: None,
    })
}

/// Where a repository under `root` keeps data outside it, if it does: a `.git` file or link
/// pointing elsewhere, a common directory elsewhere (`commondir`, worktrees), or object
/// alternates elsewhere. Each would let a path under the root read a history outside it.
fn storage_outside(path: &Path, root: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::open_ext(
        path,
        git2::RepositoryOpenFlags::NO_SEARCH,
        std::iter::empty::<&OsStr>(),
    )
    .ok()?;
    let outside = |dir: &Path| match std::fs::canonicalize(dir) {
        Ok(dir) if dir.starts_with(root) => None,
        Ok(dir) => Some(dir),
        Err(_) => Some(dir.to_owned()),
    };
    if let Some(dir) = outside(repo.path()) {
        return Some(dir);
    }
    if let Some(dir) = outside(repo.commondir()) {
        return Some(dir);
    }
    let objects = repo.commondir().join("objects");
    let alternates = std::fs::read_to_string(objects.join("info").join("alternates")).ok()?;
    alternates
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .find_map(|line| outside(&objects.join(line)))
}

fn outside_roots(policy: &RepoPolicy) -> String {
    let roots: Vec<String> = policy
        .local_roots
        .iter()
        .map(|root| format!("`{}`", root.display()))
        .collect();
    format!(
        "the path does not exist or is not under an allowed root ({})",
        roots.join(", ")
    )
}

/// Checks a clone URL's host and clones it.
async fn clone_url(url: Url, scheme: Scheme, policy: &RepoPolicy, shown: &str) -> Result<Checkout> {
    let refuse = |reason: String| Error::RepositoryRefused {
        location: shown.to_owned(),
        reason,
    };
    let secrets = redact::secrets(url.as_str());
    let mut url = url;
    // Credentials travel in a header, never in the URL git is given (nor in its argv).
    let credentials = (!url.username().is_empty() || url.password().is_some()).then(|| {
        let user = redact::percent_decode(url.username());
        let password = url
            .password()
            .map(redact::percent_decode)
            .unwrap_or_default();
        (user, password)
    });
    let _ = url.set_username("");
    let _ = url.set_password(None);

    let Some(host) = url.host_str().map(str::to_owned) else {
        return Err(refuse("the URL has no host".to_owned()));
    };
    if !policy.allows_host(&host) {
        return Err(refuse(format!(
            "the host `{host}` is not on the allowed hosts"
        )));
    }
    let port = url.port().unwrap_or_else(|| scheme.default_port());
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let literal = bare_host
        .parse::<IpAddr>()
        .ok()
        .or_else(|| parse_ipv4_loose(bare_host).map(IpAddr::V4));

    let deadline = tokio::time::Instant::now() + policy.clone_timeout;
    let pinned = if let Some(address) = literal {
        if !policy.private_addresses
            && let Some(reason) = non_public(address)
        {
            return Err(refuse(format!("the host `{host}` is {reason}")));
        }
        None
    } else {
        if !policy.private_addresses
            && let Some(reason) = refused_name(&host)
        {
            return Err(refuse(format!("the host `{host}` is {reason}")));
        }
        let resolved =
            tokio::time::timeout_at(deadline, tokio::net::lookup_host((host.as_str(), port)))
                .await
                .map_err(|_| Error::CloneTimedOut {
                    location: shown.to_owned(),
                    seconds: policy.clone_timeout.as_secs_f64(),
                })?
                .map_err(|e| Error::CloneFailed {
                    location: shown.to_owned(),
                    reason: format!("cannot resolve `{host}`: {e}"),
                })?;
        let addresses: Vec<IpAddr> = resolved.map(|socket| socket.ip()).collect();
        let Some(first) = addresses.first().copied() else {
            return Err(Error::CloneFailed {
                location: shown.to_owned(),
                reason: format!("`{host}` resolves to no address"),
            });
        };
        if !policy.private_addresses {
            for address in &addresses {
                if let Some(reason) = non_public(*address) {
                    return Err(refuse(format!(
                        "the host `{host}` resolves to {address}, {reason}"
                    )));
                }
            }
        }
        Some((host.clone(), port, first))
    };

    run_clone(CloneRequest {
        url,
        pinned,
        credentials,
        secrets,
        shown: shown.to_owned(),
        deadline,
        policy,
    })
    .await
    .map(|(dir, path)| Checkout {
        path,
        location: shown.to_owned(),
        discover: false,
        _clone: Some(dir),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ranges_name_refs_only() {
        let strict = RepoPolicy::default();
        for ok in [
            "v1.0.0..v1.1.0",
            "v1.1.0",
            "..HEAD",
            "release/2.x..main",
            "abc123..HEAD",
            "1.0.0+build",
        ] {
            assert!(check_range(ok, &strict).is_ok(), "{ok}");
        }
        for refused in [
            "main~3",
            "v1^",
            ":/fix",
            "HEAD@{1}",
            "v1..main~2",
            "-n",
            "x..{y}",
            "a b",
        ] {
            assert!(check_range(refused, &strict).is_err(), "{refused}");
        }
        assert!(check_range("main~3..HEAD^", &RepoPolicy::command_line()).is_ok());
    }

    #[test]
    fn scp_like_and_paths() {
        assert!(is_scp_like("git@github.com:o/r.git"));
        assert!(is_scp_like("host:path"));
        assert!(!is_scp_like("/tmp/repo"));
        assert!(!is_scp_like("relative/dir:x"));
        assert!(!is_scp_like("C:/repo"));
    }

    #[test]
    fn host_allow_list() {
        let policy = RepoPolicy {
            allowed_hosts: Some(vec!["github.com".into(), "*.example.org".into()]),
            ..RepoPolicy::default()
        };
        assert!(policy.allows_host("github.com"));
        assert!(policy.allows_host("GitHub.com."));
        assert!(policy.allows_host("git.example.org"));
        assert!(!policy.allows_host("example.org"));
        assert!(!policy.allows_host("evilexample.org"));
        assert!(!policy.allows_host("github.com.evil.net"));
        assert!(RepoPolicy::default().allows_host("anything.net"));
    }
}
