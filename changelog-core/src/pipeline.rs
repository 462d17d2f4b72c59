//! The LLM path: plan requests within the token budget, ask the model (map-reduce for large
//! ranges), verify every answer against the range, and build the same structured
//! [`Changelog`] as the deterministic path.
//!
//! Planning, step by step, until every request fits the budget by the model's own token count:
//!
//! 1. one request listing every commit, with full bodies, then trimmed bodies, then bodies only
//!    for user-facing commits, then summaries only ([`Detail`]); the commits of a pull request
//!    are one line that cites them all, with the pull request's title and their summaries
//!    below (the groups the deterministic path makes one entry each of);
//! 2. otherwise chunks of those lines (trimmed bodies; a line too large for a chunk on its own
//!    is shown by its summary, cut if it must be), summarised concurrently (at most
//!    [`LlmOptions::concurrency`] requests at a time);
//! 3. then the verified partial changelogs merged, in as many rounds as it takes when they do
//!    not fit one request together.
//!
//! The plan is known before anything is sent, so [`LlmPipeline::estimate`] reports requests,
//! tokens and an upper bound of the cost (every answer counted at its maximum size).

use std::fmt::Write as _;

use futures_util::{StreamExt as _, stream};
use serde::{Deserialize, Serialize};

use crate::budget::{Budget, ModelInfo, TokenCounter};
use crate::build::{BuildOptions, Prepared, prepare_with};
pub use crate::changelog::UsageReport;
use crate::changelog::Verification;
use crate::changelog::{Changelog, Section};
use crate::commit::History;
use crate::error::{Error, Result};
use crate::llm::{ChatRequest, Completion, FinishReason, LlmProvider, Message, StreamEvent, Usage};
use crate::parse::ParsedCommit;
use crate::prompt::{
    COMMITS_HEADER, DATA_RULE, Detail, PARTIALS_HEADER, Prompter, ReleaseContext, Task,
    commit_line, defuse, fences, pull_request_lines,
};
use crate::verify::{CommitIndex, measure_coverage, verify};

/// Default number of requests in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// How to ask the model.
#[derive(Debug, Clone)]
pub struct LlmOptions {
    /// A user template replacing the style's instructions (its text).
    pub template: Option<String>,
    /// The model, as the provider names it.
    pub model: String,
    /// Sampling temperature.
    pub temperature: f32,
    /// Cap on each prompt's tokens (the model's window less the answer otherwise).
    pub max_input_tokens: Option<usize>,
    /// Cap on each answer's tokens.
    pub max_output_tokens: Option<u32>,
    /// Requests in flight at once during map-reduce.
    pub concurrency: usize,
    /// Ask once more about user-facing commits no entry cites.
    pub repair: bool,
    /// Style (the instructions and the sections), title and version: as on the deterministic
    /// path.
    pub build: BuildOptions,
}

impl Default for LlmOptions {
    fn default() -> Self {
        Self {
            template: None,
            model: "gpt-4o-mini".to_owned(),
            temperature: 0.2,
            max_input_tokens: None,
            max_output_tokens: None,
            concurrency: DEFAULT_CONCURRENCY,
            repair: false,
            build: BuildOptions::default(),
        }
    }
}

/// What a generation will cost, known before anything is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The model.
    pub model: String,
    /// Requests: one, or the chunks plus the merges.
    pub requests: usize,
    /// Prompt tokens of every request (merge prompts counted at their largest).
    pub input_tokens: u64,
    /// The most answer tokens all requests together may use.
    pub max_output_tokens: u64,
    /// Upper bound of the price in US dollars; `None` (`null`) when the model's price is
    /// unknown.
    pub cost_usd: Option<f64>,
    /// Chunks of commits (1 when the range fits one request).
    pub chunks: usize,
    /// Rounds of merging.
    pub merge_rounds: usize,
    /// How much of each commit the prompts show.
    pub detail: Detail,
    /// The budget each request fits.
    pub budget: Budget,
}

