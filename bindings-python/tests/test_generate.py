"""`changelog.generate` on the deterministic path: call shapes, results, the CLI's JSON."""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

import pytest

import changelog


def test_the_request_fields_of_existing_callers(repo: Path) -> None:
    log = changelog.generate(
        source="git",
        repo_url=str(repo), allow_local=True,
        commit_range="v0.1.0..v0.2.0",
        version=None,
        content=None,
        title="Release notes",
        tags=["backend", "API"],
        model="gpt-4o-mini",
        temperature=0.7,
    )
    assert isinstance(log, changelog.Changelog)
    assert log.title == "Release notes"
    assert log.version == "v0.2.0"
    assert log.tags == ["backend", "API"]
    assert log.source == "git"
    assert log.commit_range == "v0.1.0..v0.2.0"
    assert log.date == datetime.date(2024, 5, 7)
    # No provider configured: the deterministic path, nothing used from the model settings.
    assert log.model is None
    assert log.usage is None
    assert log.verification is None
    assert [s.title for s in log.sections] == [
        "Breaking Changes", "Features", "Bug Fixes", "Performance"]
    assert log.content.startswith("# Release notes\n\n## v0.2.0 (2024-05-07)\n")


def test_sections_and_entries(repo: Path) -> None:
    log = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0")
    breaking, features, fixes, perf = log.sections
    [entry] = breaking.entries
    assert entry.text == "drop the v1 endpoints"
    assert entry.breaking is True
    assert entry.scope == "api"
    assert entry.breaking_notes == ["clients must use /v2"]
    assert len(entry.commits) == 1 and len(entry.commits[0]) == 40
    assert entry.authors == entry.authors and entry.authors[0].name == "Ada Lovelace"
    assert entry.authors[0].email == "ada@example.com"
    assert [e.text for e in features.entries] == ["Add a retry to the uploader"]
    assert features.entries[0].kind == "feature"
    [fix] = fixes.entries
    assert (fix.text, fix.scope, fix.refs, fix.breaking) == (
        "keep the scroll position", "ui", ["#77"], False)
    assert perf.entries[0].scope == "parser"
    assert log.stats.commits == 4 and log.stats.entries == 4
    assert "Section(title='Breaking Changes', entries=1)" == repr(breaking)


def test_a_path_like_and_defaults(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without a range: from the latest tag to HEAD; without repo_url: the working directory
    # (exactly: a subdirectory of a work tree is not looked up upward).
    monkeypatch.chdir(repo / "src")
    with pytest.raises(changelog.SourceError, match="not a git repository"):
        changelog.generate(allow_local=True)
    monkeypatch.chdir(repo)
    log = changelog.generate(allow_local=True)
    assert log.commit_range == "v0.2.0..HEAD"
    assert log.version is None
    assert [e.text for s in log.sections for e in s.entries] == ["export as CSV",
                                                                  "bump dependencies"]


def test_keep_a_changelog_and_paths(repo: Path) -> None:
    log = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.2.0", style="keep-a-changelog",
                             paths=["src/file6.txt"])
    assert log.style == "keep-a-changelog"
    assert [s.title for s in log.sections] == ["Fixed"]
    assert "## [v0.2.0] - 2024-05-07" in log.to_markdown()


def test_dates(repo: Path) -> None:
    since = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", since="2024-05-06")
    assert since.stats.commits == 2
    until = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0",
                               until=datetime.date(2024, 5, 5))
    assert until.stats.commits == 2
    aware = datetime.datetime(2024, 5, 6, tzinfo=datetime.timezone.utc)
    both = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", since=aware,
                              until=datetime.datetime(2024, 5, 6, 23, 0))
    assert both.stats.commits == 1


def test_to_dict_and_to_json_match_the_cli(repo: Path, changelog_binary: Path) -> None:
    printed = subprocess.run(
        [str(changelog_binary), "generate", "--repo", str(repo), "--range", "v0.1.0..v0.2.0",
         "--format", "json", "--title", "Notes"],
        check=True, capture_output=True, text=True,
    ).stdout
    log = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", title="Notes",
                             tags=["x"])
    assert log.to_json() == printed
    assert log.to_dict() == json.loads(printed)
    markdown = subprocess.run(
        [str(changelog_binary), "generate", "--repo", str(repo), "--range", "v0.1.0..v0.2.0",
         "--title", "Notes"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert log.to_markdown() == markdown == log.content


def test_to_dict_shape(repo: Path) -> None:
    document = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0").to_dict()
    assert list(document) == ["title", "version", "date", "range", "style", "sections", "stats"]
    assert document["range"]["spec"] == "v0.1.0..v0.2.0"
    entry = document["sections"][0]["entries"][0]
    assert set(entry) >= {"text", "commits", "breaking", "scope", "refs", "authors", "kind"}


def test_manual_source_wraps_the_content() -> None:
    content = "# Changelog\n\n## 1.4.0\n\n- Faster exports\n"
    log = changelog.generate(source="manual", content=content, title="Product updates",
                             version="1.4.0", tags=["release"], commit_range="v1.3.0..v1.4.0",
                             repo_url="https://github.com/acme/app")
    assert log.source == "manual"
    assert log.content == content == log.to_markdown()
    assert log.sections == []
    assert (log.title, log.version, log.tags) == ("Product updates", "1.4.0", ["release"])
    assert log.commit_range == "v1.3.0..v1.4.0"
    assert log.repository == "https://github.com/acme/app"
    assert log.to_dict()["sections"] == []


def test_repr_names_the_changelog(repo: Path) -> None:
    log = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0")
    assert repr(log) == (
        "Changelog(title='Changelog', version='v0.2.0', source='git', sections=4, entries=4)")


def test_file_url_is_a_local_path(repo: Path) -> None:
    url = repo.as_uri()  # file:///..., read in place under the local rules
    cloned = changelog.generate(repo_url=url, allow_local=True, commit_range="v0.1.0..v0.2.0")
    local = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0")
    assert cloned.sections == local.sections
    assert cloned.repository == url
    filtered = changelog.generate(repo_url=url, allow_local=True, commit_range="v0.1.0..v0.2.0",
                                  paths=["src/file6.txt"])
    assert filtered.stats.commits == 1


def test_estimate_sends_nothing(repo: Path, openai_stub) -> None:
    estimate = changelog.estimate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0",
                                  provider="openai", base_url=openai_stub.url)
    assert isinstance(estimate, changelog.Estimate)
    assert estimate.requests == 1
    assert estimate.input_tokens > 100
    assert estimate.max_output_tokens > 0
    assert estimate.cost_usd > 0
    assert estimate.model == "gpt-4o-mini"
    assert openai_stub.requests == []
    # No provider, no key: counted for the model named.
    other = changelog.estimate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", model="gpt-4o")
    assert other.model == "gpt-4o"
    assert other.to_dict()["requests"] == 1
    # A model whose price is not known has no price, not a price of 0.
    unknown = changelog.estimate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0",
                                 model="house-model-7b")
    assert unknown.cost_usd is None
    assert unknown.to_dict()["cost_usd"] is None
    assert "cost_usd=None" in repr(unknown)
    tight = changelog.estimate(repo_url=repo, allow_local=True, max_input_tokens=900,
                               commit_range="v0.1.0..v0.2.0")
    assert tight.requests >= 1
