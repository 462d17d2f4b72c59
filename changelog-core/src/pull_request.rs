//! Pull requests named by commit messages, in the merge styles of the common hosts and bots.
//!
//! | style | message | reference |
//! |---|---|---|
//! | GitHub merge | `Merge pull request #12 from owner/branch`, title on the first body line | `#12` |
//! | GitHub merge queue, squash | `Title (#12)` (merge or single commit) | `#12` |
//! | bors, homu | `Auto merge of #12 - user:branch, r=x`, `Rollup merge of #12 - ...`, title on the first body line | `#12` |
//! | bors-ng | `Merge #12 #13`, body lines `12: Title r=x a=y` | `#12`, `#13` |
//! | GitLab | body line `See merge request group/project!12`, title on the first body line | `!12` |
//! | Azure DevOps | `Merged PR 12: Title` (merge or squash) | `!12` |
//! | Phabricator | trailer `Differential Revision: https://host/D123` | `D123` |
//! | Gerrit | trailer `Reviewed-on: https://host/c/project/+/123`, else `Change-Id: I...` | `+123`, the `Change-Id` |
//!
//! Pure functions of the message: the git source attaches a merge's pull request to every
//! commit the merge brought in, the parser reads a single commit's own.

/// The pull requests a merge commit names, and the pull request's title when the message has
/// it (`None` for a batch of several).
#[must_use]
pub fn merged_pull_requests(summary: &str, body: &str) -> (Vec<String>, Option<String>) {
    let summary = summary.trim();
    let mut refs = Vec::new();
    let mut title = None;
    let first_body_line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .filter(|l| !l.starts_with("See merge request ") && !is_trailer_line(l));
    if let Some(rest) = summary.strip_prefix("Merge pull request #") {
        if let Some(number) = leading_number(rest) {
            refs.push(format!("#{number}"));
            title = first_body_line.map(str::to_owned);
        }
    } else if let Some(rest) = summary
        .strip_prefix("Auto merge of #")
        .or_else(|| summary.strip_prefix("Rollup merge of #"))
    {
        if let Some(number) = leading_number(rest) {
            refs.push(format!("#{number}"));
            title = first_body_line.map(str::to_owned);
        }
    } else if let Some(rest) = summary.strip_prefix("Merge #") {
        // bors-ng: `Merge #12 #13`, one body line `12: Title r=x a=y` per pull request.
        let rest = format!("#{rest}");
        for word in rest.split_whitespace() {
            match word.strip_prefix('#') {
                Some(number)
                    if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    refs.push(format!("#{number}"));
                }
                _ => break,
            }
        }
        if refs.len() == 1 {
            let number = &refs[0][1..];
            title = body.lines().find_map(|line| {
                let text = line.trim().strip_prefix(number)?.strip_prefix(": ")?;
                Some(strip_bors_approvals(text).to_owned())
            });
        }
    } else if let Some((number, rest)) = azure_title(summary) {
        refs.push(format!("!{number}"));
        title = Some(rest.to_owned());
    } else if let Some((text, reference)) = squash_reference(summary) {
        refs.push(reference.to_owned());
        title = Some(text.to_owned());
    }
    for line in body.lines() {
        if let Some(rest) = line.trim().strip_prefix("See merge request ")
            && let Some((_, number)) = rest.rsplit_once('!')
            && !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
        {
            refs.push(format!("!{number}"));
            if title.is_none() {
                title = first_body_line.map(str::to_owned);
            }
        }
    }
    if refs.len() != 1 {
        title = None;
    }
    (refs, title.filter(|t| !t.is_empty()))
}

/// A trailing `(#123)` (GitHub squash or merge queue) or `(!12)` (GitLab): the text before it
/// and the reference.
#[must_use]
pub fn squash_reference(text: &str) -> Option<(&str, &str)> {
    let trimmed = text.trim_end();
    let open = trimmed.rfind('(')?;
    if !trimmed.ends_with(')') {
        return None;
    }
    let inner = &trimmed[open + 1..trimmed.len() - 1];
    let short = inner.len() > 1
        && (inner.starts_with('#') || inner.starts_with('!'))
        && inner[1..].bytes().all(|b| b.is_ascii_digit());
    short.then(|| (trimmed[..open].trim_end(), inner))
}

/// Azure DevOps `Merged PR 12: Title`: the number and the title.
#[must_use]
pub fn azure_title(summary: &str) -> Option<(&str, &str)> {
    let rest = summary.strip_prefix("Merged PR ")?;
    let number = leading_number(rest)?;
    let title = rest[number.len()..].strip_prefix(':')?.trim();
    Some((number, title))
}

