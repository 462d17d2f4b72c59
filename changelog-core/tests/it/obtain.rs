//! The repository policy: hostile locations refused before any connection, local paths kept
//! under their roots, and clones bounded in time and size, against servers started here on
//! 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use changelog_core::source::git::{RepoPolicy, Scheme, obtain};
use changelog_core::testing::TestRepo;
use changelog_core::{CommitSource as _, Error, RangeQuery};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The longest a refusal may take: it happens before any connection or file access.
const REFUSAL_BOUND: Duration = Duration::from_millis(500);

/// A policy for clones of servers this test starts on 127.0.0.1.
fn loopback_policy() -> RepoPolicy {
    let mut policy = RepoPolicy::default();
    policy.schemes = vec![Scheme::Https, Scheme::Http];
    policy.private_addresses = true;
    policy
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

#[tokio::test]
#[expect(
    clippy::print_stdout,
    reason = "the figures of the README's security table (`--nocapture`)"
)]
async fn hostile_locations_are_refused_before_any_connection() {
    let mut allow_listed = RepoPolicy::default();
    allow_listed.allowed_hosts = Some(vec!["github.com".to_owned()]);
    let strict = RepoPolicy::default();
    let table: &[(&str, &RepoPolicy, &str)] = &[
        ("/etc", &strict, "local paths are not allowed"),
        (".", &strict, "local paths are not allowed"),
        ("/nonexistent/repo", &strict, "local paths are not allowed"),
        ("file:///etc", &strict, "local paths are not allowed"),
        ("fd::0", &strict, "remote helper"),
        ("ext::sh -c touch% /tmp/pwned", &strict, "remote helper"),
        (
            "--upload-pack=touch /tmp/pwned",
            &strict,
            "must not start with `-`",
        ),
        ("-uevil", &strict, "must not start with `-`"),
        (
            "ssh://git@github.com/o/r.git",
            &strict,
            "`ssh` scheme is not allowed",
        ),
        ("git@github.com:o/r.git", &strict, "SSH addresses"),
        ("github.com:o/r.git", &strict, "SSH addresses"),
        (
            "git://github.com/o/r.git",
            &strict,
            "`git` scheme is not allowed",
        ),
        (
            "http://github.com/o/r.git",
            &strict,
            "`http` scheme is not allowed",
        ),
        ("https://127.0.0.1/o/r.git", &strict, "loopback"),
        ("https://localhost/o/r.git", &strict, "loopback"),
        ("https://[::1]/o/r.git", &strict, "loopback"),
        ("https://10.0.0.1/o/r.git", &strict, "private"),
        ("https://172.16.5.4/o/r.git", &strict, "private"),
        ("https://192.168.1.1/o/r.git", &strict, "private"),
        (
            "https://169.254.169.254/latest/meta-data/",
            &strict,
            "metadata",
        ),
        (
            "https://metadata.google.internal/computeMetadata/v1/",
            &strict,
            "metadata",
        ),
        (
            "https://[fd00:ec2::254]/latest/meta-data/",
            &strict,
            "metadata",
        ),
        ("https://169.254.1.1/o/r.git", &strict, "link-local"),
        ("https://[fe80::1]/o/r.git", &strict, "link-local"),
        ("https://100.64.0.1/o/r.git", &strict, "carrier-grade NAT"),
        ("https://[fd12:3456::1]/o/r.git", &strict, "unique local"),
        ("https://[::ffff:127.0.0.1]/o/r.git", &strict, "IPv4-mapped"),
        ("https://[::ffff:169.254.169.254]/", &strict, "IPv4-mapped"),
        ("https://0.0.0.0/o/r.git", &strict, "unspecified"),
        ("https://224.0.0.1/o/r.git", &strict, "multicast"),
        ("https://255.255.255.255/o/r.git", &strict, "broadcast"),
        ("https://2130706433/o/r.git", &strict, "loopback"),
        ("https://0x7f000001/o/r.git", &strict, "loopback"),
        ("https://0177.0.0.1/o/r.git", &strict, "loopback"),
        ("https://127.1/o/r.git", &strict, "loopback"),
        (
            "https://evil.example/o/r.git",
            &allow_listed,
            "not on the allowed hosts",
        ),
        (
            "https://ghp_SecretToken123@127.0.0.1/o/r.git",
            &strict,
            "loopback",
        ),
        ("https://user:pa%2Fss@10.0.0.1/o/r.git", &strict, "private"),
    ];
    let mut figures = Vec::new();
    for &(location, policy, expected) in table {
        let started = Instant::now();
        let result = obtain(location, policy).await;
        let elapsed = started.elapsed();
        let error = result.expect_err(location);
        let message = error.to_string();
        assert!(
            matches!(error, Error::RepositoryRefused { .. }),
            "{location}: {message}"
        );
        assert!(message.contains(expected), "{location}: {message}");
        for secret in ["ghp_SecretToken123", "pa%2Fss", "pa/ss"] {
            assert!(!message.contains(secret), "{location}: {message}");
            assert!(
                !format!("{error:?}").contains(secret),
                "{location}: {error:?}"
            );
        }
        assert!(elapsed < REFUSAL_BOUND, "{location} took {elapsed:?}");
        figures.push((location, elapsed));
    }
    for (location, elapsed) in &figures {
        println!("{location}\t{:.3} ms", elapsed.as_secs_f64() * 1000.0);
    }
    let slowest = figures.iter().map(|(_, elapsed)| *elapsed).max().unwrap();
    assert!(slowest < REFUSAL_BOUND, "slowest refusal: {slowest:?}");
}

