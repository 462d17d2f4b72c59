//! `changelog generate`: the deterministic path, or the LLM path when a provider is named.

use std::io::{self, IsTerminal as _, Write as _};
use std::path::Path;
use std::sync::Mutex;

use changelog_core::build::GroupBy;
use changelog_core::file::{Written, write_atomically};
use changelog_core::pipeline::{Estimate, Observer};
use changelog_core::request::{self, Request};
use changelog_core::source::git::RepoPolicy;
use changelog_core::{Changelog, Format, RangeQuery, Style};

use crate::cli::{
    CliError, FormatArg, GenerateArgs, GroupByArg, OnEmptyArg, ProviderArg, StyleArg,
};

pub(crate) fn generate(args: &GenerateArgs) -> Result<(), CliError> {
    let llm = &args.llm;
    if llm.provider == ProviderArg::None && llm.stream {
        return Err(CliError::Usage("--stream needs --provider".to_owned()));
    }
    if args.prepend.is_some() && (args.format == FormatArg::Json || llm.estimate) {
        return Err(CliError::Usage(
            "--prepend writes Markdown into a changelog file: it takes neither --format json \
             nor --estimate"
                .to_owned(),
        ));
    }
    if llm.estimate && args.release_selection().is_some() {
        return Err(CliError::Usage(
            "--estimate prices one range: give --range instead of --releases, --latest or \
             --unreleased"
                .to_owned(),
        ));
    }
    // The file's settings apply where no flag is given.
    let config = crate::cli::config::load(&args.repo, &args.files)?.unwrap_or_default();
    let uses_model = llm.provider != ProviderArg::None;
    let template_path = llm
        .template
        .clone()
        .or_else(|| config.template.clone().filter(|_| uses_model));
    let template = match &template_path {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|source| CliError::Input {
                path: path.clone(),
                source,
            })?,
        ),
        None => None,
    };
    let tag_prefix = args.tags.tag_prefix.clone().or(config.tags.prefix);
    let request = Request {
        repo_url: Some(args.repo.to_string_lossy().into_owned()),
        query: RangeQuery {
            range: args.range.clone(),
            since: args.since,
            until: args.until,
            paths: args.paths.clone(),
            words_only: args.words_only || config.words_only == Some(true),
            allow_shallow: args.allow_shallow,
            tag_prefix: tag_prefix.clone(),
            tag_pattern: args
                .tags
                .tag_pattern
                .clone()
                .or(config.tags.pattern.clone()),
            skip_tags: args.tags.skip_tags.clone().or(config.tags.skip.clone()),
        },
        version: args.version.clone(),
        title: args.title.clone().or(config.title),
        model: llm.model.clone(),
        temperature: llm.temperature,
        style: args
            .style
            .map(core_style)
            .or(config.style)
            .unwrap_or_default(),
        provider: crate::providers::config(llm),
        max_input_tokens: llm.max_input_tokens,
        max_output_tokens: llm.max_output_tokens,
        concurrency: Some(usize::from(llm.concurrency)),
        repair: llm.repair,
        template,
        on_empty: match llm.on_empty {
            OnEmptyArg::Error => request::OnEmpty::Error,
            OnEmptyArg::Deterministic => request::OnEmpty::Deterministic,
        },
        group_by: match args.group_by {
            Some(GroupByArg::Pr) => GroupBy::PullRequest,
            Some(GroupByArg::Commit) => GroupBy::Commit,
            None => config.group_by.unwrap_or_default(),
        },
        show_hidden: args.show_hidden || config.show_hidden == Some(true),
        bump: args.next.rules(&config.bump),
        sections: config.sections,
        skip: config.skip,
        links: config.links,
        ..Request::default()
    };
    let format = match args.format {
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Json => Format::Json,
    };

    let runtime = runtime()?;
    // The user's own `--repo`: any local path, looked up upward as git does; a URL is cloned
    // under the same rules as everywhere else (HTTPS, public hosts, bounded in time and size).
    let policy = RepoPolicy::command_line();
    if llm.estimate {
        let estimate = runtime.block_on(request::estimate(&request, &policy))?;
        return print_estimate(&estimate, format);
    }
    if let Some(selection) = args.release_selection() {
        let observer = Terminal::new(llm.stream);
        let changelogs: Vec<Changelog> = runtime
            .block_on(request::generate_releases(
                &request, &policy, selection, &observer,
            ))?
            .into_iter()
            .map(|generated| generated.changelog)
            .collect();
        observer.finish();
        if changelogs.is_empty() {
            let _ = writeln!(
                io::stderr().lock(),
                "note: no release tag (a version such as v1.2.0{}) is reachable from HEAD; --unreleased writes the commits",
                tag_prefix
                    .as_deref()
                    .map(|p| format!(" after `{p}`"))
                    .unwrap_or_default()
            );
        }
        if let Some(path) = &args.prepend {
            return prepend_to(path, &changelogs, args.force);
        }
        let versions: Vec<&str> = changelogs
            .iter()
            .map(|c| c.version.as_deref().unwrap_or("Unreleased"))
            .collect();
        let written = write_to(args, &versions, |out| {
            changelog_core::render::write_releases(&changelogs, format, out)
        });
        drop(versions);
        // As below: the process ends next.
        std::mem::forget(changelogs);
        return written;
    }
    let observer = Terminal::new(llm.stream);
    let generated = runtime.block_on(request::generate(&request, &policy, &observer))?;
    observer.finish();
    let changelog = generated.changelog;
    if let (Some(answered), Some(stack)) = (&changelog.model, &request.provider) {
        let asked = request.model();
        if !answered.starts_with(&asked)
            && let Some(fallback) = stack
                .fallback_models
                .iter()
                .find(|m| answered.starts_with(m.as_str()))
        {
            let _ = writeln!(
                io::stderr().lock(),
                "note: fallback model `{fallback}` answered (`{asked}` failed)"
            );
        }
    }
    if let Some(commit) = changelog
        .range
        .as_ref()
        .and_then(|r| r.truncated_at.as_ref())
    {
        let _ = writeln!(
            io::stderr().lock(),
            "warning: this clone is shallow and its history stops inside the range, at commit {commit}: the changelog leaves out the commits before it (`git fetch --unshallow` fetches them)"
        );
    }
    if changelog.model.is_none() && request.provider.is_some() {
        let _ = writeln!(
            io::stderr().lock(),
            "note: the model's answer kept no entry; wrote the changelog without a model (--on-empty deterministic)"
        );
    }
    if let Some(usage) = &changelog.usage
        && usage.truncated_answers > 0
    {
        let _ = writeln!(
            io::stderr().lock(),
            "warning: {} answers of {} were cut at the output limit (finish_reason: length), so entries may be missing; they were not cached: raise --max-output-tokens or lower --max-input-tokens",
            usage.truncated_answers,
            changelog.model.as_deref().unwrap_or("the model"),
        );
    }
    if let Some(verification) = &changelog.verification
        && verification.dropped_entries > 0
    {
        let _ = writeln!(
            io::stderr().lock(),
            "note: {} entries of the answer were dropped (no valid citation); coverage {:.0}%",
            verification.dropped_entries,
            verification.coverage * 100.0
        );
    }
    // The streamed tokens were the model's raw answer, shown live on standard error; what is
    // printed or written is the verified document, in the requested format.
    let written = write_output(args, &changelog, format);
    // The process ends next: freeing the document's many small allocations one by one would
    // only delay the exit.
    std::mem::forget(changelog);
    written
}

