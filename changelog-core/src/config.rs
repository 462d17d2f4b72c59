//! `changelog.toml`: a repository's own settings, read from its work-tree root (or a file named
//! on the command line). Flags given on the command line override it.
//!
//! Every key is optional; a file that sets none (or no file) gives the same changelog as the
//! defaults. An unknown key is an error that names the key, the file and the line; so is a
//! malformed file, a value of the wrong type, and a regular expression that does not compile.
//! [`TEMPLATE`] is the commented default that `changelog init` writes.
//!
//! | key | value | what it does |
//! |---|---|---|
//! | `style` | `conventional`, `keep-a-changelog`, `release-notes`, `technical`, `social` | layout and tone (`--style`) |
//! | `group_by` | `pr` or `commit` | one entry per pull request or per commit (`--group-by`) |
//! | `title` | string | the document's title (`--title`) |
//! | `show_hidden` | bool | show what the style hides in a last section (`--show-hidden`) |
//! | `words_only` | bool | classify commits by their messages alone (`--words-only`) |
//! | `template` | path | the LLM prompt template, relative to the file (`--template`) |
//! | `[tags] prefix` | string | prefix of the release tags (`--tag-prefix`) |
//! | `[tags] pattern` | string | glob or regular expression the release tags match |
//! | `[tags] skip` | regular expression | tags that are not releases |
//! | `[bump] zero_major` | `standard` or `cargo` | how a `0.x` version is bumped |
//! | `[bump] initial` | version (`0.1.0`) | the first version of a history with no release |
//! | `[bump] pre` | identifier (`rc`) | the pre-release a bump makes |
//! | `[[sections]]` | `title`, `kinds`, `patterns`, `breaking`, `hidden` | the sections, in order ([`SectionRule`]) |
//! | `[skip]` or `[[skip]]` | `subjects`, `authors` (regular expressions) | commits left out ([`SkipRules`]) |
//! | `[links]` | `commit` (`{id}`), `pull_request`, `issue` (`{number}`) | link templates ([`LinkTemplates`]) |
//!
//! `kinds` names kinds of change as the JSON does (`feature`, `fix`, `security`, `performance`,
//! `refactor`, `documentation`, `style`, `test`, `build`, `ci`, `chore`, `revert`,
//! `deprecation`, `removal`, `change`, `improvement`, `other`) or as Conventional Commits types
//! (`feat`, `perf`, `docs`, ...). The sections replace the style's own for the deterministic
//! changelog (`conventional`, `keep-a-changelog`); the first section that takes an entry gets it.
//!
//! ```
//! let config = changelog_core::config::Config::parse(
//!     r#"
//! style = "keep-a-changelog"
//! [[sections]]
//! title = "New"
//! kinds = ["feat"]
//! [skip]
//! authors = ['\[bot\]']
//! "#,
//!     std::path::Path::new("changelog.toml"),
//! )?;
//! assert_eq!(config.sections[0].title, "New");
//! # Ok::<(), changelog_core::Error>(())
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, IntoDeserializer as _};

use crate::build::{BuildOptions, GroupBy, Pattern, SectionRule, SkipRules};
use crate::changelog::Style;
use crate::commit::LinkTemplates;
use crate::error::{Error, Result};
use crate::parse::Kind;
use crate::version::{Version, ZeroMajor};

/// The name of the file looked for at a repository's root.
pub const FILE_NAME: &str = "changelog.toml";

/// The commented default `changelog init` writes: every key, commented out, so that the file
/// as written changes nothing.
pub const TEMPLATE: &str = include_str!("config/changelog.toml");

/// A loaded configuration. `None` and empty values leave the defaults (or the flags) in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Layout and tone.
    pub style: Option<Style>,
    /// One entry per pull request or per commit.
    pub group_by: Option<GroupBy>,
    /// The document's title.
    pub title: Option<String>,
    /// Show what the style (or a hidden section) hides.
    pub show_hidden: Option<bool>,
    /// Classify commits by their messages alone.
    pub words_only: Option<bool>,
    /// The LLM prompt template, resolved against the configuration file's directory.
    pub template: Option<PathBuf>,
    /// Release tags.
    pub tags: TagsConfig,
    /// Version bumps.
    pub bump: BumpConfig,
    /// Sections replacing the style's, in order; empty for the style's.
    pub sections: Vec<SectionRule>,
    /// Commits left out.
    pub skip: SkipRules,
    /// Link templates replacing the host's URL shapes.
    pub links: LinkTemplates,
}

