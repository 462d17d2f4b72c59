//! `changelog serve` as a process: starts with no configuration, creates its SQLite file and
//! its development secrets (mode 0600), serves, and stops on SIGTERM.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_with_no_configuration_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_changelog"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("CHANGELOG_JWT_SECRET")
        .env_remove("CHANGELOG_ENCRYPTION_KEY")
        .env_remove("CHANGELOG_BIND")
        .env_remove("MIMALLOC_ALLOW_THP")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let address = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no `listening` line; log so far: {log:#?}"));
        log.push(line.clone());
        if line.contains("listening")
            && let Some(at) = line.split("address=").nth(1)
        {
            break at.split_whitespace().next().unwrap().to_owned();
        }
    };
    assert!(
        log.iter().any(|l| l.contains("development secrets")),
        "{log:#?}"
    );
    assert!(dir.path().join("changelog.db").exists());
    let secrets = dir.path().join("changelog.db.secrets");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secrets).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&secrets).unwrap();
    assert!(
        log.iter().all(|l| !text
            .lines()
            .any(|s| { s.split_once('=').is_some_and(|(_, v)| l.contains(v)) })),
        "secrets never reach the log"
    );

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://{address}/api/v1");
    let registered = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"username": "ops", "email": "ops@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let ready = client
        .get(format!("http://{address}/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    // The server runs without transparent huge pages, the same process started again with the
    // allocator told so (the kernel says so where it shows it, since Linux 5.0), unless the
    // system has them off anyway.
    #[cfg(target_os = "linux")]
    if !std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .is_ok_and(|modes| modes.contains("[never]"))
    {
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        if let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
            assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
        }
        let environment = std::fs::read(format!("/proc/{}/environ", child.id())).unwrap();
        assert!(
            environment
                .split(|&b| b == 0)
                .any(|entry| entry == b"MIMALLOC_ALLOW_THP=0")
        );
    }

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "a SIGTERM stops the server cleanly: {status:?}"
    );
}

#[test]
fn serve_help_documents_its_configuration() {
    let output = Command::new(env!("CARGO_BIN_EXE_changelog"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "--bind",
        "CHANGELOG_BIND",
        "--database-url",
        "DATABASE_URL",
        "--jwt-secret",
        "CHANGELOG_JWT_SECRET",
        "--encryption-key",
        "--cors-origin",
        "--body-limit",
        "--request-timeout",
        "--repos-root",
        "--workers",
        "--provider",
        "CHANGELOG_PROVIDER",
    ] {
        assert!(help.contains(needle), "`{needle}` in:\n{help}");
    }
}

#[test]
fn connection_parameters_never_reach_the_log() {
    // sqlx warns about parameters it does not know with their values (`sslpassword` is libpq's);
    // the log must not carry them whatever RUST_LOG says. Nothing listens on port 1.
    let output = Command::new(env!("CARGO_BIN_EXE_changelog"))
        .args([
            "migrate",
            "--database-url",
            "postgres://ops@127.0.0.1:1/app?sslpassword=hunter2-secret&connect_timeout=2",
        ])
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .env(
            "CHANGELOG_JWT_SECRET",
            "a-jwt-secret-long-enough-for-the-test-0123456789",
        )
        .env("CHANGELOG_ENCRYPTION_KEY", "ab".repeat(32))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("127.0.0.1:1"),
        "the error names the server: {stderr}"
    );
    assert!(!stderr.contains("hunter2-secret"), "{stderr}");
}
