//! Releases written into changelog files that people edit: generated, edited by hand,
//! regenerated after the range changed.

use changelog_core::document::{Action, Outcome, prepend};
use changelog_core::source::git::GitSource;
use changelog_core::testing::TestRepo;
use changelog_core::{BuildOptions, Changelog, RangeQuery, build};
use git2::Oid;
use pretty_assertions::assert_eq;

/// The changelog of `range` (limited to `paths`), headed `version`.
fn changelog(repo: &TestRepo, range: &str, paths: &[&str], version: Option<&str>) -> Changelog {
    let history = GitSource::open(repo.path())
        .unwrap()
        .read(&RangeQuery {
            range: Some(range.to_owned()),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            ..RangeQuery::default()
        })
        .unwrap();
    build(
        history,
        &BuildOptions {
            version: version.map(str::to_owned),
            ..BuildOptions::default()
        },
    )
}

fn short(id: Oid) -> String {
    id.to_string()[..7].to_owned()
}

fn date(changelog: &Changelog) -> String {
    changelog.date.unwrap().to_string()
}

const HEADER: &str =
    "# Changelog\n\nAll notable changes to this project are documented in this file.\n";

#[test]
fn an_edited_release_keeps_its_edits_when_regenerated() {
    let mut repo = TestRepo::new();
    let first = repo.commit_files("feat: first steps", &[("core/first.rs", "1\n")]);
    repo.tag("v0.1.0");
    let parser = repo.commit_files("feat: add the parser", &[("core/parser.rs", "1\n")]);
    let empty = repo.commit_files("fix: handle empty input", &[("core/parser.rs", "2\n")]);
    let docs = repo.commit_files("docs: describe the parser", &[("docs/parser.md", "1\n")]);

    // A new file, then the next release above it.
    let v010 = changelog(&repo, "..v0.1.0", &[], None);
    let created = prepend("", std::slice::from_ref(&v010));
    let old_release = format!(
        "## v0.1.0 ({})\n\n### Features\n\n- first steps ({})\n",
        date(&v010),
        short(first)
    );
    assert_eq!(created.text, format!("{HEADER}\n{old_release}"));
    assert_eq!(created.releases[0].to_string(), "added v0.1.0");

    let v020 = changelog(&repo, "v0.1.0..HEAD", &[], Some("0.2.0"));
    let added = prepend(&created.text, std::slice::from_ref(&v020));
    let day = date(&v020);
    assert_eq!(
        added.text,
        format!(
            "{HEADER}\n## 0.2.0 ({day})\n\n### Features\n\n- add the parser ({})\n\n### Bug Fixes\n\n- handle empty input ({})\n\n### Documentation\n\n- describe the parser ({})\n\n{old_release}",
            short(parser),
            short(empty),
            short(docs)
        )
    );
    assert_eq!(
        added.releases,
        [Outcome {
            version: "0.2.0".to_owned(),
            action: Action::Added
        }]
    );

    // A person rewrites an entry and adds a line of their own.
    let edited = added
        .text
        .replace(
            &format!("- add the parser ({})", short(parser)),
            &format!(
                "- **parser:** a new parser, twice as fast ({})",
                short(parser)
            ),
        )
        .replace(
            &format!("- handle empty input ({})\n", short(empty)),
            &format!(
                "- handle empty input ({})\n- thanks to our testers\n",
                short(empty)
            ),
        );

    // One more commit, and the range now leaves the documentation out.
    let stream = repo.commit_files("feat: stream the output", &[("core/stream.rs", "1\n")]);
    let again = changelog(&repo, "v0.1.0..HEAD", &["core"], Some("0.2.0"));
    let day = date(&again);
    let merged = prepend(&edited, std::slice::from_ref(&again));
    assert_eq!(
        merged.text,
        format!(
            "{HEADER}\n## 0.2.0 ({day})\n\n### Features\n\n- **parser:** a new parser, twice as fast ({})\n- stream the output ({})\n\n### Bug Fixes\n\n- handle empty input ({})\n- thanks to our testers\n\n{old_release}",
            short(parser),
            short(stream),
            short(empty),
        )
    );
    assert_eq!(
        merged.releases,
        [Outcome {
            version: "0.2.0".to_owned(),
            action: Action::Replaced {
                previous: "0.2.0".to_owned(),
                kept_edited: 1,
                kept_added: 1,
                unchanged: false
            }
        }]
    );
    assert_eq!(
        merged.releases[0].to_string(),
        "replaced 0.2.0, kept 1 edited entry, kept 1 hand-written block"
    );

    // Nothing new: the file comes back byte for byte.
    let same = prepend(&merged.text, std::slice::from_ref(&again));
    assert_eq!(same.text, merged.text);
    assert_eq!(same.releases[0].to_string(), "0.2.0 unchanged");
}