/// `[tags]`: which tags are releases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsConfig {
    /// Prefix of the release tags (`tokio-`).
    pub prefix: Option<String>,
    /// A glob (`v[0-9]*`) or a regular expression the release tags match, as written (checked
    /// when loaded).
    #[serde(default, deserialize_with = "tags_pattern")]
    pub pattern: Option<String>,
    /// A regular expression (checked when loaded) naming tags that are not releases, as
    /// written.
    #[serde(default, deserialize_with = "tags_skip")]
    pub skip: Option<String>,
}

/// `[bump]`: how the next version is computed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BumpConfig {
    /// How a `0.x` version is bumped.
    pub zero_major: Option<ZeroMajor>,
    /// The first version of a history with no release (`0.1.0`).
    #[serde(default, deserialize_with = "bump_initial")]
    pub initial: Option<Version>,
    /// The pre-release identifier a bump makes (`rc` of `1.2.0-rc.1`).
    #[serde(default, deserialize_with = "bump_pre")]
    pub pre: Option<String>,
}

/// The file as written; converted into a [`Config`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    style: Option<Style>,
    group_by: Option<GroupBy>,
    title: Option<String>,
    show_hidden: Option<bool>,
    words_only: Option<bool>,
    template: Option<PathBuf>,
    #[serde(default)]
    tags: TagsConfig,
    #[serde(default)]
    bump: BumpConfig,
    #[serde(default)]
    sections: Vec<SectionFile>,
    #[serde(default, deserialize_with = "skip_tables")]
    skip: Vec<SkipFile>,
    #[serde(default)]
    links: LinksFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionFile {
    title: String,
    #[serde(default, deserialize_with = "kinds")]
    kinds: Vec<Kind>,
    #[serde(default, deserialize_with = "section_patterns")]
    patterns: Vec<Pattern>,
    #[serde(default)]
    breaking: bool,
    #[serde(default)]
    hidden: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SkipFile {
    #[serde(default, deserialize_with = "skip_subjects")]
    subjects: Vec<Pattern>,
    #[serde(default, deserialize_with = "skip_authors")]
    authors: Vec<Pattern>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinksFile {
    #[serde(default, deserialize_with = "link_commit")]
    commit: Option<String>,
    #[serde(default, deserialize_with = "link_pull_request")]
    pull_request: Option<String>,
    #[serde(default, deserialize_with = "link_issue")]
    issue: Option<String>,
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.to_owned(),
            line: None,
            message: format!("cannot read it: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Reads `changelog.toml` at a repository's root, if there is one.
    pub fn find(repo_root: &Path) -> Result<Option<(PathBuf, Self)>> {
        let path = repo_root.join(FILE_NAME);
        if !path.is_file() {
            return Ok(None);
        }
        Self::load(&path).map(|config| Some((path, config)))
    }

    /// Sets what this configuration sets on build options: style, title, grouping,
    /// `show_hidden`, tag prefix, sections, skip rules and link templates. The file's values
    /// replace the options' (a front end whose flags win applies the file first).
    pub fn apply(&self, options: &mut BuildOptions) {
        if let Some(style) = self.style {
            options.style = style;
        }
        if let Some(title) = &self.title {
            options.title = Some(title.clone());
        }
        if let Some(group_by) = self.group_by {
            options.group_by = group_by;
        }
        if let Some(show_hidden) = self.show_hidden {
            options.show_hidden = show_hidden;
        }
        if let Some(prefix) = &self.tags.prefix {
            options.tag_prefix = Some(prefix.clone());
        }
        if !self.sections.is_empty() {
            options.sections.clone_from(&self.sections);
        }
        if !self.skip.is_empty() {
            options.skip.clone_from(&self.skip);
        }
        if !self.links.is_empty() {
            options.links.clone_from(&self.links);
        }
    }

    /// Reads a configuration from its text; `path` names the file in errors and is what a
    /// relative `template` is resolved against.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let file: File = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_owned(),
            line: e.span().map(|span| line_of(text, span.start)),
            message: e.message().trim_end().to_owned(),
        })?;
        let sections = file
            .sections
            .into_iter()
            .map(|s| SectionRule {
                title: s.title,
                kinds: s.kinds,
                patterns: s.patterns,
                breaking: s.breaking,
                hidden: s.hidden,
            })
            .collect::<Vec<_>>();
        if let Some(empty) = sections
            .iter()
            .position(|s| s.kinds.is_empty() && s.patterns.is_empty() && !s.breaking)
        {
            return Err(Error::Config {
                path: path.to_owned(),
                line: nth_table_line(text, "[[sections]]", empty),
                message: format!(
                    "section `{}` takes nothing: give it `kinds`, `patterns` or `breaking = true`",
                    sections[empty].title
                ),
            });
        }
        let mut skip = SkipRules::default();
        for table in file.skip {
            skip.subjects.extend(table.subjects);
            skip.authors.extend(table.authors);
        }
        let template = file.template.map(|t| match path.parent() {
            Some(dir) if t.is_relative() => dir.join(t),
            _ => t,
        });
        Ok(Self {
            style: file.style,
            group_by: file.group_by,
            title: file.title,
            show_hidden: file.show_hidden,
            words_only: file.words_only,
            template,
            tags: file.tags,
            bump: file.bump,
            sections,
            skip,
            links: LinkTemplates {
                commit: file.links.commit,
                pull_request: file.links.pull_request,
                issue: file.links.issue,
            },
        })
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line of the `n`th (0-based) table header `header`, when it is written that way.
fn nth_table_line(text: &str, header: &str, n: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.trim_start().starts_with(header))
        .nth(n)
        .map(|(i, _)| i + 1)
}

/// Regular expressions, compiled; a bad one is an error naming `key` (toml adds the line).
fn patterns<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Vec<Pattern>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|source| {
            Pattern::new(source).map_err(|e| {
                de::Error::custom(format!(
                    "`{key}`: invalid regular expression `{source}`: {}",
                    one_line(&e.to_string())
                ))
            })
        })
        .collect()
}

