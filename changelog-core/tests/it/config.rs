//! `changelog.toml` on real repositories: custom sections, skip rules and link templates.

use changelog_core::render::markdown;
use changelog_core::testing::TestRepo;
use changelog_core::{BuildOptions, Changelog, Config, Style};
use pretty_assertions::assert_eq;

use crate::changelog;

const RULES: &str = r#"
[[sections]]
title = "Breaking"
breaking = true

[[sections]]
title = "Interface"
patterns = ['^(feat|fix)\(ui\)']

[[sections]]
title = "Fixed"
kinds = ["fix"]

[[sections]]
title = "Internal work"
kinds = ["docs", "refactor"]
hidden = true

[[sections]]
title = "Added"
kinds = ["feat"]

[skip]
subjects = ['^WIP\b']
authors = ['\[bot\]']
"#;

/// A range with a breaking change, a UI feature, fixes, features, internal work, a work in
/// progress and a bot's commit.
fn repo_with(config: &str) -> TestRepo {
    let mut repo = TestRepo::new();
    repo.commit("chore: initial commit");
    repo.tag("v1.0.0");
    repo.commit("feat(api): paginate listings (#12)");
    repo.commit("feat(ui): dark mode");
    repo.commit("fix: no crash on empty input\n\nFixes #7");
    repo.commit_as(
        "chore(deps): bump serde from 1.0.1 to 1.0.2",
        "dependabot[bot]",
        "49699333+dependabot[bot]@users.noreply.github.com",
    );
    repo.commit("docs: explain the flags");
    repo.commit("WIP: half a feature");
    repo.commit("refactor: split the loader");
    repo.commit("feat!: drop the v1 endpoint");
    repo.commit("fix(ui): keep the focus on close");
    repo.tag("v1.1.0");
    repo.write("changelog.toml", config);
    repo
}

/// The changelog of v1.1.0 with the repository's `changelog.toml` applied over `base`.
fn configured(repo: &TestRepo, base: BuildOptions) -> Changelog {
    let (path, config) = Config::find(repo.path()).unwrap().expect("changelog.toml");
    assert_eq!(path, repo.path().join("changelog.toml"));
    let mut options = base;
    config.apply(&mut options);
    changelog(repo.path(), Some("v1.1.0"), &options)
}

fn layout(log: &Changelog) -> Vec<(String, Vec<String>)> {
    log.sections
        .iter()
        .map(|s| {
            (
                s.title.clone(),
                s.entries.iter().map(|e| e.text.clone()).collect(),
            )
        })
        .collect()
}

fn owned(layout: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    layout
        .iter()
        .map(|(title, texts)| {
            (
                (*title).to_owned(),
                texts.iter().map(|t| (*t).to_owned()).collect(),
            )
        })
        .collect()
}

#[test]
fn sections_follow_the_file_in_order_with_titles_patterns_and_hidden_ones() {
    let repo = repo_with(RULES);
    for style in [Style::Conventional, Style::KeepAChangelog] {
        let log = configured(
            &repo,
            BuildOptions {
                style,
                ..BuildOptions::default()
            },
        );
        assert_eq!(
            layout(&log),
            owned(&[
                ("Breaking", &["drop the v1 endpoint"]),
                ("Interface", &["dark mode", "keep the focus on close"]),
                ("Fixed", &["no crash on empty input"]),
                ("Added", &["paginate listings"]),
            ]),
            "{style}"
        );
        let hidden: Vec<&str> = log.hidden.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(hidden, ["explain the flags", "split the loader"]);
        assert_eq!(log.stats.hidden, 2);
        let text = markdown(&log);
        let headings: Vec<&str> = text.lines().filter(|l| l.starts_with("### ")).collect();
        assert_eq!(
            headings,
            ["### Breaking", "### Interface", "### Fixed", "### Added"]
        );
        assert!(!text.contains("split the loader"), "{text}");
    }

    // Shown, a hidden section stands where the file puts it.
    let log = configured(
        &repo,
        BuildOptions {
            show_hidden: true,
            ..BuildOptions::default()
        },
    );
    let titles: Vec<&str> = log.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        ["Breaking", "Interface", "Fixed", "Internal work", "Added"]
    );
    assert!(log.hidden.is_empty());
}

