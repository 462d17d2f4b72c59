//! Reading changelog files that exist already: ours, keep-a-changelog's, conventional-changelog's
//! and git-cliff's default, whose releases are level-2 headings.
//!
//! | heading | release |
//! |---|---|
//! | `## v1.2.0 (2024-05-01)`, `## 1.2.0` | `v1.2.0`, `1.2.0` |
//! | `## [1.2.0] - 2024-05-01`, `## [1.2.0](https://...) (2024-05-01)` | `1.2.0` |
//! | `## [Unreleased]`, `## Unreleased` | `Unreleased` |
//!
//! Headings inside fenced code blocks are text, not releases.

/// A release section of an existing changelog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseHeading {
    /// The release as the heading names it (`1.2.0`, `v1.2.0`, `Unreleased`).
    pub version: String,
    /// The heading's line, 0-based.
    pub line: usize,
}

/// The release headings of a changelog file, in the order they appear.
#[must_use]
pub fn release_headings(text: &str) -> Vec<ReleaseHeading> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    for (line, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        if let Some(marker) = fence {
            if trimmed.starts_with(marker) {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") {
            fence = Some("```");
            continue;
        }
        if trimmed.starts_with("~~~") {
            fence = Some("~~~");
            continue;
        }
        // A heading starts the line (up to three spaces of indentation, as CommonMark allows).
        if raw.len() - trimmed.len() > 3 {
            continue;
        }
        let Some(heading) = trimmed.strip_prefix("## ") else {
            continue;
        };
        if let Some(version) = release_of(heading.trim()) {
            out.push(ReleaseHeading { version, line });
        }
    }
    out
}

/// The release a level-2 heading's text names: its first word, out of its brackets or link.
fn release_of(heading: &str) -> Option<String> {
    let version = match heading.strip_prefix('[') {
        Some(rest) => &rest[..rest.find(']')?],
        None => heading.split_whitespace().next()?,
    };
    let version = version.trim();
    (!version.is_empty()).then(|| unescape(version))
}

/// Markdown's backslash escapes undone (`pkg\@1.2.0` is `pkg@1.2.0`), as the renderer writes
/// them.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&next) if c == '\\' && next.is_ascii_punctuation() => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// Whether two release names are the same release (`v1.2.0` and `1.2.0` are).
#[must_use]
pub fn same_release(a: &str, b: &str) -> bool {
    let bare = |v: &str| {
        v.strip_prefix(['v', 'V'])
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            .unwrap_or(v)
            .to_ascii_lowercase()
    };
    bare(a) == bare(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_heading_names_its_release() {
        let text = "# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2024-05-01\n### Added\n## [1.1.0](https://github.com/o/r/compare/v1.0.0...v1.1.0) (2024-04-01)\n## v1.0.0 (2024-03-01)\n   ## 0.9.0\n    ## not a heading (code)\n```md\n## 0.8.0 in a fence\n```\n~~~\n## 0.7.0 in a fence\n~~~\n## 0.1.0\n## pkg\\@1.0.0 (2024-01-01)\n";
        let found = release_headings(text);
        let versions: Vec<&str> = found.iter().map(|h| h.version.as_str()).collect();
        assert_eq!(
            versions,
            [
                "Unreleased",
                "1.2.0",
                "1.1.0",
                "v1.0.0",
                "0.9.0",
                "0.1.0",
                "pkg@1.0.0"
            ]
        );
        assert_eq!(found[1].line, 4);
    }

    #[test]
    fn a_leading_v_names_the_same_release() {
        assert!(same_release("v1.2.0", "1.2.0"));
        assert!(same_release("Unreleased", "unreleased"));
        assert!(!same_release("1.2.0", "1.2.1"));
        assert!(!same_release("very", "ery"));
    }
}
