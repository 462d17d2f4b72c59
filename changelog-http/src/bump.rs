//! `changelog bump`: the next version, from the commits since the latest release.

use std::io::{self, Write as _};

use changelog_core::RangeQuery;
use changelog_core::request::{self, Request};
use changelog_core::source::git::RepoPolicy;
use changelog_core::version::Level;

use crate::cli::{BumpArgs, BumpFormatArg, CliError};

pub(crate) fn bump(args: &BumpArgs) -> Result<(), CliError> {
    // The file's `[tags]` and `[bump]` apply where no flag is given, as for `generate`.
    let config = crate::cli::config::load(&args.repo, &args.files)?.unwrap_or_default();
    let request = Request {
        repo_url: Some(args.repo.to_string_lossy().into_owned()),
        query: RangeQuery {
            paths: args.paths.clone(),
            words_only: args.words_only || config.words_only == Some(true),
            allow_shallow: args.allow_shallow,
            tag_prefix: args.tags.tag_prefix.clone().or(config.tags.prefix),
            tag_pattern: args.tags.tag_pattern.clone().or(config.tags.pattern),
            skip_tags: args.tags.skip_tags.clone().or(config.tags.skip),
            ..RangeQuery::default()
        },
        bump: args.next.rules(&config.bump),
        skip: config.skip,
        ..Request::default()
    };
    let runtime = crate::generate::runtime()?;
    let bump = runtime.block_on(request::bump(&request, &RepoPolicy::command_line()))?;
    if bump.level == Level::None {
        let why = if bump.commits == 0 {
            "no commit".to_owned()
        } else {
            format!(
                "nothing users notice ({} commits of documentation, tests, CI, build, style, \
                 chores or refactors)",
                bump.commits
            )
        };
        if let Some(latest) = &bump.latest {
            let _ = writeln!(
                io::stderr().lock(),
                "note: {why} since {latest}: the version stays {}",
                bump.tag
            );
        }
    }
    let text = match args.format {
        BumpFormatArg::Text => format!("{}\n", bump.tag),
        BumpFormatArg::Json => {
            let mut text = serde_json::to_string_pretty(&bump)
                .map_err(|e| CliError::Core(changelog_core::Error::Serialize(e)))?;
            text.push('\n');
            text
        }
    };
    crate::generate::write_stdout(text.as_bytes())
}
