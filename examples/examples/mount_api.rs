//! The changelog API mounted in a Rust application's own axum router, next to the
//! application's routes, without the `changelog` command line (`default-features = false`).
//!
//! `cargo run -p changelog-examples --example mount_api -- [ADDR]`
//!
//! With an address (`127.0.0.1:8080`) it serves until Ctrl-C; without one it starts on an
//! ephemeral port of 127.0.0.1, asks itself for `/api/v1/health`, prints the answer and stops.

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use changelog_core::store::memory::MemoryStore;
use changelog_http::{AppState, ServerConfig};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[expect(
    clippy::print_stderr,
    reason = "an example program reports on its terminal"
)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let address = std::env::args().nth(1);

    // Any store fits: `changelog_store::Store::open("sqlite://app.db?mode=rwc")` for a file,
    // `postgres://...` for a shared database; here the core's in-memory store.
    let store = Arc::new(MemoryStore::new());
    // A real application reads its signing secret from its own configuration.
    let secret = std::env::var("APP_JWT_SECRET")
        .unwrap_or_else(|_| format!("{}{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4()));
    let state = AppState::new(store, ServerConfig::new(secret.into_bytes()))?;
    // Generation jobs (`POST /api/v1/changelogs` with `"source": "git"`) run on workers the
    // application starts beside the router, and stops (giving running jobs back) on shutdown.
    let workers = changelog_http::Workers::start(&state, 2);

    let app = Router::new()
        .route("/", get(|| async { "my application" }))
        .merge(changelog_http::router(state));

    let listener = tokio::net::TcpListener::bind(address.as_deref().unwrap_or("127.0.0.1:0"))
        .await
        .context("binding the listener")?;
    let local = listener.local_addr()?;
    eprintln!("serving on http://{local} (the API under /api/v1)");
    if address.is_some() {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        workers.shutdown().await;
        return Ok(());
    }

    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut stream = tokio::net::TcpStream::connect(local).await?;
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    eprintln!("GET /api/v1/health -> {body}");
    server.abort();
    workers.shutdown().await;
    anyhow::ensure!(body.contains("\"ok\""), "unexpected answer: {answer}");
    Ok(())
}
