//! Commit text written to attack whoever reads the changelog: terminal control sequences,
//! bidirectional overrides, HTML and Markdown. The history is cleaned of the controls, the
//! Markdown shows the rest as plain text, and the JSON keeps the (cleaned) text as written.

use changelog_core::render::{Format, markdown, render};
use changelog_core::testing::TestRepo;
use changelog_core::{BuildOptions, Style};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::{changelog, history};

/// Characters that must not survive anywhere (line breaks and tabs are checked separately).
fn forbidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.chars().any(forbidden),
        "{what} keeps a control character: {text:?}"
    );
}

/// Every string of a JSON document.
fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out);
        }),
        _ => {}
    }
}

/// A release whose commits, authors and tags carry control sequences and markup.
fn hostile_release() -> TestRepo {
    let mut repo = TestRepo::new();
    repo.commit("chore: initial commit");
    repo.tag("v1.0.0");
    repo.commit(
        "feat(ui\u{1b}[31m): link \u{1b}]8;;http://evil.example\u{7}here\u{1b}]8;;\u{7} and ring\u{7}",
    );
    repo.commit_as(
        "fix(\u{202e}txt.exe): reverse \u{202e}gnp.exe\u{202c} names\n\nBody \u{1b}[2J line\twith a tab.\n\nBREAKING CHANGE: drop \u{1b}]0;title\u{7} the \u{200f}override",
        "Eve\u{1b}[2J Mallory\u{85}",
        "eve\u{7}@example.com",
    );
    repo.commit("feat: <script>alert(1)</script> and <img src=x onerror=alert(2)>");
    repo.commit(
        "feat(<b>scope</b>): [click](javascript:alert(3)) ![pixel](http://tracker.example/p.png) <http://auto.example>",
    );
    repo.commit("fix: # not a heading");
    repo.commit("fix: - not a list");
    repo.commit("fix: 1. not a list either");
    repo.commit("fix: > not a quote");
    repo.commit("fix: **not bold** _not em_ ~~not struck~~ a | b | c");
    repo.commit("fix: bare http://bare.example and www.evil.example and a@b.example");
    repo.commit("fix: keep `code <b>spans</b> [x](y)` as code and a lone ` tick");
    repo.commit(
        "feat!: new api\n\nBREAKING CHANGE: see [docs](javascript:alert(4)) <script>x</script> # and *this*",
    );
    repo.commit("perf: &lt;script&gt; entities stay text");
    repo.tag("v2.0.0<img\u{202e}src=x>");
    repo
}

#[test]
fn controls_are_stripped_from_everything_read_out_of_git() {
    let repo = hostile_release();
    let read = history(repo.path(), None);
    assert_eq!(read.commits.len(), 13);
    for commit in &read.commits {
        assert_clean("a summary", &commit.summary);
        assert!(
            !commit.summary.contains(['\n', '\t']),
            "{:?}",
            commit.summary
        );
        assert_clean("a body", &commit.body);
        assert_clean("an author name", &commit.author.name);
        assert_clean("an author e-mail", &commit.author.email);
        assert_clean("a committer name", &commit.committer.name);
        for trailer in &commit.trailers {
            assert_clean("a trailer key", &trailer.key);
            assert_clean("a trailer value", &trailer.value);
        }
    }
    let eve = read
        .commits
        .iter()
        .find(|c| c.author.name.starts_with("Eve"))
        .expect("Eve's commit");
    assert_eq!(eve.author.name, "Eve[2J Mallory");
    assert_eq!(eve.author.email, "eve@example.com");
    assert_eq!(eve.summary, "fix(txt.exe): reverse gnp.exe names");
    // Line breaks and tabs of a body stay.
    assert!(
        eve.body.starts_with("Body [2J line\twith a tab.\n\n"),
        "{:?}",
        eve.body
    );
    let range = read.range.as_ref().expect("range");
    assert_eq!(range.to.tag.as_deref(), Some("v2.0.0<imgsrc=x>"));
    assert_clean("the range", &range.spec);

    let log = changelog(repo.path(), None, &BuildOptions::default());
    assert_eq!(log.version.as_deref(), Some("v2.0.0<imgsrc=x>"));
    let json = render(&log, Format::Json).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut all = Vec::new();
    strings(&value, &mut all);
    for text in &all {
        assert_clean("the JSON", text);
    }
    // The JSON keeps the text as written, markup included.
    assert!(
        all.iter()
            .any(|s| s == "<script>alert(1)</script> and <img src=x onerror=alert(2)>")
    );
    assert!(
        all.iter()
            .any(|s| s.contains("link ]8;;http://evil.examplehere]8;; and ring"))
    );
    for style in [Style::Conventional, Style::KeepAChangelog] {
        let text = markdown(&changelog(
            repo.path(),
            None,
            &BuildOptions {
                style,
                ..BuildOptions::default()
            },
        ));
        assert_clean("the Markdown", &text);
    }
}

/// What a Markdown document turns into, as a CommonMark + GFM reader sees it.
#[derive(Default, Debug)]
struct Reading {
    html: Vec<String>,
    links: Vec<String>,
    images: Vec<String>,
    emphasis: usize,
    strong: usize,
    strikethrough: usize,
    tables: usize,
    quotes: usize,
    headings: Vec<String>,
    lists: usize,
    code: Vec<String>,
    text: String,
}

