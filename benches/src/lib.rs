//! Shared setup of the changelog engine's benches: synthetic commits shaped like real ones.
//!
//! The criterion benches live in `benches/`; `generate_vs_git_log.py` compares the
//! `changelog` binary with `git log` over a synthetic repository.

use changelog_core::{Commit, Signature};

const TYPES: &[&str] = &[
    "feat", "fix", "fix", "docs", "refactor", "perf", "test", "chore", "ci", "build",
];
const SCOPES: &[Option<&str>] = &[
    None,
    None,
    Some("api"),
    Some("cli"),
    Some("parser"),
    Some("store"),
];
const WORDS: &[&str] = &[
    "cache", "parser", "config", "loader", "retry", "timeout", "buffer", "stream", "index",
    "token", "session", "request", "response", "handler", "router", "worker", "queue",
];
const PLAIN: &[&str] = &["Add", "Fix", "Remove", "Improve", "Update", "Refactor"];

/// `count` commits, newest first as a source lists them: four in five Conventional, one in
/// five plain; half with a body; some with references, co-authors and breaking changes.
#[must_use]
pub fn synthetic_commits(count: usize) -> Vec<Commit> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % n as u64).unwrap_or(0)
    };
    let time = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap_or_default();
    (0..count)
        .rev()
        .map(|n| {
            let words: Vec<&str> = (0..3 + next(6)).map(|_| WORDS[next(WORDS.len())]).collect();
            let words = words.join(" ");
            let mut message = if next(5) == 0 {
                format!("{} {words}", PLAIN[next(PLAIN.len())])
            } else {
                let kind = TYPES[next(TYPES.len())];
                match SCOPES[next(SCOPES.len())] {
                    Some(scope) => format!("{kind}({scope}): {words}"),
                    None => format!("{kind}: {words}"),
                }
            };
            if next(10) == 0 {
                message.push_str(&format!(" (#{n})"));
            }
            if next(2) == 0 {
                message.push_str("\n\n");
                let body: Vec<&str> = (0..10 + next(50))
                    .map(|_| WORDS[next(WORDS.len())])
                    .collect();
                message.push_str(&body.join(" "));
            }
            if next(10) == 0 {
                message.push_str(&format!("\n\nCloses #{}", next(5000)));
                if next(3) == 0 {
                    message.push_str("\nCo-authored-by: Grace Hopper <grace@example.com>");
                }
            }
            if next(100) == 0 {
                message.push_str("\n\nBREAKING CHANGE: the format changed");
            }
            let signature = Signature {
                name: "Ada Lovelace".into(),
                email: "ada@example.com".into(),
                time,
            };
            Commit::from_message(
                format!("{n:040x}"),
                signature.clone(),
                signature,
                &message,
                vec![format!("{:040x}", n.saturating_sub(1))],
            )
        })
        .collect()
}
