//! Versions and release tags: which tags are releases, what version a tag names, and the next
//! version the commits since the latest release call for.
//!
//! # Release tags
//!
//! [`TagRules`] decide which tags are releases:
//!
//! | rule | a release tag is |
//! |---|---|
//! | none | a version, after an optional `v` (`1.2.0`, `v2.0.0-rc.1`) |
//! | `prefix` (`tokio-`, `@scope/pkg@`) | the prefix followed by a version (`tokio-1.52.0`, not `tokio-macros-2.7.1`) |
//! | `pattern` | a tag the pattern matches (and that starts with the prefix, when there is one) |
//! | `skip` | never a tag this regular expression matches: its commits go to the next release |
//!
//! A pattern is a glob matched against the whole tag name (`v*`, `v1.*`, `release-[0-9]*`;
//! `*` is any run of characters, `?` one character, `[...]` a class) unless it contains one of
//! `^ $ ( ) + | \`, which no glob needs: then it is a regular expression, which matches when
//! it is found anywhere in the name (as git-cliff's `tag_pattern` does; anchor it with
//! `^...$`).
//! Regular expressions here run in linear time whatever the pattern.
//!
//! # Next version
//!
//! [`next_version`] applies the rules of git-cliff and semantic-release: a breaking change
//! bumps the major version, a feature the minor one, any other change users notice (see
//! [`counts_for_release`]) the patch; documentation, tests, CI, build, style, chores and
//! refactors alone call for no release. Below 1.0.0 the same rules apply by default
//! ([`ZeroMajor::Standard`]: 0.3.0 and a breaking change make 1.0.0); [`ZeroMajor::Cargo`]
//! follows Cargo's reading of 0.x instead: a breaking change bumps the minor version, a
//! feature or a fix the patch (and in 0.0.x every change bumps the patch).
//!
//! With a pre-release identifier (`rc`), the next version is a pre-release: after `1.2.0`,
//! `1.3.0-rc.1`; after `1.3.0-rc.1`, `1.3.0-rc.2` (`1.3.0-beta.1` for `beta`). A pre-release
//! version is the release it leads to: without an identifier, the version after
//! `1.3.0-rc.2` is `1.3.0`. When the commits call for more than the pre-release's version
//! gives (`1.3.0-rc.1` then a breaking change), the version moves up from it (`2.0.0-rc.1`).
//! With no release tag at all, the next version is the initial one (0.1.0 unless given).

use std::cmp::Ordering;
use std::fmt;

use regex::Regex;

use crate::changelog::Style;
use crate::error::{Error, Result};
use crate::parse::ParsedCommit;

/// A semantic version (<https://semver.org>) as a release tag carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    /// The major version.
    pub major: u64,
    /// The minor version.
    pub minor: u64,
    /// The patch version.
    pub patch: u64,
    /// The pre-release identifiers (`rc`, `1` in `1.0.0-rc.1`); empty for a release.
    pub pre: Vec<String>,
    /// Build metadata (`+build.5`), kept but never compared.
    pub build: Option<String>,
}

impl Version {
    /// A release version.
    #[must_use]
    pub fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self {
            major,
            minor,
            patch,
            pre: Vec::new(),
            build: None,
        }
    }

    /// Reads `1.2.3`, `v1.2.3`, `1.2.3-rc.1+build`; a version with one or two numbers (`1.4`,
    /// `v2`) has zeros for the others. `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        let (text, build) = match text.split_once('+') {
            Some((rest, build)) if !build.is_empty() => (rest, Some(build.to_owned())),
            Some(_) => return None,
            None => (text, None),
        };
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (text, None),
        };
        let mut numbers = [0u64; 3];
        let mut parts = core.split('.');
        for (i, slot) in numbers.iter_mut().enumerate() {
            match parts.next() {
                Some(part) if is_number(part) => *slot = part.parse().ok()?,
                None if i > 0 => break,
                _ => return None,
            }
        }
        if parts.next().is_some() {
            return None;
        }
        let pre = match pre {
            None => Vec::new(),
            Some(pre) => {
                let ids: Vec<String> = pre.split('.').map(str::to_owned).collect();
                if ids.iter().any(|id| {
                    id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                }) {
                    return None;
                }
                ids
            }
        };
        Some(Self {
            major: numbers[0],
            minor: numbers[1],
            patch: numbers[2],
            pre,
            build,
        })
    }

    /// Whether this is a pre-release (`1.0.0-rc.1`).
    #[must_use]
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// The release this version is or leads to: without pre-release and build.
    #[must_use]
    pub fn release(&self) -> Self {
        Self::new(self.major, self.minor, self.patch)
    }

    /// This version bumped by `level` from its own numbers (pre-release and build dropped).
    #[must_use]
    pub fn bumped(&self, level: Level) -> Self {
        match level {
            Level::None => self.clone(),
            Level::Patch => Self::new(self.major, self.minor, self.patch + 1),
            Level::Minor => Self::new(self.major, self.minor + 1, 0),
            Level::Major => Self::new(self.major + 1, 0, 0),
        }
    }

    /// The smallest bump that leads to this release from the release before it: `1.0.0` is a
    /// major one, `1.2.0` a minor one, `1.2.3` a patch.
    fn implied_level(&self) -> Level {
        if self.patch > 0 {
            Level::Patch
        } else if self.minor > 0 {
            Level::Minor
        } else {
            Level::Major
        }
    }
}