/// A regex error's text on one line (the `regex` crate draws a caret diagram over several).
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn section_patterns<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Pattern>, D::Error> {
    patterns(d, "sections.patterns")
}

fn skip_subjects<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Pattern>, D::Error> {
    patterns(d, "skip.subjects")
}

fn skip_authors<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Pattern>, D::Error> {
    patterns(d, "skip.authors")
}

fn tags_skip<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let source = String::deserialize(d)?;
    Pattern::new(&source).map_err(|e| {
        de::Error::custom(format!(
            "`tags.skip`: invalid regular expression `{source}`: {}",
            one_line(&e.to_string())
        ))
    })?;
    Ok(Some(source))
}

fn tags_pattern<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let source = String::deserialize(d)?;
    crate::version::TagRules::new(None, Some(&source), None)
        .map_err(|e| de::Error::custom(format!("`tags.pattern`: {}", one_line(&e.to_string()))))?;
    Ok(Some(source))
}

fn bump_initial<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Version>, D::Error> {
    let version = String::deserialize(d)?;
    Version::parse(&version).map(Some).ok_or_else(|| {
        de::Error::custom(format!(
            "`bump.initial`: `{version}` is not a version such as 0.1.0"
        ))
    })
}

fn is_pre_release(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn bump_pre<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let pre = String::deserialize(d)?;
    if pre.contains('.') || !is_pre_release(&pre) || pre.bytes().all(|b| b.is_ascii_digit()) {
        return Err(de::Error::custom(format!(
            "`bump.pre`: `{pre}` is not a pre-release identifier such as rc (letters, digits, `-`)"
        )));
    }
    Ok(Some(pre))
}