#[tokio::test]
async fn local_paths_stay_under_their_roots() {
    let mut outside = TestRepo::new();
    outside.commit("feat: a");
    let root = tempfile::tempdir().unwrap();
    let inside = root.path().join("inside");
    git(
        root.path(),
        &[
            "clone",
            "--quiet",
            outside.path().to_str().unwrap(),
            "inside",
        ],
    );
    std::fs::create_dir(inside.join("sub")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();

    let mut policy = RepoPolicy::default();
    policy.local_roots = vec![root.path().to_owned()];

    // Inside the root: opened, and readable.
    let checkout = obtain(&inside, &policy).await.expect("inside the root");
    let source = checkout.source().expect("a repository");
    source
        .history(&RangeQuery::default())
        .await
        .expect("history");
    let url = format!("file://{}", inside.display());
    obtain(&url, &policy)
        .await
        .expect("file URL inside the root");

    // Escapes: a symlink, `..`, a path elsewhere, a file URL elsewhere.
    let escapes: Vec<PathBuf> = vec![
        root.path().join("link"),
        root.path().join(".."),
        inside
            .join("..")
            .join("..")
            .join(outside.path().strip_prefix("/").unwrap()),
        outside.path().to_owned(),
        PathBuf::from("/etc"),
    ];
    for escape in escapes {
        let started = Instant::now();
        let error = obtain(&escape, &policy)
            .await
            .expect_err("outside the root");
        assert!(
            matches!(error, Error::RepositoryRefused { .. }),
            "{}: {error}",
            escape.display()
        );
        assert!(
            error.to_string().contains("not under an allowed root"),
            "{error}"
        );
        assert!(started.elapsed() < REFUSAL_BOUND);
    }
    let url = format!("file://{}", outside.path().display());
    let error = obtain(&url, &policy).await.expect_err("file URL outside");
    assert!(matches!(error, Error::RepositoryRefused { .. }), "{error}");

    // No discovery upward: a subdirectory of a work tree, or `.git/objects`, is no repository.
    for nested in [inside.join("sub"), inside.join(".git").join("objects")] {
        let checkout = obtain(&nested, &policy).await.expect("under the root");
        let error = checkout.source().expect_err("not a repository by itself");
        assert!(matches!(error, Error::NotARepository { .. }), "{error}");
    }

    // The command line's own `--repo` discovers upward, from any path.
    let checkout = obtain(inside.join("sub"), &RepoPolicy::command_line())
        .await
        .expect("the command line reads any path");
    checkout.source().expect("discovered");
}

/// A listener that accepts connections and never answers; the sockets it holds are returned
/// so the test can see when the other end closes them.
async fn silent_server() -> (
    u16,
    tokio::task::JoinHandle<()>,
    Arc<Mutex<Vec<tokio::net::TcpStream>>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let sockets = Arc::clone(&held);
    let task = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            sockets.lock().unwrap().push(socket);
        }
    });
    (port, task, held)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::print_stdout, reason = "the README's figure (`--nocapture`)")]