fn is_number(part: &str) -> bool {
    !part.is_empty()
        && part.bytes().all(|b| b.is_ascii_digit())
        && (part == "0" || !part.starts_with('0'))
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre.join("."))?;
        }
        if let Some(build) = &self.build {
            write!(f, "+{build}")?;
        }
        Ok(())
    }
}

impl Ord for Version {
    /// Semantic versioning precedence: numbers, then a release after its pre-releases, then
    /// the pre-release identifiers one by one (numeric ones numerically and before
    /// alphanumeric ones); build metadata last, as a tie-break only.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_pre(&self.pre, &other.pre),
            })
            .then_with(|| self.build.cmp(&other.build))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn compare_pre(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// How much a version moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Not at all: nothing users notice changed.
    None,
    /// The patch version.
    Patch,
    /// The minor version.
    Minor,
    /// The major version.
    Major,
}

impl Level {
    /// `none`, `patch`, `minor` or `major`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Patch => "patch",
            Self::Minor => "minor",
            Self::Major => "major",
        }
    }
}

/// How versions below 1.0.0 move (`standard` or `cargo` in `changelog.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZeroMajor {
    /// As above 1.0.0: a breaking change makes 1.0.0 (git-cliff's and semantic-release's
    /// default).
    #[default]
    Standard,
    /// Cargo's reading: in 0.y.z a breaking change bumps y and a feature or fix bumps z; in
    /// 0.0.z every change bumps z.
    Cargo,
}

/// The rules [`next_version`] applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BumpRules {
    /// How versions below 1.0.0 move.
    pub zero_major: ZeroMajor,
    /// The version when no release tag exists yet.
    pub initial: Version,
    /// Make a pre-release with this identifier (`rc`, `beta`).
    pub pre: Option<String>,
}

impl Default for BumpRules {
    fn default() -> Self {
        Self {
            zero_major: ZeroMajor::Standard,
            initial: Version::new(0, 1, 0),
            pre: None,
        }
    }
}

impl BumpRules {
    /// Checks the pre-release identifier: letters, digits and `-`, not only digits.
    pub fn check(&self) -> Result<()> {
        if let Some(pre) = &self.pre
            && (pre.is_empty()
                || pre.bytes().all(|b| b.is_ascii_digit())
                || !pre.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(Error::InvalidRequest {
                field: "pre",
                reason: format!(
                    "`{pre}` is not a pre-release identifier: letters, digits and `-`, such as \
                     `rc`, `beta` or `alpha`"
                ),
            });
        }
        Ok(())
    }
}

/// Whether a commit calls for a release: users notice what it changes (what keep-a-changelog
/// shows: features, fixes, performance, security, deprecations, removals, reverts, other
/// changes, and anything breaking), and it is not noise (merges, fixups, release bumps).
#[must_use]
pub fn counts_for_release(commit: &ParsedCommit) -> bool {
    commit.noise.is_none()
        && Style::KeepAChangelog
            .section_of(commit.kind, commit.breaking)
            .is_some()
}

/// The bump the commits call for: major for a breaking change, minor for a feature, patch for
/// any other change that [`counts_for_release`], none otherwise.
#[must_use]
pub fn level_of(commits: &[ParsedCommit]) -> Level {
    commits
        .iter()
        .filter(|c| counts_for_release(c))
        .map(|c| {
            if c.breaking {
                Level::Major
            } else if c.kind == crate::parse::Kind::Feature {
                Level::Minor
            } else {
                Level::Patch
            }
        })
        .max()
        .unwrap_or(Level::None)
}