#[test]
fn without_a_file_the_style_decides() {
    let repo = repo_with(RULES);
    std::fs::remove_file(repo.path().join("changelog.toml")).unwrap();
    assert!(Config::find(repo.path()).unwrap().is_none());
    let log = changelog(repo.path(), Some("v1.1.0"), &BuildOptions::default());
    let titles: Vec<&str> = log.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Breaking Changes",
            "Features",
            "Bug Fixes",
            "Refactoring",
            "Documentation",
            "Other",
            "Chores"
        ]
    );
    assert_eq!(log.stats.skipped, 0);
    // The file as `changelog init` writes it changes nothing.
    repo.write("changelog.toml", changelog_core::config::TEMPLATE);
    assert_eq!(configured(&repo, BuildOptions::default()), log);
}

#[test]
fn skip_rules_leave_out_bots_and_subjects_and_count_them() {
    let repo = repo_with(RULES);
    let log = configured(&repo, BuildOptions::default());
    let every_text: Vec<&str> = log
        .entries()
        .chain(&log.hidden)
        .map(|e| e.text.as_str())
        .collect();
    assert!(
        !every_text.iter().any(|t| t.contains("serde")),
        "{every_text:?}"
    );
    assert!(
        !every_text.iter().any(|t| t.contains("half a feature")),
        "{every_text:?}"
    );
    assert_eq!(log.stats.skipped, 2);
    assert_eq!(log.stats.commits, 9);
    // Every commit read is accounted for.
    assert_eq!(log.stats.entries + log.stats.hidden + log.stats.skipped, 9);
    let json = changelog_core::render::json(&log).unwrap();
    assert!(json.contains("\"skipped\": 2"), "{json}");

    // The same rules with the style's sections: only the skipping.
    let skip_only = repo_with("[skip]\nsubjects = ['^WIP']\nauthors = ['^dependabot']\n");
    let log = configured(&skip_only, BuildOptions::default());
    assert_eq!(log.stats.skipped, 2);
    assert!(log.sections.iter().all(|s| s.title != "Chores"));
}

#[test]
fn link_templates_replace_the_hosts_urls_in_the_markdown() {
    let links = "\n[links]\ncommit = \"https://git.example.com/c/{id}\"\npull_request = \"https://git.example.com/pr/{number}\"\nissue = \"https://git.example.com/issues/{number}\"\n";
    let repo = repo_with(links);
    repo.set_origin("https://github.com/acme/rocket.git");
    let log = configured(&repo, BuildOptions::default());
    let text = markdown(&log);
    let fix = log
        .entries()
        .find(|e| e.text == "no crash on empty input")
        .unwrap();
    assert!(
        text.contains(&format!("](https://git.example.com/c/{})", fix.commits[0])),
        "{text}"
    );
    assert!(
        text.contains("[#12](https://git.example.com/pr/12)"),
        "{text}"
    );
    assert!(
        text.contains("[#7](https://git.example.com/issues/7)"),
        "{text}"
    );
    assert!(!text.contains("github.com"), "{text}");

    // A template left out leaves those links to the host.
    let commit_only = repo_with("[links]\ncommit = \"https://git.example.com/c/{id}\"\n");
    commit_only.set_origin("https://github.com/acme/rocket.git");
    let text = markdown(&configured(&commit_only, BuildOptions::default()));
    assert!(text.contains("](https://git.example.com/c/"), "{text}");
    assert!(
        text.contains("[#12](https://github.com/acme/rocket/issues/12)"),
        "{text}"
    );

    // With no host at all, the templates alone make the links.
    let no_host = repo_with(links);
    let text = markdown(&configured(&no_host, BuildOptions::default()));
    assert!(
        text.contains("[#7](https://git.example.com/issues/7)"),
        "{text}"
    );
}
