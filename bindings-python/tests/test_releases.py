"""Releases and the next version: `generate(releases=...)`, `unreleased=`, `version="auto"`
and `bump`, as `changelog generate --releases` and `changelog bump` give them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import changelog


def test_every_release_newest_first(repo: Path) -> None:
    logs = changelog.generate(repo_url=repo, allow_local=True, releases="all")
    assert isinstance(logs, list)
    assert [log.version for log in logs] == ["v0.2.0", "v0.1.0"]
    assert [log.commit_range for log in logs] == ["v0.1.0..v0.2.0", "..v0.1.0"]
    assert "drop the v1 endpoints" in logs[0].content
    assert "export as CSV" not in logs[0].content

    latest = changelog.generate(repo_url=repo, allow_local=True, releases=1)
    assert [log.version for log in latest] == ["v0.2.0"]
    with_unreleased = changelog.generate(
        repo_url=repo, allow_local=True, releases=1, unreleased=True, version="auto")
    assert [log.version for log in with_unreleased] == ["v0.3.0", "v0.2.0"]
    assert "export as CSV" in with_unreleased[0].content


def test_version_auto_on_one_range(repo: Path) -> None:
    log = changelog.generate(repo_url=repo, allow_local=True, version="auto")
    assert isinstance(log, changelog.Changelog)
    assert log.version == "v0.3.0"


@pytest.mark.parametrize("releases", [0, -1, "many"])
def test_a_bad_release_count_is_refused(repo: Path, releases: object) -> None:
    with pytest.raises(changelog.InvalidArgumentError, match="releases"):
        changelog.generate(repo_url=repo, allow_local=True, releases=releases)  # type: ignore[call-overload]


def test_releases_and_a_range_do_not_mix(repo: Path) -> None:
    with pytest.raises(changelog.InvalidArgumentError, match="commit_range"):
        changelog.generate(
            repo_url=repo, allow_local=True, releases="all", commit_range="v0.1.0..")
    with pytest.raises(changelog.InvalidArgumentError, match="one range"):
        changelog.estimate(repo_url=repo, allow_local=True, releases="all")


def test_bump_reads_the_commits_since_the_latest_release(repo: Path) -> None:
    bump = changelog.bump(repo_url=repo, allow_local=True)
    assert isinstance(bump, changelog.Bump)
    assert (bump.latest, bump.tag, bump.version, bump.level, bump.commits) == (
        "v0.2.0", "v0.3.0", "0.3.0", "minor", 2)
    assert "v0.3.0" in repr(bump)
    assert changelog.bump(repo_url=repo, allow_local=True, pre="rc").tag == "v0.3.0-rc.1"
    assert changelog.bump(
        repo_url=repo, allow_local=True, zero_major="cargo").tag == "v0.2.1"
    bumped = asyncio.run(changelog.abump(repo_url=repo, allow_local=True))
    assert bumped.tag == "v0.3.0"


def test_bump_arguments_are_checked(repo: Path) -> None:
    with pytest.raises(changelog.InvalidArgumentError, match="zero_major"):
        changelog.bump(repo_url=repo, allow_local=True, zero_major="semver")
    with pytest.raises(changelog.InvalidArgumentError, match="initial"):
        changelog.bump(repo_url=repo, allow_local=True, initial="one")
    with pytest.raises(changelog.InvalidArgumentError, match="pre"):
        changelog.bump(repo_url=repo, allow_local=True, pre="1")
    with pytest.raises(TypeError, match="pre"):
        changelog.bump(repo_url=repo, allow_local=True, pre=1)  # type: ignore[arg-type]
    # The repository policy applies as for generate: a local path needs allow_local.
    with pytest.raises(changelog.SourceError):
        changelog.bump(repo_url=repo)


def test_prepend_writes_and_keeps_a_hand_edit(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "CHANGELOG.md"
    releases = changelog.generate(repo_url=repo, allow_local=True, releases="all")
    assert changelog.prepend(target, releases) == ["added v0.2.0", "added v0.1.0"]
    text = target.read_text()
    assert text.startswith("# Changelog\n")
    assert text.index("## v0.2.0") < text.index("## v0.1.0")
    edited = text.replace("keep the scroll position", "keep the scroll position (thanks!)")
    assert edited != text
    target.write_text(edited)
    latest = changelog.generate(repo_url=repo, allow_local=True, releases=1)[0]
    said = changelog.prepend(target, latest)
    assert said[0].startswith("replaced v0.2.0") or said[0] == "v0.2.0 unchanged", said
    assert target.read_text() == edited
    with pytest.raises(TypeError, match="Changelog"):
        changelog.prepend(target, "## 1.0.0")  # type: ignore[arg-type]