/// The runtime a command runs the core's futures on, with libgit2 tuned for one pass over a
/// history.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    changelog_core::source::git::tune_for_one_pass();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

fn core_style(style: StyleArg) -> Style {
    match style {
        StyleArg::Conventional => Style::Conventional,
        StyleArg::KeepAChangelog => Style::KeepAChangelog,
        StyleArg::ReleaseNotes => Style::ReleaseNotes,
        StyleArg::Technical => Style::Technical,
        StyleArg::Social => Style::Social,
    }
}

fn print_estimate(estimate: &Estimate, format: Format) -> Result<(), CliError> {
    if estimate.cost_usd.is_none() {
        let _ = writeln!(
            io::stderr().lock(),
            "note: no price is known for model `{}`: cost_usd is null, not 0",
            estimate.model
        );
    }
    let text = match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(estimate)
                .map_err(|e| CliError::Core(changelog_core::Error::Serialize(e)))?;
            text.push('\n');
            text
        }
        Format::Markdown => format!(
            "model: {}\nrequests: {} ({} chunks, {} merge rounds)\ninput_tokens: {}\nmax_output_tokens: {}\ncost_usd: {}\nbudget per request: {} input tokens, {} output tokens\n",
            estimate.model,
            estimate.requests,
            estimate.chunks,
            estimate.merge_rounds,
            estimate.input_tokens,
            estimate.max_output_tokens,
            estimate.cost_usd.map_or_else(
                || "unknown price (the model is not in the price table)".to_owned(),
                |cost| format!("{cost:.4} (at most)")
            ),
            estimate.budget.max_input_tokens,
            estimate.budget.max_output_tokens,
        ),
    };
    write_stdout(text.as_bytes())
}

fn write_output(
    args: &GenerateArgs,
    changelog: &Changelog,
    format: Format,
) -> Result<(), CliError> {
    if let Some(path) = &args.prepend {
        return prepend_to(path, std::slice::from_ref(changelog), args.force);
    }
    let version = changelog.version.as_deref().unwrap_or("Unreleased");
    write_to(args, &[version], |out| {
        changelog_core::render::write(changelog, format, out)
    })
}