/// The version after `current` (the latest release's, `None` when there is none) for a change
/// of `level`; see the [module docs](self) for the rules. `current` itself when the level is
/// [`Level::None`].
#[must_use]
pub fn next_version(current: Option<&Version>, level: Level, rules: &BumpRules) -> Version {
    let Some(current) = current else {
        let mut initial = rules.initial.clone();
        if let Some(pre) = &rules.pre
            && initial.pre.is_empty()
        {
            initial.pre = vec![pre.clone(), "1".to_owned()];
        }
        return initial;
    };
    if level == Level::None {
        return current.clone();
    }
    let level = match (rules.zero_major, current.major, current.minor) {
        (ZeroMajor::Cargo, 0, 0) => Level::Patch,
        (ZeroMajor::Cargo, 0, _) => match level {
            Level::Major => Level::Minor,
            _ => Level::Patch,
        },
        _ => level,
    };
    // A pre-release leads to its release: it moves on from there only when the commits call
    // for more than that release already is.
    let release = if current.is_prerelease() && level <= current.implied_level() {
        current.release()
    } else {
        current.release().bumped(level)
    };
    match &rules.pre {
        None => release,
        Some(pre) => {
            let number = match current.pre.as_slice() {
                [id, n] if current.release() == release && id == pre => {
                    n.parse::<u64>().map_or(1, |n| n + 1)
                }
                [id] if current.release() == release && id == pre => 1,
                _ => 1,
            };
            Version {
                pre: vec![pre.clone(), number.to_string()],
                ..release
            }
        }
    }
}

/// Which tags are releases (see the [module docs](self)).
#[derive(Debug, Clone, Default)]
pub struct TagRules {
    prefix: Option<String>,
    pattern: Option<Regex>,
    skip: Option<Regex>,
}

impl TagRules {
    /// Rules from a tag prefix, a tag pattern (glob or regular expression) and a regular
    /// expression of tags to skip. A pattern that does not compile is an error naming it.
    pub fn new(prefix: Option<&str>, pattern: Option<&str>, skip: Option<&str>) -> Result<Self> {
        let compile = |field: &'static str, pattern: &str, regex: String| {
            regex::RegexBuilder::new(&regex)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| Error::InvalidRequest {
                    field,
                    reason: format!("`{pattern}` is not a valid pattern: {e}"),
                })
        };
        let pattern = match pattern.filter(|p| !p.is_empty()) {
            None => None,
            Some(p) if is_regex(p) => Some(compile("tag_pattern", p, p.to_owned())?),
            Some(p) => Some(compile("tag_pattern", p, glob_to_regex(p))?),
        };
        let skip = match skip.filter(|p| !p.is_empty()) {
            None => None,
            Some(p) => Some(compile("skip_tags", p, p.to_owned())?),
        };
        Ok(Self {
            prefix: prefix.filter(|p| !p.is_empty()).map(str::to_owned),
            pattern,
            skip,
        })
    }

    /// Whether any rule narrows the tags down (a prefix or a pattern).
    #[must_use]
    pub fn narrows(&self) -> bool {
        self.prefix.is_some() || self.pattern.is_some()
    }

    /// The tag prefix, if any.
    #[must_use]
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// Whether the rules leave a tag out whatever else is asked (`skip`).
    #[must_use]
    pub fn is_skipped(&self, tag: &str) -> bool {
        self.skip.as_ref().is_some_and(|r| r.is_match(tag))
    }

    /// Whether a tag is a release.
    #[must_use]
    pub fn is_release(&self, tag: &str) -> bool {
        if self.is_skipped(tag) {
            return false;
        }
        let Some(rest) = tag.strip_prefix(self.prefix.as_deref().unwrap_or_default()) else {
            return false;
        };
        match &self.pattern {
            Some(pattern) => pattern.is_match(tag),
            None => is_version(rest),
        }
    }

    /// What a release tag's heading shows: the tag without the prefix.
    #[must_use]
    pub fn version_of<'a>(&self, tag: &'a str) -> &'a str {
        self.prefix
            .as_deref()
            .and_then(|p| tag.strip_prefix(p))
            .unwrap_or(tag)
    }

    /// The version a release tag names and what comes before it (`tokio-`, `v`,
    /// `release-`): the tag without the prefix, or from its first digit when that part does
    /// not read as a version (`release-1.2.0`).
    #[must_use]
    pub fn parse_tag<'a>(&self, tag: &'a str) -> Option<(&'a str, Version)> {
        let rest = self.version_of(tag);
        let lead = tag.len() - rest.len();
        if let Some(version) = Version::parse(rest) {
            let v = usize::from(rest.starts_with(['v', 'V']));
            return Some((&tag[..lead + v], version));
        }
        let digit = rest.find(|c: char| c.is_ascii_digit())?;
        Version::parse(&rest[digit..]).map(|version| (&tag[..lead + digit], version))
    }
}