/// Told what happens while a generation runs (for progress bars and streamed output).
pub trait Observer: Send + Sync {
    /// Text of the answer as it arrives (single-request plans only, when streaming): the
    /// model's raw, unverified words, to show while waiting. What to print or store is the
    /// verified changelog that [`LlmPipeline::generate`] returns. After a stream that broke,
    /// the answer is asked for again as a whole and not streamed.
    fn on_delta(&self, _text: &str) {}
    /// A request finished; `total` may grow as merge rounds are planned.
    fn on_progress(&self, _done: usize, _total: usize) {}
    /// Whether the observer wants streamed text.
    fn wants_stream(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// What one line of a prompt lists: a commit, or a pull request of several commits.
struct Unit<'c> {
    commits: Vec<&'c ParsedCommit>,
    /// The pull request, for a group of several commits.
    pull_request: Option<&'c str>,
}

impl Unit<'_> {
    fn line(&self, detail: Detail) -> String {
        match (self.pull_request, self.commits.as_slice()) {
            (Some(reference), commits) if commits.len() > 1 => {
                pull_request_lines(reference, commits, detail)
            }
            (_, commits) => commits
                .iter()
                .map(|c| commit_line(c, detail))
                .collect::<String>(),
        }
    }
}

/// The lines of a prompt: the groups the deterministic path makes entries of (the commits of a
/// pull request together, with [`crate::build::GroupBy::PullRequest`]).
fn units(commits: &[ParsedCommit], group_by: crate::build::GroupBy) -> Vec<Unit<'_>> {
    crate::build::groups(commits, group_by)
        .into_iter()
        .map(|group| {
            let commits: Vec<&ParsedCommit> = group.into_iter().map(|i| &commits[i]).collect();
            let pull_request = commits
                .first()
                .and_then(|c| c.pull_requests.first())
                .map(String::as_str)
                .filter(|_| commits.len() > 1);
            Unit {
                commits,
                pull_request,
            }
        })
        .collect()
}

/// The requests of a plan.
struct Plan {
    requests: Vec<Vec<Message>>,
    detail: Detail,
}

/// Generation with a language model.
pub struct LlmPipeline<'p> {
    provider: &'p dyn LlmProvider,
    options: LlmOptions,
    info: ModelInfo,
    counter: TokenCounter,
    budget: Budget,
    prompter: Prompter,
}

