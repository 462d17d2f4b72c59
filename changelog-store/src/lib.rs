//! Persistence for the changelog engine, on sqlx: an SQLite file as the embedded default and
//! PostgreSQL for teams sharing one database between several server instances.
//!
//! This crate does not store anything yet; its implementations of the core's store traits,
//! with their migrations, are the next part of the workspace to be written. It exists now so
//! that the crate graph (`changelog-http -> changelog-store -> changelog-core`) is in place.
