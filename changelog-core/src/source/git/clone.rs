//! How the `git` program clones a URL that [`super::obtain`] has checked.
//!
//! The workspace's libgit2 has no HTTPS transport (no OpenSSL is linked in), so git clones:
//! bare and without file contents (`--filter=blob:none`; a changelog needs commits and trees),
//! with `--` before the URL, into a temporary directory. Git runs with:
//!
//! - an empty environment but for `PATH` and certificate locations; `HOME` in the temporary
//!   directory, no system or global configuration, no prompts, no credential helper;
//! - `GIT_ALLOW_PROTOCOL` set to the policy's schemes, `GIT_PROTOCOL_FROM_USER=0`,
//!   `protocol.file.allow=never`, `http.followRedirects=false` (a redirect could lead anywhere);
//! - `http.curloptResolve` pinning the host to the address that was checked;
//! - `http.lowSpeedLimit` / `http.lowSpeedTime` from the policy;
//! - credentials in an `http.extraHeader` given through `GIT_CONFIG_*` variables, never argv.
//!
//! Git runs in a process group of its own. When the clock passes the policy's timeout, when the
//! directory grows past the size cap, or when the caller stops waiting, the whole group (git and
//! its `git-remote-https` child) is killed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::Url;
use tempfile::TempDir;
use tokio::io::AsyncReadExt as _;

use super::obtain::RepoPolicy;
use crate::error::{Error, Result};
use crate::redact;

/// How often the clone directory's size is measured.
const SIZE_POLL: Duration = Duration::from_millis(50);

/// The most of git's error output kept for a message.
const MAX_STDERR: usize = 64 * 1024;

/// Environment variables passed on to git: where certificates are, nothing else.
const PASSED_ENVIRONMENT: &[&str] = &["PATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO"];

/// A checked clone, ready to run.
pub(super) struct CloneRequest<'a> {
    /// The URL without credentials.
    pub(super) url: Url,
    /// `(host, port, address)` git must connect to, for a URL that names a host.
    pub(super) pinned: Option<(String, u16, std::net::IpAddr)>,
    /// User name and password (percent-decoded), sent in an `Authorization` header.
    pub(super) credentials: Option<(String, String)>,
    /// Every secret the location carried, scrubbed from git's messages.
    pub(super) secrets: Vec<String>,
    /// The location as messages show it.
    pub(super) shown: String,
    pub(super) deadline: tokio::time::Instant,
    pub(super) policy: &'a RepoPolicy,
}

/// The `git clone` command for a request, cloning into `target` with `home` as `HOME`.
pub(super) fn command(
    request: &CloneRequest<'_>,
    home: &Path,
    target: &Path,
) -> tokio::process::Command {
    let policy = request.policy;
    let mut git = tokio::process::Command::new("git");
    git.env_clear();
    for name in PASSED_ENVIRONMENT {
        if let Some(value) = std::env::var_os(name) {
            git.env(name, value);
        }
    }
    let allowed: Vec<&str> = policy.schemes.iter().map(|scheme| scheme.name()).collect();
    git.env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env("GIT_ALLOW_PROTOCOL", allowed.join(":"))
        .env("GIT_PROTOCOL_FROM_USER", "0")
        .env("LC_ALL", "C");
    if let Some((user, password)) = &request.credentials {
        let header = format!(
            "Authorization: Basic {}",
            base64(format!("{user}:{password}").as_bytes())
        );
        git.env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env("GIT_CONFIG_VALUE_0", header);
    }
    let mut config = vec![
        "http.followRedirects=false".to_owned(),
        "protocol.file.allow=never".to_owned(),
        "credential.helper=".to_owned(),
        "core.askPass=true".to_owned(),
        format!("http.lowSpeedLimit={}", policy.low_speed_bytes.max(1)),
        format!(
            "http.lowSpeedTime={}",
            policy.low_speed_time.as_secs().max(1)
        ),
    ];
    if let Some((host, port, address)) = &request.pinned {
        let address = match address {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        };
        config.push(format!("http.curloptResolve={host}:{port}:{address}"));
    }
    for entry in &config {
        git.arg("-c").arg(entry);
    }
    git.args([
        "clone",
        "--bare",
        "--filter=blob:none",
        "--quiet",
        "--template=",
        "--",
    ])
    .arg(request.url.as_str())
    .arg(target)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    #[cfg(unix)]
    git.process_group(0);
    git
}

