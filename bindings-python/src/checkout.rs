//! Where a history is read from: a local path as it is, or a clone URL cloned for the call.
//!
//! The workspace's libgit2 has no HTTPS or SSH transport (no OpenSSL is linked in), so a URL is
//! cloned by the `git` program: bare and without file contents (`--filter=blob:none`; a
//! changelog needs commits and trees only) into a temporary directory that goes away with the
//! [`Checkout`]. Git never prompts for credentials, and messages name the URL without them.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tempfile::TempDir;

use crate::errors::Failure;

/// What `repo_url` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A directory on this machine.
    Path(PathBuf),
    /// Something `git clone` understands: `https://...`, `ssh://...`, `file://...`,
    /// `git@host:owner/name.git`.
    Url(String),
}

impl Location {
    /// Reads `repo_url`: a URL when it has a scheme or the scp-like `[user@]host:path` form,
    /// a path otherwise.
    pub(crate) fn parse(repo_url: PathBuf) -> Self {
        match repo_url.to_str() {
            Some(text) if is_url(text) => Self::Url(text.to_owned()),
            _ => Self::Path(repo_url),
        }
    }

    /// The location as messages and stores show it (without credentials).
    pub(crate) fn display(&self) -> String {
        match self {
            Self::Path(path) => path.display().to_string(),
            Self::Url(url) => redact(url),
        }
    }
}

fn is_url(text: &str) -> bool {
    if let Some((scheme, _)) = text.split_once("://") {
        return !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    }
    // scp-like: `host:path` where the host has no slash and is longer than a drive letter.
    match text.split_once(':') {
        Some((host, path)) => {
            host.len() > 1 && !host.contains('/') && !path.is_empty() && !Path::new(text).exists()
        }
        None => false,
    }
}

/// The URL without credentials: `https://user:token@host/x` becomes `https://host/x`, and a
/// password in any URL (`postgres://user:secret@host/db`) is left out.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // libpq also takes the password as a query parameter.
    if let Some((base, query)) = rest.split_once('?')
        && query
            .split('&')
            .any(|pair| pair.split('=').next() == Some("password"))
    {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| pair.split('=').next() != Some("password"))
            .collect();
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return redact(&format!("{scheme}://{rest}"));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            // A user and a password: keep the user (a database role, say), drop the password.
            Some((user, _password)) if scheme.starts_with("postgres") => {
                format!("{scheme}://{user}@{host}{tail}")
            }
            // Anything else before `@` may be a token: drop it all.
            _ if scheme.starts_with("postgres") => format!("{scheme}://{userinfo}@{host}{tail}"),
            _ => format!("{scheme}://{host}{tail}"),
        },
        None => url.to_owned(),
    }
}

/// A repository ready to be read; a clone is removed when this is dropped.
#[derive(Debug)]
pub(crate) struct Checkout {
    path: PathBuf,
    _clone: Option<TempDir>,
}

impl Checkout {
    /// The repository's directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens a location: a path as it is, a URL by cloning it.
    pub(crate) async fn open(location: &Location) -> Result<Self, Failure> {
        match location {
            Location::Path(path) => Ok(Self {
                path: path.clone(),
                _clone: None,
            }),
            Location::Url(url) => clone(url).await,
        }
    }
}

async fn clone(url: &str) -> Result<Checkout, Failure> {
    let shown = redact(url);
    let failed = |reason: String| Failure::Source(format!("cannot clone `{shown}`: {reason}"));
    let dir = tempfile::Builder::new()
        .prefix("changelog-clone-")
        .tempdir()
        .map_err(|e| failed(format!("cannot create a temporary directory: {e}")))?;
    let target = dir.path().join("repository.git");
    let output = tokio::process::Command::new("git")
        .args(["clone", "--bare", "--filter=blob:none", "--quiet", "--"])
        .arg(url)
        .arg(&target)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // An interrupted call drops this future: the clone stops with it.
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| failed(format!("cannot run git: {e}")))?;
    if !output.status.success() {
        // git says what failed on its first `fatal:` line; hints and advice follow.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines = || {
            stderr
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
        };
        let reason = lines()
            .find_map(|line| line.strip_prefix("fatal:"))
            .or_else(|| lines().find(|line| !line.starts_with("warning:")))
            .unwrap_or("git clone failed")
            .trim()
            .replace(url, &shown);
        return Err(failed(reason));
    }
    Ok(Checkout {
        path: target,
        _clone: Some(dir),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        assert!(is_url("https://github.com/o/r.git"));
        assert!(is_url("file:///tmp/repo"));
        assert!(is_url("git@github.com:o/r.git"));
        assert!(!is_url("/tmp/repo"));
        assert!(!is_url("relative/dir"));
        assert!(!is_url("C:/repo"));
    }

    #[test]
    fn credentials_are_removed() {
        assert_eq!(
            redact("https://user:tok@github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(redact("https://tok@host/x"), "https://host/x");
        assert_eq!(
            redact("postgres://me:secret@db:5432/app"),
            "postgres://me@db:5432/app"
        );
        assert_eq!(redact("file:///tmp/r"), "file:///tmp/r");
        assert_eq!(
            redact("postgres://me@db/app?sslmode=require&password=secret"),
            "postgres://me@db/app?sslmode=require"
        );
        assert_eq!(
            redact("postgres://db/app?password=secret"),
            "postgres://db/app"
        );
    }
}