fn read_markdown(markdown: &str) -> Reading {
    let mut reading = Reading::default();
    let mut heading: Option<String> = None;
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Html(html) | Event::InlineHtml(html) => reading.html.push(html.to_string()),
            Event::Start(Tag::Link { dest_url, .. }) => reading.links.push(dest_url.to_string()),
            Event::Start(Tag::Image { dest_url, .. }) => reading.images.push(dest_url.to_string()),
            Event::Start(Tag::Emphasis) => reading.emphasis += 1,
            Event::Start(Tag::Strong) => reading.strong += 1,
            Event::Start(Tag::Strikethrough) => reading.strikethrough += 1,
            Event::Start(Tag::Table(_)) => reading.tables += 1,
            Event::Start(Tag::BlockQuote(_)) => reading.quotes += 1,
            Event::Start(Tag::List(_)) => reading.lists += 1,
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                reading.headings.extend(heading.take());
                reading.text.push('\n');
            }
            Event::Code(code) => reading.code.push(code.to_string()),
            Event::Text(text) => {
                if let Some(heading) = &mut heading {
                    heading.push_str(&text);
                }
                reading.text.push_str(&text);
            }
            Event::End(TagEnd::Item | TagEnd::Paragraph) => reading.text.push('\n'),
            _ => {}
        }
    }
    reading
}

#[test]
fn markdown_shows_commit_text_as_plain_text() {
    let repo = hostile_release();
    repo.set_origin("https://github.com/acme/rocket.git");
    for style in [Style::Conventional, Style::KeepAChangelog] {
        let log = changelog(
            repo.path(),
            None,
            &BuildOptions {
                style,
                title: Some("Rocket <script>x</script> [a](javascript:y)".into()),
                ..BuildOptions::default()
            },
        );
        let text = markdown(&log);
        if style == Style::Conventional {
            insta::assert_snapshot!(text);
        }
        let reading = read_markdown(&text);
        assert!(
            reading.html.is_empty(),
            "HTML in:\n{text}\n{:?}",
            reading.html
        );
        assert!(reading.images.is_empty(), "an image in:\n{text}");
        // The only links are the renderer's own: commit pages (and reference pages).
        assert!(!reading.links.is_empty());
        for link in &reading.links {
            assert!(
                link.starts_with("https://github.com/acme/rocket/commit/")
                    || link.starts_with("https://github.com/acme/rocket/issues/"),
                "a link made of commit text: {link}\n{text}"
            );
        }
        assert_eq!(reading.emphasis, 0, "emphasis in:\n{text}");
        assert_eq!(reading.strikethrough, 0, "strikethrough in:\n{text}");
        assert_eq!(reading.tables, 0, "a table in:\n{text}");
        assert_eq!(reading.quotes, 0, "a quote in:\n{text}");
        // Bold is the renderer's: scopes, and the BREAKING mark of keep-a-changelog.
        let scopes = log.entries().filter(|e| e.scope.is_some()).count();
        let marks = if style == Style::KeepAChangelog {
            log.entries().filter(|e| e.breaking).count()
        } else {
            0
        };
        assert_eq!(reading.strong, scopes + marks, "bold in:\n{text}");
        // One list per section, plus the breaking notes' nested lists.
        let notes = log
            .entries()
            .filter(|e| !e.breaking_notes.is_empty())
            .count();
        assert_eq!(
            reading.lists,
            log.sections.len() + notes,
            "lists in:\n{text}"
        );
        // Headings: the title, the release, and one per section, with the text as written.
        let mut expected = vec![
            "Rocket <script>x</script> [a](javascript:y)".to_owned(),
            match (style, log.date) {
                (Style::KeepAChangelog, Some(date)) => format!("[v2.0.0<imgsrc=x>] - {date}"),
                (_, Some(date)) => format!("v2.0.0<imgsrc=x> ({date})"),
                (_, None) => panic!("the release has a date"),
            },
        ];
        expected.extend(log.sections.iter().map(|s| {
            if s.title == "Breaking Changes" {
                format!("⚠ {}", s.title)
            } else {
                s.title.clone()
            }
        }));
        assert_eq!(reading.headings, expected, "{text}");
        // The text reads as the commits wrote it.
        for shown in [
            "<script>alert(1)</script> and <img src=x onerror=alert(2)>",
            "[click](javascript:alert(3)) ![pixel](http://tracker.example/p.png) <http://auto.example>",
            "# not a heading",
            "- not a list",
            "1. not a list either",
            "> not a quote",
            "**not bold** _not em_ ~~not struck~~ a | b | c",
            "&lt;script&gt; entities stay text",
            "see [docs](javascript:alert(4)) <script>x</script> # and *this*",
        ] {
            assert!(
                reading.text.contains(shown),
                "{shown:?} not shown as written in:\n{text}\n{}",
                reading.text
            );
        }
        // A balanced code span stays code; the lone backtick is text.
        assert_eq!(reading.code, ["code <b>spans</b> [x](y)"], "{text}");
        assert!(reading.text.contains("as code and a lone ` tick"), "{text}");
        // GitHub links bare URLs, `www.` names and e-mail addresses: their triggers are broken.
        for trigger in ["http://bare", "www.evil", "a@b"] {
            assert!(!text.contains(trigger), "{trigger} left live in:\n{text}");
        }
    }
}

#[test]
fn remote_urls_cannot_break_out_of_a_link() {
    let mut repo = TestRepo::new();
    repo.commit("feat: one");
    repo.set_origin("https://github.com/acme/x) [evil](javascript:alert(1)");
    let text = markdown(&changelog(repo.path(), None, &BuildOptions::default()));
    let reading = read_markdown(&text);
    // An origin whose path is not a plain owner/name is no web location: no link is made.
    assert!(reading.links.is_empty(), "{text}");
    assert!(!text.contains("](javascript"), "{text}");
}