/// Whether a tag name, or what follows a tag prefix, looks like a version: a digit first,
/// after an optional `v` (`1.52.0`, `v2.0.0-rc.1`).
#[must_use]
pub fn is_version(name: &str) -> bool {
    name.strip_prefix(['v', 'V'])
        .unwrap_or(name)
        .starts_with(|c: char| c.is_ascii_digit())
}

fn is_regex(pattern: &str) -> bool {
    pattern.contains(['^', '$', '(', ')', '+', '|', '\\'])
}

/// A glob as an anchored regular expression: `*` any run, `?` one character, `[...]` a class
/// (`[!...]` negated); everything else literal.
fn glob_to_regex(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len() * 2 + 2);
    out.push('^');
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut class = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == ']' && !class.is_empty() && class != "!" {
                        closed = true;
                        break;
                    }
                    class.push(c);
                }
                if closed {
                    out.push('[');
                    let class = match class.strip_prefix('!') {
                        Some(rest) => {
                            out.push('^');
                            rest.to_owned()
                        }
                        None => class,
                    };
                    for c in class.chars() {
                        if matches!(c, '[' | '\\' | '&' | '~') {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push(']');
                } else {
                    out.push_str(&regex::escape(&format!("[{class}")));
                }
            }
            c => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|| panic!("`{text}` parses"))
    }

    #[test]
    fn versions_read_as_semver_reads_them() {
        assert_eq!(v("v1.2.3"), Version::new(1, 2, 3));
        assert_eq!(v("1.4"), Version::new(1, 4, 0));
        assert_eq!(v("V2"), Version::new(2, 0, 0));
        assert_eq!(v("1.0.0-rc.1+build.7").to_string(), "1.0.0-rc.1+build.7");
        for bad in [
            "",
            "v",
            "1.2.3.4",
            "01.2.3",
            "1..2",
            "1.2.3-",
            "1.2.3+",
            "1.2.x",
            "1.2.3-a..b",
        ] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn precedence_is_semver_precedence() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.9.0",
            "1.10.0",
            "2.0.0",
        ];
        for pair in order.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn bumps_above_and_below_one() {
        let standard = BumpRules::default();
        let cargo = BumpRules {
            zero_major: ZeroMajor::Cargo,
            ..BumpRules::default()
        };
        let table = [
            // (current, level, standard, cargo)
            ("1.2.3", Level::Major, "2.0.0", "2.0.0"),
            ("1.2.3", Level::Minor, "1.3.0", "1.3.0"),
            ("1.2.3", Level::Patch, "1.2.4", "1.2.4"),
            ("1.2.3", Level::None, "1.2.3", "1.2.3"),
            ("0.3.1", Level::Major, "1.0.0", "0.4.0"),
            ("0.3.1", Level::Minor, "0.4.0", "0.3.2"),
            ("0.3.1", Level::Patch, "0.3.2", "0.3.2"),
            ("0.3.1", Level::None, "0.3.1", "0.3.1"),
            ("0.0.4", Level::Major, "1.0.0", "0.0.5"),
            ("0.0.4", Level::Minor, "0.1.0", "0.0.5"),
            ("0.0.4", Level::Patch, "0.0.5", "0.0.5"),
        ];
        for (current, level, want_standard, want_cargo) in table {
            let current = v(current);
            assert_eq!(
                next_version(Some(&current), level, &standard).to_string(),
                want_standard,
                "{current} {level:?} standard"
            );
            assert_eq!(
                next_version(Some(&current), level, &cargo).to_string(),
                want_cargo,
                "{current} {level:?} cargo"
            );
        }
    }

    #[test]
    fn pre_releases_count_up_and_lead_to_their_release() {
        let rc = BumpRules {
            pre: Some("rc".to_owned()),
            ..BumpRules::default()
        };
        let beta = BumpRules {
            pre: Some("beta".to_owned()),
            ..BumpRules::default()
        };
        let release = BumpRules::default();
        let table = [
            ("1.2.0", Level::Minor, &rc, "1.3.0-rc.1"),
            ("1.3.0-rc.1", Level::Patch, &rc, "1.3.0-rc.2"),
            ("1.3.0-rc.1", Level::Minor, &rc, "1.3.0-rc.2"),
            ("1.3.0-rc.9", Level::Patch, &rc, "1.3.0-rc.10"),
            ("1.3.0-rc", Level::Patch, &rc, "1.3.0-rc.1"),
            ("1.3.0-rc.2", Level::Major, &rc, "2.0.0-rc.1"),
            ("1.3.0-alpha.4", Level::Patch, &beta, "1.3.0-beta.1"),
            ("1.3.0-rc.2", Level::Patch, &release, "1.3.0"),
            ("1.3.0-rc.2", Level::Major, &release, "2.0.0"),
            ("1.2.1-rc.1", Level::Minor, &release, "1.3.0"),
            ("2.0.0-rc.1", Level::Major, &release, "2.0.0"),
        ];
        for (current, level, rules, want) in table {
            assert_eq!(
                next_version(Some(&v(current)), level, rules).to_string(),
                want,
                "{current} {level:?} {:?}",
                rules.pre
            );
        }
    }

    #[test]
    fn the_first_release_is_the_initial_version() {
        assert_eq!(
            next_version(None, Level::Major, &BumpRules::default()).to_string(),
            "0.1.0"
        );
        let rules = BumpRules {
            initial: v("1.0.0"),
            pre: Some("rc".to_owned()),
            ..BumpRules::default()
        };
        assert_eq!(
            next_version(None, Level::Patch, &rules).to_string(),
            "1.0.0-rc.1"
        );
        assert!(
            BumpRules {
                pre: Some("1".to_owned()),
                ..BumpRules::default()
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn tag_rules_pick_releases() {
        let default = TagRules::default();
        assert!(default.is_release("v1.2.0"));
        assert!(default.is_release("1.2.0-rc.1"));
        assert!(!default.is_release("nightly"));

        let prefix = TagRules::new(Some("tokio-"), None, None).unwrap();
        assert!(prefix.is_release("tokio-1.52.0"));
        assert!(!prefix.is_release("tokio-macros-2.7.1"));
        assert_eq!(prefix.version_of("tokio-1.52.0"), "1.52.0");

        let glob = TagRules::new(None, Some("release-[0-9]*"), None).unwrap();
        assert!(glob.is_release("release-2024.05"));
        assert!(!glob.is_release("release-candidate"));
        assert!(!glob.is_release("xrelease-1"));

        let regex = TagRules::new(None, Some(r"^v\d+\.\d+\.\d+$"), Some("-rc")).unwrap();
        assert!(regex.is_release("v1.2.3"));
        assert!(!regex.is_release("v1.2.3-rc.1"));
        let skip = TagRules::new(None, None, Some("beta")).unwrap();
        assert!(!skip.is_release("v1.0.0-beta.1"));
        assert!(skip.is_release("v1.0.0"));

        // Globs mean the whole name: `v1.*` is the 1.x line, not any tag holding `v1`.
        let line = TagRules::new(None, Some("v1.*"), None).unwrap();
        assert!(line.is_release("v1.2.0"));
        assert!(!line.is_release("v10.0.0") && !line.is_release("pkg-v1.0"));
        let three = TagRules::new(None, Some("*.*.*"), None).unwrap();
        assert!(three.is_release("1.2.3") && !three.is_release("nightly"));

        let error = TagRules::new(None, Some("v(1"), None).unwrap_err();
        assert!(error.to_string().contains("v(1"), "{error}");
    }

    #[test]
    fn a_tag_names_its_version_and_the_prefix_to_keep() {
        let rules = TagRules::new(Some("tokio-"), None, None).unwrap();
        let (lead, version) = rules.parse_tag("tokio-1.52.0").unwrap();
        assert_eq!((lead, version.to_string().as_str()), ("tokio-", "1.52.0"));
        let (lead, _) = TagRules::default().parse_tag("v2.0.0").unwrap();
        assert_eq!(lead, "v");
        let (lead, version) = TagRules::default().parse_tag("release-1.2.0").unwrap();
        assert_eq!((lead, version), ("release-", Version::new(1, 2, 0)));
        assert_eq!(TagRules::default().parse_tag("nightly"), None);
    }
}
