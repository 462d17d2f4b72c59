//! The `changelog` binary's library: the command-line interface today, the bundled HTTP server
//! next.
//!
//! `main.rs` only parses arguments and calls [`run`], so every command can be driven from tests
//! and from other Rust programs.

mod cli;
mod generate;
mod providers;

pub use cli::{Cli, Command, GenerateArgs, LlmArgs, run};