async fn a_server_that_never_answers_is_cut_off_by_the_timeout() {
    let (port, server, held) = silent_server().await;
    let mut policy = loopback_policy();
    policy.clone_timeout = Duration::from_secs(2);
    let location = format!("http://127.0.0.1:{port}/o/r.git");

    let started = Instant::now();
    let error = obtain(&location, &policy).await.expect_err("times out");
    let elapsed = started.elapsed();
    assert!(matches!(error, Error::CloneTimedOut { .. }), "{error}");
    assert!(error.to_string().contains(&location), "{error}");
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    println!("a server that never answers, timeout 2 s: {elapsed:?}");

    // git's transport helper, which held the connection, is gone with git: the server sees
    // every connection closed.
    let sockets: Vec<_> = std::mem::take(&mut *held.lock().unwrap());
    assert!(!sockets.is_empty(), "git connected");
    for mut socket in sockets {
        let mut buffer = vec![0_u8; 4096];
        let closed = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "the connection is still open after the timeout"
        );
    }
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::print_stdout, reason = "the README's figure (`--nocapture`)")]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/o/r.git/"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/internal/admin"))
        .mount(&server)
        .await;
    Mock::given(path_regex("^/internal/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("secret"))
        .mount(&server)
        .await;
    let location = format!("{}/o/r.git", server.uri());

    let started = Instant::now();
    let error = obtain(&location, &loopback_policy())
        .await
        .expect_err("no clone");
    let elapsed = started.elapsed();
    assert!(matches!(error, Error::CloneFailed { .. }), "{error}");
    assert!(elapsed < Duration::from_secs(10));
    println!("a 302 to /internal/admin, not followed: failed after {elapsed:?}: {error}");
    let requests = server.received_requests().await.unwrap();
    assert!(!requests.is_empty(), "git asked the server");
    for request in &requests {
        assert!(
            !request.url.path().starts_with("/internal"),
            "the redirect was followed: {}",
            request.url
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_user_name_goes_in_a_header_and_never_in_messages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_string("denied"))
        .mount(&server)
        .await;
    let token = "ghp_S3cretTokenValue";
    let address = server.address();
    let location = format!("http://{token}@{address}/o/r.git");

    let error = obtain(&location, &loopback_policy())
        .await
        .expect_err("refused");
    assert!(matches!(error, Error::CloneFailed { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("http://{address}/o/r.git")),
        "{message}"
    );
    assert!(!message.contains(token), "{message}");
    assert!(!format!("{error:?}").contains(token), "{error:?}");

    let requests = server.received_requests().await.unwrap();
    assert!(!requests.is_empty());
    for request in &requests {
        assert!(!request.url.as_str().contains(token), "{}", request.url);
        let authorization = request
            .headers
            .get("authorization")
            .expect("credentials sent in a header")
            .to_str()
            .unwrap();
        // base64("ghp_S3cretTokenValue:")
        assert_eq!(authorization, "Basic Z2hwX1MzY3JldFRva2VuVmFsdWU6");
    }
}

/// Pseudo-random hex text that compresses poorly (no extra dependency for randomness).
fn noise(bytes: usize) -> String {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut text = String::with_capacity(bytes);
    while text.len() < bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        text.push_str(&format!("{state:016x}"));
    }
    text
}

/// A bare copy of a repository with a large file, laid out for git's dumb HTTP protocol.
fn served_repository() -> (TestRepo, tempfile::TempDir) {
    let mut repo = TestRepo::new();
    repo.commit("feat: first");
    let data = noise(3 << 20);
    repo.commit_files("feat: data", &[("data.txt", data.as_str())]);
    repo.tag("v0.1.0");
    repo.commit("fix: last");
    let served = tempfile::tempdir().unwrap();
    git(
        served.path(),
        &[
            "clone",
            "--quiet",
            "--bare",
            "--no-local",
            repo.path().to_str().unwrap(),
            "r.git",
        ],
    );
    git(&served.path().join("r.git"), &["update-server-info"]);
    (repo, served)
}

/// A static file server for git's dumb HTTP protocol that sends at most `rate` bytes every
/// 20 ms; returns its port and the number of body bytes it has sent.
async fn static_server(
    root: PathBuf,
    rate: usize,
) -> (u16, Arc<Mutex<usize>>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(Mutex::new(0_usize));
    let counter = Arc::clone(&sent);
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let root = root.clone();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0_u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let target = text.split_whitespace().nth(1).unwrap_or("/");
                let relative = target
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .trim_start_matches('/');
                let file = root.join(relative);
                let body = if relative.contains("..") {
                    None
                } else {
                    std::fs::read(&file).ok().filter(|_| file.is_file())
                };
                let Some(body) = body else {
                    let _ = socket
                        .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for chunk in body.chunks(rate) {
                    if socket.write_all(chunk).await.is_err() {
                        return;
                    }
                    *counter.lock().unwrap() += chunk.len();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        }
    });
    (port, sent, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clone_over_http_is_read_and_removed_afterwards() {
    let (_repo, served) = served_repository();
    let (port, _, server) = static_server(served.path().to_owned(), 1 << 20).await;
    let location = format!("http://127.0.0.1:{port}/r.git");

    let checkout = obtain(&location, &loopback_policy()).await.expect("cloned");
    assert_eq!(checkout.location(), location);
    let clone_dir = checkout.path().to_owned();
    let history = checkout
        .source()
        .expect("a repository")
        .history(&RangeQuery::default())
        .await
        .expect("history");
    assert_eq!(history.commits.len(), 1, "v0.1.0..HEAD");
    assert_eq!(history.commits[0].summary, "fix: last");
    drop(checkout);
    assert!(
        !clone_dir.exists(),
        "the clone is removed with its checkout"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::print_stdout, reason = "the README's figure (`--nocapture`)")]
async fn a_clone_larger_than_the_cap_is_stopped_while_it_runs() {
    let (_repo, served) = served_repository();
    let pack_size: u64 = std::fs::read_dir(served.path().join("r.git/objects/pack"))
        .unwrap()
        .flatten()
        .map(|entry| entry.metadata().unwrap().len())
        .sum();
    assert!(
        pack_size > 1 << 20,
        "the served pack holds the large file: {pack_size}"
    );
    // 64 KiB every 20 ms: the whole pack would take several seconds.
    let (port, sent, server) = static_server(served.path().to_owned(), 64 << 10).await;
    let mut policy = loopback_policy();
    policy.max_clone_bytes = 256 << 10;
    let location = format!("http://127.0.0.1:{port}/r.git");

    let started = Instant::now();
    let error = obtain(&location, &policy).await.expect_err("too large");
    let elapsed = started.elapsed();
    assert!(matches!(error, Error::CloneTooLarge { .. }), "{error}");
    println!("a clone past a 256 KiB cap: stopped after {elapsed:?}");
    assert!(error.to_string().contains("262144 bytes"), "{error}");
    let sent = *sent.lock().unwrap();
    assert!(
        (sent as u64) < pack_size,
        "stopped before the whole pack was sent ({sent} of {pack_size} bytes, {elapsed:?})"
    );
    server.abort();
}

#[tokio::test]
async fn a_repository_under_a_root_cannot_keep_its_data_outside_it() {
    let mut outside = TestRepo::new();
    outside.commit("feat: a secret history");
    let root = tempfile::tempdir().unwrap();
    let mut policy = RepoPolicy::default();
    policy.local_roots = vec![root.path().to_owned()];

    // A `.git` file pointing elsewhere (as `git worktree` and submodules write them).
    let gitfile = root.path().join("gitfile");
    std::fs::create_dir(&gitfile).unwrap();
    std::fs::write(
        gitfile.join(".git"),
        format!("gitdir: {}\n", outside.path().join(".git").display()),
    )
    .unwrap();
    // Object alternates pointing elsewhere (`git clone --shared`).
    git(
        root.path(),
        &[
            "clone",
            "--quiet",
            "--shared",
            outside.path().to_str().unwrap(),
            "shared",
        ],
    );
    for name in ["gitfile", "shared"] {
        let err = obtain(root.path().join(name), &policy)
            .await
            .expect_err(name);
        assert!(
            err.to_string().contains("outside the allowed root"),
            "{name}: {err}"
        );
    }
    // The command line's own paths are the user's: the same repositories open there.
    obtain(root.path().join("shared"), &RepoPolicy::command_line())
        .await
        .expect("any local path on the command line");
}