impl std::fmt::Debug for LlmPipeline<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmPipeline")
            .field("provider", &self.provider.name())
            .field("model", &self.options.model)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl<'p> LlmPipeline<'p> {
    /// A pipeline over a provider.
    pub fn new(provider: &'p dyn LlmProvider, options: LlmOptions) -> Result<Self> {
        let info = ModelInfo::for_model(&options.model);
        let counter = TokenCounter::new(&info);
        let budget = Budget::new(&info, options.max_input_tokens, options.max_output_tokens);
        let prompter = Prompter::new(options.build.style, options.template.clone())?;
        Ok(Self {
            provider,
            options,
            info,
            counter,
            budget,
            prompter,
        })
    }

    /// The budget every request fits.
    #[must_use]
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Exact prompt tokens of a request, as the budget counts them.
    #[must_use]
    pub fn count(&self, messages: &[Message]) -> usize {
        self.counter.count_messages(messages)
    }

    /// The plan's cost, sending nothing.
    pub fn estimate(&self, history: History) -> Result<Estimate> {
        let prepared = prepare_with(history, &self.options.build.skip);
        let release = self.release(&prepared);
        let plan = self.plan(&prepared.commits, &release)?;
        let mut input: u64 = plan.requests.iter().map(|m| self.count(m) as u64).sum();
        let chunks = plan.requests.len();
        let mut requests = chunks;
        let mut merge_rounds = 0;
        if chunks > 1 {
            // Merge rounds, every partial counted at the largest answer.
            let merge_overhead = self.count(&self.merge_messages(&release, &[]));
            let per_batch = self.budget.max_input_tokens.saturating_sub(merge_overhead)
                / (self.budget.max_output_tokens as usize + 8).max(1);
            let per_batch = per_batch.max(2);
            let mut docs = chunks;
            while docs > 1 {
                let batches = docs.div_ceil(per_batch);
                requests += batches;
                input += (docs * (self.budget.max_output_tokens as usize + 8)
                    + batches * merge_overhead) as u64;
                docs = batches;
                merge_rounds += 1;
            }
        }
        let max_output_tokens = requests as u64 * u64::from(self.budget.max_output_tokens);
        let cost_usd = self.info.cost(Usage {
            input_tokens: input,
            output_tokens: max_output_tokens,
        });
        Ok(Estimate {
            model: self.options.model.clone(),
            requests,
            input_tokens: input,
            max_output_tokens,
            cost_usd,
            chunks,
            merge_rounds,
            detail: plan.detail,
            budget: self.budget,
        })
    }

    /// Generates the changelog of a history.
    pub async fn generate(&self, history: History, observer: &dyn Observer) -> Result<Changelog> {
        let prepared = prepare_with(history, &self.options.build.skip);
        let release = self.release(&prepared);
        let plan = self.plan(&prepared.commits, &release)?;
        let index = CommitIndex::new(&prepared.commits);
        let mut run = Run::default();
        let total = plan.requests.len();

        let (mut sections, mut verification) = if total == 0 {
            (Vec::new(), Verification::default())
        } else if total == 1 {
            let messages = plan.requests.into_iter().next().unwrap_or_default();
            let text = self
                .ask(messages, &mut run, observer, observer.wants_stream())
                .await?;
            observer.on_progress(1, 1);
            verify(&text, &index, self.options.build.style)
        } else {
            let answers = self
                .ask_all(plan.requests, &mut run, observer, 0, total)
                .await?;
            let mut verification = Verification::default();
            let mut partials = Vec::with_capacity(answers.len());
            for text in answers {
                let (sections, v) = verify(&text, &index, self.options.build.style);
                verification.dropped_entries += v.dropped_entries;
                verification.dropped.extend(v.dropped);
                partials.push(sections);
            }
            let sections = self
                .reduce(
                    partials,
                    &release,
                    &index,
                    &mut run,
                    &mut verification,
                    observer,
                )
                .await?;
            (sections, verification)
        };

        measure_coverage(&prepared.commits, &sections, &mut verification);
        if self.options.repair && !verification.uncited_commits.is_empty() {
            self.repair(
                &prepared,
                &release,
                &index,
                &mut sections,
                &mut verification,
                &mut run,
                observer,
            )
            .await?;
        }

        let model = run
            .model
            .clone()
            .unwrap_or_else(|| self.options.model.clone());
        if sections.is_empty() && !verification.uncited_commits.is_empty() {
            // Nothing usable came back: an error, and no answer of this run is kept for next
            // time.
            for request in &run.asked {
                self.provider.forget(request).await;
            }
            return Err(Error::EmptyAnswer {
                model,
                commits: verification.uncited_commits.len(),
                came_back: describe_unusable(&run, &verification),
            });
        }
        let style = self.options.build.style;
        let duplicates = fold_duplicates(&mut sections);
        let mut changelog = prepared.into_changelog(style, &self.options.build, sections);
        changelog.stats.duplicates += duplicates;
        changelog.model = Some(model);
        changelog.usage = Some(UsageReport {
            input_tokens: run.usage.input_tokens,
            output_tokens: run.usage.output_tokens,
            requests: run.requests,
            cached_requests: run.cached,
            cost_usd: self.info.cost(run.usage),
            truncated_answers: run.truncated,
            chunks: total,
            merge_rounds: run.merge_rounds,
        });
        changelog.verification = Some(verification);
        Ok(changelog)
    }

    fn release(&self, prepared: &Prepared) -> ReleaseContext {
        ReleaseContext {
            title: self.options.build.title.clone(),
            version: self
                .options
                .build
                .version
                .clone()
                .or_else(|| prepared.range.as_ref().and_then(|r| r.to.tag.clone())),
            range: prepared.range.as_ref().map(|r| r.spec.clone()),
            repository: prepared.repository.as_ref().map(|r| r.url.clone()),
        }
    }

    /// A summarise or repair request listing `lines` (`commits` commits in all).
    fn summarise_messages(
        &self,
        task: Task,
        release: &ReleaseContext,
        lines: &[&str],
        commits: usize,
    ) -> Result<Vec<Message>> {
        let system = self.prompter.instructions(task, release, commits)?;
        let data: String = lines.concat();
        Ok(vec![
            Message::system(with_data_rule(system)),
            Message::user(fenced(COMMITS_HEADER, &data)),
        ])
    }

    fn merge_messages(&self, release: &ReleaseContext, docs: &[String]) -> Vec<Message> {
        let system = self
            .prompter
            .instructions(Task::Merge, release, 0)
            .unwrap_or_default();
        let mut data = String::new();
        for (i, doc) in docs.iter().enumerate() {
            let _ = write!(data, "\n## Part {}\n{}\n", i + 1, defuse(doc));
        }
        vec![
            Message::system(with_data_rule(system)),
            Message::user(fenced(PARTIALS_HEADER, &data)),
        ]
    }

    /// Plans the summarise requests (see the module docs); none for an empty range.
    fn plan(&self, commits: &[ParsedCommit], release: &ReleaseContext) -> Result<Plan> {
        if commits.is_empty() {
            return Ok(Plan {
                requests: Vec::new(),
                detail: Detail::Full,
            });
        }
        let units = units(commits, self.options.build.group_by);
        let limit = self.budget.max_input_tokens;
        let empty = self.summarise_messages(Task::Summarise, release, &[], commits.len())?;
        let fixed = self.count(&empty);
        if fixed >= limit {
            return Err(Error::Budget {
                budget: limit,
                what: "the instructions",
                needed: fixed,
            });
        }
        for detail in Detail::ALL {
            // Render and count line by line, and give up on this level as soon as the lines
            // alone exceed the budget (a long range is many times over it).
            let mut lines: Vec<String> = Vec::with_capacity(units.len());
            let mut approximate = fixed;
            for unit in &units {
                let line = unit.line(detail);
                approximate += self.counter.count(&line);
                if approximate > limit + limit / 50 {
                    break;
                }
                lines.push(line);
            }
            if lines.len() < units.len() {
                continue;
            }
            // Each line's count, summed, is within a few tokens of the whole; confirm exactly.
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let messages =
                self.summarise_messages(Task::Summarise, release, &refs, commits.len())?;
            if self.count(&messages) <= limit {
                return Ok(Plan {
                    requests: vec![messages],
                    detail,
                });
            }
        }
        self.chunk(&units, release, fixed)
    }

    fn chunk(&self, units: &[Unit<'_>], release: &ReleaseContext, fixed: usize) -> Result<Plan> {
        let limit = self.budget.max_input_tokens;
        // Room for the lines, with a margin for the digits of the count in the instructions
        // and for tokens merging across line boundaries.
        let room = limit.saturating_sub(fixed + 8);
        if room == 0 {
            return Err(Error::Budget {
                budget: limit,
                what: "the instructions and one commit",
                needed: fixed + 8,
            });
        }
        // (line, its tokens, its commits)
        let mut lines: Vec<(String, usize, usize)> = Vec::with_capacity(units.len());
        for unit in units {
            self.fit(unit, room, &mut lines);
        }

        let mut requests = Vec::new();
        let mut start = 0;
        while start < lines.len() {
            let mut end = start;
            let mut used = 0;
            while end < lines.len() && used + lines[end].1 <= room {
                used += lines[end].1;
                end += 1;
            }
            let end = end.max(start + 1);
            // The exact count decides; give back lines until it fits.
            let mut take = end;
            loop {
                let refs: Vec<&str> = lines[start..take]
                    .iter()
                    .map(|(l, _, _)| l.as_str())
                    .collect();
                let count = lines[start..take].iter().map(|(_, _, n)| n).sum();
                let messages = self.summarise_messages(Task::Summarise, release, &refs, count)?;
                let tokens = self.count(&messages);
                if tokens <= limit {
                    requests.push(messages);
                    break;
                }
                if take == start + 1 {
                    return Err(Error::Budget {
                        budget: limit,
                        what: "the instructions and one commit",
                        needed: tokens,
                    });
                }
                take -= 1;
            }
            start = take;
        }
        Ok(Plan {
            requests,
            detail: Detail::Trimmed,
        })
    }

    /// A unit's line as it fits `room`: with trimmed bodies, else summaries only; a pull
    /// request still too large is listed commit by commit (its line would lose citations if
    /// cut), and a single commit still too large is cut.
    fn fit(&self, unit: &Unit<'_>, room: usize, lines: &mut Vec<(String, usize, usize)>) {
        let mut line = unit.line(Detail::Trimmed);
        let mut tokens = self.counter.count(&line);
        if tokens > room {
            line = unit.line(Detail::Summary);
            tokens = self.counter.count(&line);
        }
        if tokens > room && unit.commits.len() > 1 {
            for commit in &unit.commits {
                let alone = Unit {
                    commits: vec![commit],
                    pull_request: None,
                };
                self.fit(&alone, room, lines);
            }
            return;
        }
        if tokens > room {
            let mut cut = self
                .counter
                .truncate(&line, room.saturating_sub(1))
                .to_owned();
            cut.push('\n');
            tokens = self.counter.count(&cut);
            line = cut;
        }
        lines.push((line, tokens, unit.commits.len()));
    }

    /// Merges partial changelogs until one is left.
    async fn reduce(
        &self,
        mut partials: Vec<Vec<Section>>,
        release: &ReleaseContext,
        index: &CommitIndex<'_>,
        run: &mut Run,
        verification: &mut Verification,
        observer: &dyn Observer,
    ) -> Result<Vec<Section>> {
        let limit = self.budget.max_input_tokens;
        let mut done = run.requests + run.cached;
        while partials.len() > 1 {
            let docs: Vec<String> = partials
                .iter()
                .map(|s| markdown_with_citations(s, index))
                .collect();
            // Pack consecutive partials into merge requests that fit.
            let mut batches: Vec<Vec<usize>> = Vec::new();
            let mut current: Vec<usize> = Vec::new();
            for i in 0..docs.len() {
                current.push(i);
                let texts: Vec<String> = current.iter().map(|&j| docs[j].clone()).collect();
                if current.len() > 1 && self.count(&self.merge_messages(release, &texts)) > limit {
                    current.pop();
                    batches.push(std::mem::take(&mut current));
                    current.push(i);
                }
            }
            batches.push(current);
            if batches.iter().all(|b| b.len() < 2) {
                // Nothing fits two at a time: put the sections together without the model.
                return Ok(concatenate(partials));
            }
            let mut merged: Vec<Option<Vec<Section>>> = vec![None; batches.len()];
            let mut requests = Vec::new();
            let mut slots = Vec::new();
            for (slot, batch) in batches.iter().enumerate() {
                if let [only] = batch.as_slice() {
                    merged[slot] = Some(std::mem::take(&mut partials[*only]));
                } else {
                    let texts: Vec<String> = batch.iter().map(|&j| docs[j].clone()).collect();
                    requests.push(self.merge_messages(release, &texts));
                    slots.push(slot);
                }
            }
            let total = done + requests.len();
            run.merge_rounds += 1;
            let answers = self.ask_all(requests, run, observer, done, total).await?;
            done = total;
            for (slot, text) in slots.into_iter().zip(answers) {
                let (sections, v) = verify(&text, index, self.options.build.style);
                verification.dropped_entries += v.dropped_entries;
                verification.dropped.extend(v.dropped);
                merged[slot] = Some(sections);
            }
            partials = merged.into_iter().map(Option::unwrap_or_default).collect();
        }
        Ok(partials.pop().unwrap_or_default())
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the state of one generation, passed along"
    )]
    async fn repair(
        &self,
        prepared: &Prepared,
        release: &ReleaseContext,
        index: &CommitIndex<'_>,
        sections: &mut Vec<Section>,
        verification: &mut Verification,
        run: &mut Run,
        observer: &dyn Observer,
    ) -> Result<()> {
        let uncited: Vec<&ParsedCommit> = prepared
            .commits
            .iter()
            .filter(|c| verification.uncited_commits.contains(&c.commit.id))
            .collect();
        let limit = self.budget.max_input_tokens;
        let mut lines: Vec<String> = Vec::new();
        let mut asked: Vec<&str> = Vec::new();
        for commit in uncited {
            lines.push(commit_line(commit, Detail::Trimmed));
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            if self.count(&self.summarise_messages(Task::Repair, release, &refs, refs.len())?)
                > limit
            {
                lines.pop();
                break;
            }
            asked.push(commit.commit.id.as_str());
        }
        if lines.is_empty() {
            return Ok(());
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let messages = self.summarise_messages(Task::Repair, release, &refs, refs.len())?;
        let text = self.ask(messages, run, observer, false).await?;
        let (mut extra, v) = verify(&text, index, self.options.build.style);
        verification.dropped_entries += v.dropped_entries;
        verification.dropped.extend(v.dropped);
        // Only the commits asked about: a bullet citing another one repeats the changelog.
        for section in &mut extra {
            section.entries.retain(|entry| {
                let outside = entry
                    .commits
                    .iter()
                    .find(|id| !asked.contains(&id.as_str()));
                if let Some(id) = outside {
                    verification.dropped_entries += 1;
                    verification.dropped.push(crate::changelog::DroppedEntry {
                        text: entry.text.clone(),
                        reason: format!(
                            "`{}` was not among the commits the repair asked about",
                            &id[..id.len().min(12)]
                        ),
                    });
                }
                outside.is_none()
            });
        }
        extra.retain(|section| !section.entries.is_empty());
        for section in extra {
            match sections.iter_mut().find(|s| s.title == section.title) {
                Some(existing) => existing.entries.extend(section.entries),
                None => sections.push(section),
            }
        }
        measure_coverage(&prepared.commits, sections, verification);
        Ok(())
    }

    fn request(&self, messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: self.options.model.clone(),
            messages,
            temperature: self.options.temperature,
            max_output_tokens: self.budget.max_output_tokens,
        }
    }

    /// Sends one request; streams its text to the observer when asked.
    async fn ask(
        &self,
        messages: Vec<Message>,
        run: &mut Run,
        observer: &dyn Observer,
        streaming: bool,
    ) -> Result<String> {
        let request = self.request(messages);
        run.asked.push(request.clone());
        if !streaming {
            let attempts = self.complete_whole(request).await?;
            return Ok(run.record_attempts(attempts));
        }
        // Opening the stream is retried and falls back in the provider's layers.
        let events = self.provider.stream(&request).await?;
        match self.read_stream(events, run, observer).await {
            Ok(text) => Ok(text),
            // A stream that broke midway is asked again as a whole answer, which the
            // provider's layers retry and pass to fallback models as they do any request.
            // What was streamed was only shown; the answer is the new one.
            Err(error) if !error.is_request_fault() => {
                let attempts = self.complete_whole(request).await?;
                Ok(run.record_attempts(attempts))
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn read_stream(
        &self,
        mut events: crate::llm::CompletionStream,
        run: &mut Run,
        observer: &dyn Observer,
    ) -> std::result::Result<String, crate::llm::LlmError> {
        let mut text = String::new();
        while let Some(event) = events.next().await {
            match event? {
                StreamEvent::Delta(delta) => {
                    observer.on_delta(&delta);
                    text.push_str(&delta);
                }
                StreamEvent::Done {
                    usage,
                    model,
                    finish_reason,
                } => {
                    run.record(usage, false, &model, &finish_reason);
                    run.answer_chars += text.trim().len();
                    return Ok(text);
                }
            }
        }
        Err(crate::llm::LlmError::StreamInterrupted {
            provider: self.provider.name().to_owned(),
        })
    }

    /// Asks for a whole answer; an answer cut at the output limit (`length`) is asked for
    /// once more with twice the room, when the model and its window allow it. Every attempt
    /// is returned, the answer last.
    async fn complete_whole(
        &self,
        mut request: ChatRequest,
    ) -> std::result::Result<Vec<Completion>, crate::llm::LlmError> {
        let first = self.provider.complete(&request).await?;
        if first.finish_reason != FinishReason::Length {
            return Ok(vec![first]);
        }
        let window = self.info.context_window as usize;
        let room = window.saturating_sub(self.count(&request.messages));
        let larger = request
            .max_output_tokens
            .saturating_mul(2)
            .min(self.info.max_output_tokens)
            .min(u32::try_from(room).unwrap_or(u32::MAX));
        if larger <= request.max_output_tokens {
            return Ok(vec![first]);
        }
        request.max_output_tokens = larger;
        let second = self.provider.complete(&request).await?;
        Ok(vec![first, second])
    }

    /// Sends requests, at most `concurrency` at a time; answers in request order.
    async fn ask_all(
        &self,
        requests: Vec<Vec<Message>>,
        run: &mut Run,
        observer: &dyn Observer,
        done_before: usize,
        total: usize,
    ) -> Result<Vec<String>> {
        let mut answers: Vec<Option<String>> = vec![None; requests.len()];
        let requests: Vec<ChatRequest> = requests.into_iter().map(|m| self.request(m)).collect();
        run.asked.extend(requests.iter().cloned());
        let mut pending = stream::iter(
            requests
                .into_iter()
                .enumerate()
                .map(|(i, request)| async move { (i, self.complete_whole(request).await) }),
        )
        .buffer_unordered(self.options.concurrency.max(1));
        let mut done = done_before;
        while let Some((i, result)) = pending.next().await {
            answers[i] = Some(run.record_attempts(result?));
            done += 1;
            observer.on_progress(done, total);
        }
        Ok(answers.into_iter().map(Option::unwrap_or_default).collect())
    }
}

/// Accumulated over the requests of one generation.
#[derive(Debug, Default)]
struct Run {
    usage: Usage,
    requests: usize,
    cached: usize,
    model: Option<String>,
    truncated: usize,
    merge_rounds: usize,
    /// Every request sent (or answered from the cache).
    asked: Vec<ChatRequest>,
    /// Characters of answer text received, blanks aside.
    answer_chars: usize,
}

impl Run {
    /// Records the attempts of one request (the answer last) and returns the answer's text.
    fn record_attempts(&mut self, attempts: Vec<Completion>) -> String {
        let last = attempts.len().saturating_sub(1);
        let mut text = String::new();
        for (i, completion) in attempts.into_iter().enumerate() {
            if i == last {
                self.record(
                    completion.usage,
                    completion.cached,
                    &completion.model,
                    &completion.finish_reason,
                );
                self.answer_chars += completion.text.trim().len();
                text = completion.text;
            } else {
                // An answer asked for again: its tokens were spent, it is not the answer.
                self.record(
                    completion.usage,
                    completion.cached,
                    &completion.model,
                    &FinishReason::Stop,
                );
            }
        }
        text
    }

    fn record(&mut self, usage: Usage, cached: bool, model: &str, finish: &FinishReason) {
        if cached {
            self.cached += 1;
        } else {
            self.requests += 1;
            self.usage += usage;
        }
        if self.model.is_none() && !model.is_empty() {
            self.model = Some(model.to_owned());
        }
        if *finish == FinishReason::Length {
            self.truncated += 1;
        }
    }
}

/// Removes entries whose commits an earlier entry already cites (the model told the same
/// change twice); returns how many.
fn fold_duplicates(sections: &mut Vec<Section>) -> usize {
    let mut cited: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut folded = 0;
    for section in sections.iter_mut() {
        section.entries.retain(|entry| {
            if entry.commits.iter().all(|id| cited.contains(id)) {
                folded += 1;
                return false;
            }
            cited.extend(entry.commits.iter().cloned());
            true
        });
    }
    sections.retain(|section| !section.entries.is_empty());
    folded
}

/// The instructions with the engine's rule about fenced data after them.
fn with_data_rule(mut instructions: String) -> String {
    if !instructions.is_empty() {
        instructions.push_str("\n\n");
    }
    instructions.push_str(DATA_RULE);
    instructions
}

/// A user message: its header, then the data between fence lines.
fn fenced(header: &str, data: &str) -> String {
    let (open, close) = fences(data);
    let mut user = String::with_capacity(header.len() + data.len() + 2 * open.len() + 8);
    user.push_str(header);
    user.push('\n');
    user.push_str(&open);
    user.push('\n');
    user.push_str(data);
    if !data.ends_with('\n') {
        user.push('\n');
    }
    user.push_str(&close);
    user.push('\n');
    user
}

/// What came back when an answer kept no entry, for the error that says so.
fn describe_unusable(run: &Run, verification: &Verification) -> String {
    if run.answer_chars == 0 {
        return "the answer was empty".to_owned();
    }
    match verification.dropped.first() {
        Some(first) => format!(
            "{} candidate entries were dropped (the first, \"{}\": {})",
            verification.dropped_entries,
            first.text.chars().take(80).collect::<String>(),
            first.reason
        ),
        None => "the answer had no bullet at all".to_owned(),
    }
}

/// Sections as Markdown with each entry's commits cited by short id, as a merge prompt shows
/// a partial changelog.
fn markdown_with_citations(sections: &[Section], index: &CommitIndex<'_>) -> String {
    let mut out = String::new();
    for section in sections {
        let _ = writeln!(out, "### {}", section.title);
        for entry in &section.entries {
            out.push_str("- ");
            if let Some(scope) = &entry.scope {
                let _ = write!(out, "**{scope}:** ");
            }
            out.push_str(&entry.text);
            out.push_str(" [");
            for (i, id) in entry.commits.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let short = match index.resolve(id) {
                    crate::verify::Resolution::Unique(p) => {
                        index.commit(p).commit.short_id.as_str()
                    }
                    _ => id.as_str(),
                };
                out.push_str(short);
            }
            out.push_str("]\n");
        }
    }
    out
}

/// Sections of several partial changelogs put together by title, in order of appearance.
fn concatenate(partials: Vec<Vec<Section>>) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for section in partials.into_iter().flatten() {
        match out.iter_mut().find(|s| s.title == section.title) {
            Some(existing) => existing.entries.extend(section.entries),
            None => out.push(section),
        }
    }
    out
}
