//! The HTTP API over real HTTP on 127.0.0.1: a server on an ephemeral port per test, stopped by
//! the test, against SQLite in a temporary file and PostgreSQL at `CHANGELOG_TEST_DATABASE_URL`
//! in a fresh schema per test. Without that variable the PostgreSQL half is skipped with a
//! notice; with `CI=true`, a PostgreSQL that cannot be reached fails the test instead.

mod harness;

mod accounts;
mod api_keys;
mod changelogs;
mod conformance;
mod jobs;
mod openapi;
mod operations;
mod serve;