/// Runs a checked clone; returns the temporary directory and the bare repository in it.
pub(super) async fn run_clone(request: CloneRequest<'_>) -> Result<(TempDir, PathBuf)> {
    let shown = request.shown.clone();
    let failed = |reason: String| Error::CloneFailed {
        location: shown.clone(),
        reason: redact::scrub(&reason, &request.secrets),
    };
    let dir = tempfile::Builder::new()
        .prefix("changelog-clone-")
        .tempdir()
        .map_err(|e| failed(format!("cannot create a temporary directory: {e}")))?;
    let home = dir.path().join("home");
    std::fs::create_dir(&home)
        .map_err(|e| failed(format!("cannot create {}: {e}", home.display())))?;
    let target = dir.path().join("repository.git");

    let mut child = command(&request, &home, &target)
        .spawn()
        .map_err(|e| failed(format!("cannot run git: {e}")))?;
    let mut group = GroupKiller::new(child.id());
    let mut stderr = child.stderr.take();
    let read_stderr = async move {
        let mut bytes = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            let mut chunk = [0_u8; 4096];
            while let Ok(n) = stderr.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                if bytes.len() < MAX_STDERR {
                    bytes.extend_from_slice(&chunk[..n]);
                }
            }
        }
        bytes
    };
    let stderr_task = tokio::spawn(read_stderr);

    let limit = request.policy.max_clone_bytes;
    let mut poll = tokio::time::interval(SIZE_POLL);
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.map_err(|e| failed(format!("cannot wait for git: {e}")))?,
            () = tokio::time::sleep_until(request.deadline) => {
                group.kill();
                let _ = child.wait().await;
                return Err(Error::CloneTimedOut {
                    location: shown.clone(),
                    seconds: request.policy.clone_timeout.as_secs_f64(),
                });
            }
            _ = poll.tick() => {
                if directory_size(dir.path()) > limit {
                    group.kill();
                    let _ = child.wait().await;
                    return Err(Error::CloneTooLarge { location: shown.clone(), limit });
                }
            }
        }
    };
    // Git has exited and been reaped: its process group id may be reused from here on.
    group.disarm();
    let stderr = stderr_task.await.unwrap_or_default();
    if !status.success() {
        return Err(failed(first_error(&String::from_utf8_lossy(&stderr))));
    }
    if directory_size(dir.path()) > limit {
        return Err(Error::CloneTooLarge {
            location: shown.clone(),
            limit,
        });
    }
    Ok((dir, target))
}

/// What git says failed: its first `fatal:` or `error:` line, else its first line that is not
/// a warning.
fn first_error(stderr: &str) -> String {
    let lines = || {
        stderr
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
    };
    lines()
        .find_map(|line| {
            line.strip_prefix("fatal:")
                .or_else(|| line.strip_prefix("error:"))
        })
        .or_else(|| lines().find(|line| !line.starts_with("warning:")))
        .unwrap_or("git clone failed")
        .trim()
        .to_owned()
}

/// Bytes of the files under `dir` (symlinks not followed).
fn directory_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.is_dir() {
                pending.push(entry.path());
            } else {
                total += metadata.len();
            }
        }
    }
    total
}

/// Kills git's process group (git and the transport helpers it started) when told to, or when
/// dropped before git was reaped (the caller stopped waiting).
struct GroupKiller {
    group: Option<u32>,
}

impl GroupKiller {
    fn new(pid: Option<u32>) -> Self {
        Self { group: pid }
    }

    fn kill(&mut self) {
        if let Some(group) = self.group.take() {
            kill_group(group);
        }
    }

    fn disarm(&mut self) {
        self.group = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(unix)]
fn kill_group(group: u32) {
    if let Some(pid) = i32::try_from(group)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        // The group may already be gone; nothing else is to be done then.
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_group: u32) {
    // Elsewhere git alone is killed, by `kill_on_drop`.
}

/// Standard base64 with padding, for a Basic authorization header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                encoded.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:p@ss"), "dXNlcjpwQHNz");
    }

    #[test]
    fn credentials_stay_out_of_argv_and_the_url() {
        let policy = RepoPolicy::default();
        let request = CloneRequest {
            url: Url::parse("https://git.example.org/o/r.git").unwrap(),
            pinned: Some((
                "git.example.org".into(),
                443,
                "140.82.112.3".parse().unwrap(),
            )),
            credentials: Some(("ghp_token".into(), String::new())),
            secrets: vec!["ghp_token".into()],
            shown: "https://git.example.org/o/r.git".into(),
            deadline: tokio::time::Instant::now(),
            policy: &policy,
        };
        let git = command(&request, Path::new("/tmp/home"), Path::new("/tmp/target"));
        let git = git.as_std();
        let args: Vec<String> = git
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.iter().all(|arg| !arg.contains("ghp_token")),
            "{args:?}"
        );
        let dash_dash = args.iter().position(|arg| arg == "--").unwrap();
        assert_eq!(args[dash_dash + 1], "https://git.example.org/o/r.git");
        for expected in [
            "http.followRedirects=false",
            "protocol.file.allow=never",
            "http.curloptResolve=git.example.org:443:140.82.112.3",
            "--filter=blob:none",
            "--bare",
        ] {
            assert!(
                args.iter().any(|arg| arg == expected),
                "{expected} in {args:?}"
            );
        }
        let env: std::collections::HashMap<String, String> = git
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_str()?.to_owned(), v?.to_str()?.to_owned())))
            .collect();
        assert_eq!(env["GIT_ALLOW_PROTOCOL"], "https");
        assert_eq!(env["GIT_PROTOCOL_FROM_USER"], "0");
        assert_eq!(env["GIT_CONFIG_NOSYSTEM"], "1");
        assert_eq!(env["GIT_CONFIG_GLOBAL"], "/dev/null");
        assert_eq!(env["GIT_CONFIG_KEY_0"], "http.extraHeader");
        assert_eq!(
            env["GIT_CONFIG_VALUE_0"],
            format!("Authorization: Basic {}", base64(b"ghp_token:"))
        );
    }

    #[test]
    fn the_first_error_line() {
        assert_eq!(
            first_error("warning: x\nfatal: unable to access 'https://h/': 302\nhint: y"),
            "unable to access 'https://h/': 302"
        );
        assert_eq!(first_error(""), "git clone failed");
    }
}