/// Writes to --output (atomically, refusing a file of other releases than `versions` unless
/// --force) or to standard output.
fn write_to(
    args: &GenerateArgs,
    versions: &[&str],
    render: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
) -> Result<(), CliError> {
    match &args.output {
        Some(path) => {
            if !args.force {
                refuse_other_releases(path, versions)?;
            }
            let written =
                write_atomically(path, args.force, |file| render(file)).map_err(|source| {
                    CliError::Output {
                        path: path.clone(),
                        source,
                    }
                })?;
            if let Written::ThroughLink(target) = written {
                let _ = writeln!(
                    io::stderr().lock(),
                    "note: `{}` is a symbolic link; wrote the file it points to, `{}`",
                    path.display(),
                    target.display()
                );
            }
            Ok(())
        }
        None => {
            let mut stdout = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            match render(&mut stdout) {
                // A closed pipe (`changelog generate | head`) is not a failure of ours.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                result => result.map_err(|source| CliError::Output {
                    path: "<stdout>".into(),
                    source,
                }),
            }
        }
    }
}

/// Writes releases into the changelog file at `path` (created when missing), atomically, and
/// says on standard error what happened to each. A file that comes out the same is not
/// written.
fn prepend_to(path: &Path, changelogs: &[Changelog], force: bool) -> Result<(), CliError> {
    if changelogs.is_empty() {
        return Ok(());
    }
    let done = changelog_core::document::prepend_file(path, changelogs, force)?;
    if let Some(Written::ThroughLink(target)) = &done.written {
        let _ = writeln!(
            io::stderr().lock(),
            "note: `{}` is a symbolic link; wrote the file it points to, `{}`",
            path.display(),
            target.display()
        );
    }
    let said: Vec<String> = done.releases.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        io::stderr().lock(),
        "{}: {}",
        path.display(),
        said.join("; ")
    );
    Ok(())
}

/// Refuses to replace a changelog file that holds releases other than the one being written:
/// `--output CHANGELOG.md` would otherwise swap a project's whole history for one release.
fn refuse_other_releases(path: &Path, ours: &[&str]) -> Result<(), CliError> {
    // Only a regular file can hold a history; one too large to be a changelog is not read.
    let Ok(metadata) = std::fs::metadata(path) else {
        return Ok(());
    };
    if !metadata.is_file() || metadata.len() > 64 << 20 {
        return Ok(());
    }
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(source) => {
            return Err(CliError::Input {
                path: path.to_owned(),
                source,
            });
        }
    };
    let others: Vec<String> = changelog_core::document::release_headings(&text)
        .into_iter()
        .map(|h| h.version)
        .filter(|v| {
            !ours
                .iter()
                .any(|o| changelog_core::document::same_release(v, o))
        })
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    let shown = if others.len() > 5 {
        format!("{}, ...", others[..5].join(", "))
    } else {
        others.join(", ")
    };
    Err(CliError::Output {
        path: path.to_owned(),
        source: io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "it holds {} other release{} ({shown}), which writing would replace; pass \
                 --prepend instead of --output to add this release to it, or --force to \
                 replace the file anyway",
                others.len(),
                if others.len() == 1 { "" } else { "s" },
            ),
        ),
    })
}

pub(crate) fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    match io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(CliError::Output {
            path: "<stdout>".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Streams the model's raw answer live to standard error (the verified document alone goes to
/// standard output or `--output`) and draws map-reduce progress on standard error.
struct Terminal {
    stream: bool,
    state: Mutex<TerminalState>,
}

#[derive(Default)]
struct TerminalState {
    streamed: bool,
    drew_progress: bool,
}

impl Terminal {
    fn new(stream: bool) -> Self {
        Self {
            stream,
            state: Mutex::new(TerminalState::default()),
        }
    }

    fn finish(&self) {
        if let Ok(state) = self.state.lock() {
            if state.drew_progress {
                let _ = writeln!(io::stderr().lock());
            }
            if state.streamed {
                // The raw answer ends apart from what follows it.
                let _ = writeln!(io::stderr().lock());
            }
        }
    }
}

impl Observer for Terminal {
    fn on_delta(&self, text: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.streamed = true;
        }
        let mut out = io::stderr().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    fn on_progress(&self, done: usize, total: usize) {
        if total < 2 || !io::stderr().is_terminal() {
            return;
        }
        const WIDTH: usize = 30;
        let filled = (done * WIDTH).checked_div(total).unwrap_or(0).min(WIDTH);
        let _ = write!(
            io::stderr().lock(),
            "\r[{}{}] {done}/{total} requests",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled)
        );
        if let Ok(mut state) = self.state.lock() {
            state.drew_progress = true;
        }
    }

    fn wants_stream(&self) -> bool {
        self.stream
    }
}