/// The review a Phabricator or Gerrit trailer of `body` names (`D123`, `+4567`, or the `Change-Id`).
#[must_use]
pub fn review_trailer(body: &str) -> Option<String> {
    // `Differential Revision` has a space, so it is no Conventional Commits footer: read lines,
    // in one pass (every commit's body is read here), keeping the last line of each key.
    let (mut differential, mut reviewed_on, mut change_id) = (None, None, None);
    for line in body.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let slot = if key.eq_ignore_ascii_case("Differential Revision") {
            &mut differential
        } else if key.eq_ignore_ascii_case("Reviewed-on") {
            &mut reviewed_on
        } else if key.eq_ignore_ascii_case("Change-Id") {
            &mut change_id
        } else {
            continue;
        };
        *slot = Some(value.trim());
    }
    if let Some(url) = differential {
        let last = url.rsplit('/').next().unwrap_or(url);
        if last.len() > 1 && last.starts_with('D') && last[1..].bytes().all(|b| b.is_ascii_digit())
        {
            return Some(last.to_owned());
        }
    }
    if let Some(url) = reviewed_on
        && let Some((_, number)) = url.trim_end_matches('/').rsplit_once("/+/")
        && let Some(number) = leading_number(number)
    {
        return Some(format!("+{number}"));
    }
    change_id
        .filter(|id| id.len() > 8 && id.starts_with('I'))
        .map(str::to_owned)
}

fn leading_number(text: &str) -> Option<&str> {
    let end = text
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    (end > 0).then(|| &text[..end])
}

/// `Title r=alice a=bob` -> `Title`.
fn strip_bors_approvals(text: &str) -> &str {
    let mut end = text.len();
    for word in text.split_whitespace().rev() {
        if word.starts_with("r=") || word.starts_with("a=") {
            end = text[..end].rfind(word).unwrap_or(end);
        } else {
            break;
        }
    }
    text[..end].trim_end()
}

/// `Key: value` with a key of letters, digits and dashes (`Signed-off-by:`).
fn is_trailer_line(line: &str) -> bool {
    line.split_once(": ").is_some_and(|(key, _)| {
        !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && key.contains('-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_styles() {
        for (summary, body, refs, title) in [
            (
                "Merge pull request #34 from a/b",
                "Add the thing",
                vec!["#34"],
                Some("Add the thing"),
            ),
            ("Merge pull request #34 from a/b", "", vec!["#34"], None),
            (
                "net: keep alive (#77)",
                "* one\n* two",
                vec!["#77"],
                Some("net: keep alive"),
            ),
            (
                "Auto merge of #9012 - ada:fix-x, r=grace",
                "Fix the parser on tabs\n\nMore words.",
                vec!["#9012"],
                Some("Fix the parser on tabs"),
            ),
            (
                "Rollup merge of #55 - ada:docs, r=grace",
                "docs: explain",
                vec!["#55"],
                Some("docs: explain"),
            ),
            (
                "Merge #12",
                "12: feat: shiny r=grace a=ada\n\nBody.\n\nCo-authored-by: X <x@y>",
                vec!["#12"],
                Some("feat: shiny"),
            ),
            (
                "Merge #12 #13",
                "12: one r=a\n13: two r=a",
                vec!["#12", "#13"],
                None,
            ),
            (
                "Merge branch 'topic' into 'main'",
                "Speed up the walk\n\nCloses #4\n\nSee merge request group/sub/project!21",
                vec!["!21"],
                Some("Speed up the walk"),
            ),
            (
                "Merge branch 'topic' into 'main'",
                "See merge request group/project!21",
                vec!["!21"],
                None,
            ),
            (
                "Merged PR 314: Add export to CSV",
                "",
                vec!["!314"],
                Some("Add export to CSV"),
            ),
            ("Merge branch 'main' into topic", "", vec![], None),
        ] {
            let (got_refs, got_title) = merged_pull_requests(summary, body);
            assert_eq!(got_refs, refs, "{summary}");
            assert_eq!(got_title.as_deref(), title, "{summary}");
        }
    }

    #[test]
    fn review_trailers() {
        let t = |key: &str, value: &str| format!("{key}: {value}");
        assert_eq!(
            review_trailer(&t(
                "Differential Revision",
                "https://reviews.llvm.org/D12345"
            ))
            .as_deref(),
            Some("D12345")
        );
        assert_eq!(
            review_trailer(
                &[
                    t("Change-Id", "I0123456789abcdef0123456789abcdef01234567"),
                    t(
                        "Reviewed-on",
                        "https://go-review.googlesource.com/c/go/+/56789"
                    ),
                ]
                .join("\n")
            )
            .as_deref(),
            Some("+56789")
        );
        assert_eq!(
            review_trailer(&t("Change-Id", "I0123456789abcdef")).as_deref(),
            Some("I0123456789abcdef")
        );
        assert_eq!(review_trailer(&t("Refs", "#1")), None);
        // The last line of a key counts, in any case, with CRLF line ends too; a trailer that
        // names no review does not hide an earlier key's.
        assert_eq!(
            review_trailer(
                "Text: with a colon\r\ndifferential revision: https://r.example/D1\r\n\
                 Differential Revision: https://r.example/D2\r\n"
            )
            .as_deref(),
            Some("D2")
        );
        assert_eq!(
            review_trailer(
                "Differential Revision: https://r.example/not-a-review\n\
                 Change-Id: I0123456789abcdef"
            )
            .as_deref(),
            Some("I0123456789abcdef")
        );
    }
}
