//! An offline, deterministic provider that answers from the commits in its prompt.
//!
//! For a request that lists commits it writes one cited bullet per commit, grouped as the
//! Conventional Commits sections; for a merge request it merges the partial changelogs' bullets
//! under their headings. Every bullet it writes cites real ids from the prompt, so the whole
//! LLM pipeline (budgets, map-reduce, verification, cache) runs with no key and no network.
//! Usage is counted with `cl100k_base`. An optional latency makes it stand in for a remote
//! model in benchmarks.

use std::time::Duration;

use async_trait::async_trait;

use super::{
    ChatRequest, Completion, CompletionStream, FinishReason, LlmError, LlmProvider, Role,
    StreamEvent, Usage,
};
use crate::budget::{ModelInfo, TokenCounter};
use crate::parse::{Kind, classify_plain, conventional_header};
use crate::prompt::{COMMITS_HEADER, PARTIALS_HEADER};

/// The simulated provider.
#[derive(Debug, Clone, Default)]
pub struct SimulatedProvider {
    latency: Option<Duration>,
}

impl SimulatedProvider {
    /// A provider that answers at once.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A provider that takes `latency` to answer each request.
    #[must_use]
    pub fn with_latency(latency: Duration) -> Self {
        Self {
            latency: Some(latency),
        }
    }

    /// The answer to a request, as [`LlmProvider::complete`] gives it (also used by tests that
    /// serve it over a provider's wire format).
    #[must_use]
    pub fn answer(request: &ChatRequest) -> String {
        let user = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map_or("", |m| m.content.as_str());
        if user.starts_with(PARTIALS_HEADER) {
            merge(user)
        } else if user.starts_with(COMMITS_HEADER) {
            summarise(user)
        } else {
            String::new()
        }
    }
}

const SECTIONS: [&str; 8] = [
    "Breaking Changes",
    "Features",
    "Bug Fixes",
    "Performance",
    "Refactoring",
    "Documentation",
    "Reverts",
    "Other",
];

fn section_of(kind: Kind) -> Option<usize> {
    Some(match kind {
        Kind::Feature | Kind::Improvement => 1,
        Kind::Fix | Kind::Security => 2,
        Kind::Performance => 3,
        Kind::Refactor => 4,
        Kind::Documentation => 5,
        Kind::Revert => 6,
        Kind::Deprecation | Kind::Removal | Kind::Change | Kind::Other => 7,
        Kind::Style | Kind::Test | Kind::Build | Kind::Ci | Kind::Chore => return None,
    })
}

/// One bullet per listed commit, by section.
fn summarise(prompt: &str) -> String {
    let mut sections: Vec<Vec<String>> = vec![Vec::new(); SECTIONS.len()];
    for line in prompt.lines() {
        let Some(rest) = line.strip_prefix('[') else {
            continue;
        };
        let Some((id, summary)) = rest.split_once("] ") else {
            continue;
        };
        // "summary [BREAKING] (Author)": drop the author, note the mark.
        let summary = summary.rsplit_once(" (").map_or(summary, |(s, _)| s);
        let (summary, marked) = match summary.strip_suffix(" [BREAKING]") {
            Some(s) => (s, true),
            None => (summary, false),
        };
        // A pull request's line: "#34: Title".
        let summary = match summary.split_once(": ") {
            Some((reference, title))
                if reference.len() > 1
                    && reference.starts_with(['#', '!'])
                    && reference[1..].bytes().all(|b| b.is_ascii_digit()) =>
            {
                title
            }
            _ => summary,
        };
        let (kind, scope, description, bang) = match conventional_header(summary) {
            Some(h) => (
                Kind::from_type(h.commit_type).unwrap_or_else(|| classify_plain(h.description)),
                h.scope,
                h.description,
                h.breaking,
            ),
            None => (classify_plain(summary), None, summary, false),
        };
        let index = if marked || bang {
            Some(0)
        } else {
            section_of(kind)
        };
        if let Some(index) = index {
            let scope = scope.map(|s| format!("**{s}:** ")).unwrap_or_default();
            sections[index].push(format!("- {scope}{description} [{id}]"));
        }
    }
    render(SECTIONS.iter().map(|s| (*s).to_owned()).zip(sections))
}