fn link<'de, D: Deserializer<'de>>(
    d: D,
    key: &str,
    placeholder: &str,
) -> Result<Option<String>, D::Error> {
    let template = String::deserialize(d)?;
    LinkTemplates::check_template(&template, placeholder)
        .map_err(|reason| de::Error::custom(format!("`{key}`: {reason}")))?;
    Ok(Some(template))
}

fn link_commit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    link(d, "links.commit", LinkTemplates::ID)
}

fn link_pull_request<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    link(d, "links.pull_request", LinkTemplates::NUMBER)
}

fn link_issue<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    link(d, "links.issue", LinkTemplates::NUMBER)
}

/// Kinds of change by their JSON names or their Conventional Commits types.
fn kinds<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Kind>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|name| {
            Kind::from_type(name)
                .or_else(|| {
                    let named: Result<Kind, de::value::Error> =
                        Kind::deserialize(name.as_str().into_deserializer());
                    named.ok()
                })
                .ok_or_else(|| {
                    de::Error::custom(format!(
                        "`sections.kinds`: unknown kind `{name}`: expected feat, fix, perf, \
                         refactor, docs, style, test, build, ci, chore, revert, security, \
                         deprecation, removal, improvement, change or other"
                    ))
                })
        })
        .collect()
}

/// `[skip]` (one table) or `[[skip]]` (several).
fn skip_tables<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SkipFile>, D::Error> {
    struct Tables;

    impl<'de> de::Visitor<'de> for Tables {
        type Value = Vec<SkipFile>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a [skip] table or [[skip]] tables")
        }

        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            SkipFile::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| vec![t])
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Vec::<SkipFile>::deserialize(de::value::SeqAccessDeserializer::new(seq))
        }
    }

    d.deserialize_any(Tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/repo/changelog.toml"))
    }

    /// The error of a file that must not load, as displayed, and its line.
    fn refused(text: &str) -> (String, Option<usize>) {
        match parse(text) {
            Err(error @ Error::Config { line, .. }) => {
                assert!(error.is_usage(), "{error}");
                (error.to_string(), line)
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn every_key_is_read() {
        let config = parse(
            r#"
style = "keep-a-changelog"
group_by = "commit"
title = "Release notes"
show_hidden = true
words_only = true
template = "prompts/notes.j2"

[tags]
prefix = "pkg-"
pattern = "pkg-[0-9]*"
skip = "-(alpha|beta)"

[bump]
zero_major = "cargo"
initial = "0.1.0"
pre = "rc"

[[sections]]
title = "Breaking"
breaking = true

[[sections]]
title = "New"
kinds = ["feat", "improvement"]

[[sections]]
title = "Security"
patterns = ["(?i)cve-"]

[[sections]]
title = "Chores"
kinds = ["chore", "ci"]
hidden = true

[skip]
subjects = ["^WIP"]
authors = ['\[bot\]']

[links]
commit = "https://git.example.com/c/{id}"
pull_request = "https://git.example.com/pr/{number}"
issue = "https://git.example.com/issues/{number}"
"#,
        )
        .unwrap();
        assert_eq!(config.style, Some(Style::KeepAChangelog));
        assert_eq!(config.group_by, Some(GroupBy::Commit));
        assert_eq!(config.title.as_deref(), Some("Release notes"));
        assert_eq!(config.show_hidden, Some(true));
        assert_eq!(config.words_only, Some(true));
        assert_eq!(
            config.template.as_deref(),
            Some(Path::new("/repo/prompts/notes.j2"))
        );
        assert_eq!(config.tags.prefix.as_deref(), Some("pkg-"));
        assert_eq!(config.tags.pattern.as_deref(), Some("pkg-[0-9]*"));
        assert_eq!(config.tags.skip.as_deref(), Some("-(alpha|beta)"));
        assert_eq!(config.bump.zero_major, Some(ZeroMajor::Cargo));
        assert_eq!(
            config.bump.initial.map(|v| v.to_string()).as_deref(),
            Some("0.1.0")
        );
        assert_eq!(config.bump.pre.as_deref(), Some("rc"));
        let titles: Vec<&str> = config.sections.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Breaking", "New", "Security", "Chores"]);
        assert!(config.sections[0].breaking);
        assert_eq!(config.sections[1].kinds, [Kind::Feature, Kind::Improvement]);
        assert!(config.sections[2].patterns[0].is_match("fix CVE-2024-1"));
        assert!(config.sections[3].hidden);
        assert_eq!(config.sections[3].kinds, [Kind::Chore, Kind::Ci]);
        assert!(config.skip.subjects[0].is_match("WIP: half"));
        assert!(config.skip.authors[0].is_match("dependabot[bot]"));
        assert!(!config.skip.authors[0].is_match("Ada"));
        assert_eq!(
            config.links.commit_url("abc").as_deref(),
            Some("https://git.example.com/c/abc")
        );
        assert_eq!(
            config.links.reference_url("#12", true).as_deref(),
            Some("https://git.example.com/pr/12")
        );
        assert_eq!(
            config.links.reference_url("#3", false).as_deref(),
            Some("https://git.example.com/issues/3")
        );
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
        assert_eq!(parse("# nothing set\n").unwrap(), Config::default());
    }

    #[test]
    fn the_template_loads_and_changes_nothing() {
        assert_eq!(parse(TEMPLATE).unwrap(), Config::default());
    }

    #[test]
    fn every_key_of_the_template_is_a_key() {
        // Settings are commented out as `#key = ...` and `#[table]`; explanations as `# ...`.
        let uncommented: String = TEMPLATE
            .lines()
            .map(|line| match line.strip_prefix('#') {
                Some(rest) if !rest.is_empty() && !rest.starts_with([' ', '#']) => rest,
                _ => line,
            })
            .flat_map(|line| [line, "\n"])
            .collect();
        let config = parse(&uncommented).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        assert!(config.style.is_some());
        assert!(config.group_by.is_some());
        assert!(config.title.is_some());
        assert!(config.show_hidden.is_some());
        assert!(config.words_only.is_some());
        assert!(config.template.is_some());
        assert!(config.tags.prefix.is_some() && config.tags.pattern.is_some());
        assert!(config.tags.skip.is_some());
        assert!(config.bump.zero_major.is_some() && config.bump.initial.is_some());
        assert!(config.bump.pre.is_some());
        assert!(!config.sections.is_empty());
        assert!(config.sections.iter().any(|s| s.hidden));
        assert!(config.sections.iter().any(|s| !s.patterns.is_empty()));
        assert!(!config.skip.subjects.is_empty() && !config.skip.authors.is_empty());
        assert!(!config.links.is_empty());
    }

    #[test]
    fn an_unknown_key_names_the_key_the_file_and_the_line() {
        let (message, line) = refused("style = \"conventional\"\ncolour = \"blue\"\n");
        assert_eq!(line, Some(2));
        assert!(message.contains("colour"), "{message}");
        assert!(message.contains("/repo/changelog.toml"), "{message}");
        assert!(message.contains("line 2"), "{message}");

        let (message, line) = refused("[tags]\nprefix = \"v\"\nprefx = \"v\"\n");
        assert_eq!(line, Some(3));
        assert!(message.contains("prefx"), "{message}");
        assert!(message.contains("/repo/changelog.toml"), "{message}");

        let (message, line) = refused(
            "[[sections]]\ntitle = \"A\"\nkinds = [\"feat\"]\n\n[[sections]]\ntitle = \"B\"\nkind = [\"fix\"]\n",
        );
        assert_eq!(line, Some(7));
        assert!(message.contains("`kind`"), "{message}");

        let (message, line) = refused("[skip]\nauthor = [\"bot\"]\n");
        assert_eq!(line, Some(2));
        assert!(message.contains("author"), "{message}");
    }

    #[test]
    fn a_malformed_file_names_the_line() {
        let (message, line) = refused("style = \"conventional\"\n\ntitle = \"unclosed\n");
        assert_eq!(line, Some(3));
        assert!(message.contains("line 3"), "{message}");
        let (_, line) = refused("[tags\nprefix = \"v\"\n");
        assert_eq!(line, Some(1));
    }

    #[test]
    fn a_wrong_value_names_its_line() {
        let (message, line) = refused("\nstyle = \"fancy\"\n");
        assert_eq!(line, Some(2));
        assert!(message.contains("fancy"), "{message}");
        let (message, line) = refused("group_by = \"day\"\n");
        assert_eq!(line, Some(1));
        assert!(message.contains("day"), "{message}");
        let (_, line) = refused("show_hidden = \"yes\"\n");
        assert_eq!(line, Some(1));
        let (message, _) =
            refused("[[sections]]\ntitle = \"A\"\nkinds = [\"feature\", \"misc\"]\n");
        assert!(message.contains("misc"), "{message}");
        assert!(message.contains("sections.kinds"), "{message}");
        let (message, _) = refused("[bump]\ninitial = \"one\"\n");
        assert!(message.contains("bump.initial"), "{message}");
        let (message, _) = refused("[bump]\npre = \"rc.1\"\n");
        assert!(message.contains("bump.pre"), "{message}");
        let (message, _) = refused("[bump]\nzero_major = \"semver\"\n");
        assert!(message.contains("semver"), "{message}");
    }

    #[test]
    fn a_bad_regular_expression_names_its_key() {
        let (message, line) = refused("[skip]\nsubjects = [\"ok\", \"(unclosed\"]\n");
        assert_eq!(line, Some(2));
        assert!(message.contains("skip.subjects"), "{message}");
        assert!(message.contains("(unclosed"), "{message}");
        assert!(!message.contains('\n'), "{message}");
        let (message, _) = refused("[[skip]]\nauthors = [\"[bot\"]\n");
        assert!(message.contains("skip.authors"), "{message}");
        let (message, _) = refused("[[sections]]\ntitle = \"A\"\npatterns = [\"*\"]\n");
        assert!(message.contains("sections.patterns"), "{message}");
        let (message, _) = refused("[tags]\nskip = \"a{\"\n");
        assert!(message.contains("tags.skip"), "{message}");
        let (message, line) = refused("\n[tags]\npattern = \"^v(1\"\n");
        assert_eq!(line, Some(3));
        assert!(message.contains("tags.pattern"), "{message}");
        let (message, _) = refused("[bump]\npre = \"1\"\n");
        assert!(message.contains("bump.pre"), "{message}");
    }

    #[test]
    fn skip_rules_add_up_over_tables() {
        let config =
            parse("[[skip]]\nauthors = [\"bot\"]\n[[skip]]\nsubjects = [\"^WIP\"]\n").unwrap();
        assert_eq!(config.skip.authors.len(), 1);
        assert_eq!(config.skip.subjects.len(), 1);
    }

    #[test]
    fn a_section_that_takes_nothing_is_refused() {
        let (message, line) = refused(
            "[[sections]]\ntitle = \"A\"\nkinds = [\"feat\"]\n[[sections]]\ntitle = \"Empty\"\n",
        );
        assert_eq!(line, Some(4));
        assert!(message.contains("Empty"), "{message}");
    }

    #[test]
    fn link_templates_are_checked() {
        let (message, line) = refused("[links]\ncommit = \"https://example.com/c/\"\n");
        assert_eq!(line, Some(2));
        assert!(message.contains("links.commit"), "{message}");
        assert!(message.contains("{id}"), "{message}");
        let (message, _) = refused("[links]\nissue = \"javascript:alert({number})\"\n");
        assert!(message.contains("links.issue"), "{message}");
        let (message, _) = refused("[links]\npull_request = \"https://x.test/pull/{id}\"\n");
        assert!(message.contains("{number}"), "{message}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let path = Path::new("/nowhere/at/all/changelog.toml");
        let error = Config::load(path).unwrap_err();
        assert!(error.is_usage());
        assert!(error.to_string().contains("/nowhere/at/all/changelog.toml"));
        assert!(
            Config::find(Path::new("/nowhere/at/all"))
                .unwrap()
                .is_none()
        );
    }
}