#[test]
fn the_unreleased_section_becomes_the_release_with_its_edits() {
    let mut repo = TestRepo::new();
    repo.commit("feat: first steps");
    repo.tag("v0.1.0");
    let login = repo.commit("feat: log in");
    let unreleased = changelog(&repo, "v0.1.0..HEAD", &[], None);
    let file = prepend(
        "# Changelog\n\nIntroduction kept as it is.\n",
        std::slice::from_ref(&unreleased),
    );
    let day = date(&unreleased);
    assert_eq!(
        file.text,
        format!(
            "# Changelog\n\nIntroduction kept as it is.\n\n## Unreleased ({day})\n\n### Features\n\n- log in ({})\n",
            short(login)
        )
    );
    let edited = file.text.replace("- log in", "- sign in with a password");
    let logout = repo.commit("feat: log out");
    repo.tag("v0.2.0");
    let released = changelog(&repo, "v0.1.0..v0.2.0", &[], None);
    let result = prepend(&edited, std::slice::from_ref(&released));
    assert_eq!(
        result.text,
        format!(
            "# Changelog\n\nIntroduction kept as it is.\n\n## v0.2.0 ({})\n\n### Features\n\n- sign in with a password ({})\n- log out ({})\n",
            date(&released),
            short(login),
            short(logout)
        )
    );
    assert_eq!(
        result.releases[0].to_string(),
        "replaced Unreleased with v0.2.0, kept 1 edited entry"
    );
}

#[test]
fn several_releases_go_in_order_around_the_ones_the_file_has() {
    let mut repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("v0.1.0");
    repo.commit("feat: two");
    repo.tag("v0.2.0");
    repo.commit("feat: three");
    repo.tag("v0.3.0");
    let releases: Vec<Changelog> = ["v0.3.0", "v0.2.0", "..v0.1.0"]
        .iter()
        .map(|range| changelog(&repo, range, &[], None))
        .collect();
    // A keep-a-changelog file with only the first release and its link definitions.
    let file = "# Changelog\n\n## [0.1.0] - 2024-01-01\n\n### Added\n\n- One, as a person wrote it.\n\n[0.1.0]: https://example.com/v0.1.0\n";
    let result = prepend(file, &releases);
    let versions: Vec<String> = changelog_core::document::release_headings(&result.text)
        .into_iter()
        .map(|h| h.version)
        .collect();
    assert_eq!(versions, ["v0.3.0", "v0.2.0", "0.1.0"]);
    assert!(
        result.text.starts_with("# Changelog\n\n## v0.3.0 ("),
        "{}",
        result.text
    );
    assert!(
        result
            .text
            .ends_with("- One, as a person wrote it.\n\n[0.1.0]: https://example.com/v0.1.0\n"),
        "{}",
        result.text
    );
    let said: Vec<String> = result.releases.iter().map(ToString::to_string).collect();
    // The release written by hand cites no commit: nothing to match it with, so it stays.
    assert_eq!(
        said,
        [
            "added v0.3.0",
            "added v0.2.0",
            "kept v0.1.0 as it is (no entry of it cites a commit)"
        ]
    );
}

#[test]
fn crlf_files_get_crlf_sections_and_keep_every_other_byte() {
    let mut repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("v0.1.0");
    let two = repo.commit("fix: two");
    let release = changelog(&repo, "v0.1.0..HEAD", &[], Some("0.2.0"));
    let file = "# Changelog\r\n\r\nSee below.\r\n\r\n## 0.1.0\r\n\r\n- one  \r\n";
    let result = prepend(file, std::slice::from_ref(&release));
    assert_eq!(
        result.text,
        format!(
            "# Changelog\r\n\r\nSee below.\r\n\r\n## 0.2.0 ({})\r\n\r\n### Bug Fixes\r\n\r\n- two ({})\r\n\r\n## 0.1.0\r\n\r\n- one  \r\n",
            date(&release),
            short(two)
        )
    );
    let again = prepend(&result.text, std::slice::from_ref(&release));
    assert_eq!(again.text, result.text);
}