/// The partial changelogs' bullets under their headings, duplicates once.
fn merge(prompt: &str) -> String {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    let mut current: Option<usize> = None;
    for line in prompt.lines() {
        let trimmed = line.trim();
        if let Some(title) = trimmed.strip_prefix("### ") {
            let title = title.trim().to_owned();
            current = Some(match sections.iter().position(|(t, _)| *t == title) {
                Some(i) => i,
                None => {
                    sections.push((title, Vec::new()));
                    sections.len() - 1
                }
            });
        } else if trimmed.starts_with("- ")
            && let Some(i) = current
            && !sections[i].1.iter().any(|b| b == trimmed)
        {
            sections[i].1.push(trimmed.to_owned());
        }
    }
    render(sections.into_iter())
}

fn render(sections: impl Iterator<Item = (String, Vec<String>)>) -> String {
    let mut out = String::from("## Changes\n");
    for (title, bullets) in sections {
        if bullets.is_empty() {
            continue;
        }
        out.push_str("\n### ");
        out.push_str(&title);
        out.push_str("\n\n");
        for bullet in bullets {
            out.push_str(&bullet);
            out.push('\n');
        }
    }
    out
}

#[async_trait]
impl LlmProvider for SimulatedProvider {
    fn name(&self) -> &str {
        "simulated"
    }

    async fn complete(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        if let Some(latency) = self.latency {
            tokio::time::sleep(latency).await;
        }
        let text = Self::answer(request);
        let counter = TokenCounter::new(&ModelInfo::for_model("simulated"));
        let usage = Usage {
            input_tokens: counter.count_messages(&request.messages) as u64,
            output_tokens: counter.count(&text) as u64,
        };
        let finish_reason = if usage.output_tokens > u64::from(request.max_output_tokens) {
            FinishReason::Length
        } else {
            FinishReason::Stop
        };
        Ok(Completion {
            text,
            usage,
            model: request.model.clone(),
            finish_reason,
            cached: false,
        })
    }

    async fn stream(&self, request: &ChatRequest) -> Result<CompletionStream, LlmError> {
        let completion = self.complete(request).await?;
        let mut events: Vec<Result<StreamEvent, LlmError>> = completion
            .text
            .split_inclusive('\n')
            .map(|line| Ok(StreamEvent::Delta(line.to_owned())))
            .collect();
        events.push(Ok(StreamEvent::Done {
            usage: completion.usage,
            model: completion.model,
            finish_reason: completion.finish_reason,
        }));
        Ok(Box::pin(futures_util::stream::iter(events)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Message;

    fn request(user: String) -> ChatRequest {
        ChatRequest {
            model: "simulated".into(),
            messages: vec![Message::system("rules"), Message::user(user)],
            temperature: 0.0,
            max_output_tokens: 1_000,
        }
    }

    #[tokio::test]
    async fn summarises_listed_commits_with_citations() {
        let prompt = format!(
            "{COMMITS_HEADER}\n[aaaa111] feat(api): paging (Ada)\n    body line\n[bbbb222] fix: crash [BREAKING] (Ada)\n    BREAKING CHANGE: x\n[cccc333] chore: tidy (Ada)\n[dddd444] Improve errors (Ada)\n"
        );
        let answer = SimulatedProvider::new()
            .complete(&request(prompt))
            .await
            .unwrap();
        assert_eq!(
            answer.text,
            "## Changes\n\n### Breaking Changes\n\n- crash [bbbb222]\n\n### Features\n\n- **api:** paging [aaaa111]\n- Improve errors [dddd444]\n"
        );
        assert!(answer.usage.input_tokens > 0 && answer.usage.output_tokens > 0);
        assert_eq!(answer.finish_reason, FinishReason::Stop);
    }

    #[tokio::test]
    async fn merges_partials() {
        let prompt = format!(
            "{PARTIALS_HEADER}\n\n## Part 1\n### Features\n- a [aaaa111]\n### Bug Fixes\n- b [bbbb222]\n\n## Part 2\n### Features\n- c [cccc333]\n- a [aaaa111]\n"
        );
        let answer = SimulatedProvider::new()
            .complete(&request(prompt))
            .await
            .unwrap();
        assert_eq!(
            answer.text,
            "## Changes\n\n### Features\n\n- a [aaaa111]\n- c [cccc333]\n\n### Bug Fixes\n\n- b [bbbb222]\n"
        );
    }
}
