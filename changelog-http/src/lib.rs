//! The `changelog` binary's library: command-line interface today, the bundled HTTP server
//! next.
//!
//! `main.rs` only parses arguments and calls [`run`], so every command can be driven from tests
//! and from other Rust programs.

mod cli;

pub use cli::{Cli, Command, GenerateArgs, run};
