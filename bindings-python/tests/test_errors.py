"""Errors: their classes, and messages that name the offending input."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

import changelog


def test_hierarchy() -> None:
    assert issubclass(changelog.ChangelogError, Exception)
    for name in ("SourceError", "ProviderError", "BudgetError", "StoreError",
                 "InvalidArgumentError"):
        assert issubclass(getattr(changelog, name), changelog.ChangelogError), name
    assert issubclass(changelog.InvalidArgumentError, ValueError)
    assert issubclass(changelog.InvalidRangeError, changelog.SourceError)
    assert issubclass(changelog.InvalidRangeError, ValueError)
    assert issubclass(changelog.ConflictError, changelog.StoreError)
    assert issubclass(changelog.NotFoundError, LookupError)
    assert changelog.ChangelogError.__module__ == "changelog"
    assert changelog.InvalidArgumentError.__module__ == "changelog"


def test_an_unknown_tag_is_named(repo: Path) -> None:
    with pytest.raises(changelog.ChangelogError, match="v9.9.9") as caught:
        changelog.generate(repo_url=repo, allow_local=True, commit_range="v9.9.9..HEAD")
    assert type(caught.value) is changelog.SourceError


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"repo_url": "/no/such/dir"}, "/no/such/dir"),
        ({"commit_range": "v0.1.0..v0.2.0..v0.3.0"}, "v0.1.0..v0.2.0..v0.3.0"),
        ({"commit_range": "nope"}, "nope"),
    ],
)
def test_bad_repository_or_range_is_a_source_error(repo: Path, arguments: dict,
                                                   named: str) -> None:
    arguments = {"repo_url": repo, "allow_local": True, **arguments}
    with pytest.raises(changelog.SourceError) as caught:
        changelog.generate(**arguments)
    assert named in str(caught.value)


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(changelog.SourceError, match="is not a git repository"):
        changelog.generate(repo_url=tmp_path, allow_local=True)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"style": "fancy"}, "fancy"),
        ({"source": "github"}, "github"),
        ({"provider": "gpt"}, "gpt"),
        ({"temperature": 3.5}, "3.5"),
        ({"max_input_tokens": -1}, "-1"),
        ({"since": "yesterday"}, "yesterday"),
        ({"until": "2024-13-01"}, "2024-13-01"),
        ({"style": "release-notes"}, "release-notes"),
        ({"content": "# notes"}, "content"),
        ({"paths": ["/etc"]}, "/etc"),
    ],
)
def test_invalid_arguments_are_value_errors(repo: Path, arguments: dict, named: str) -> None:
    with pytest.raises(ValueError) as caught:
        changelog.generate(repo_url=repo, allow_local=True, **arguments)
    assert isinstance(caught.value, changelog.ChangelogError)
    assert isinstance(caught.value, changelog.InvalidArgumentError)
    assert named in str(caught.value)


def test_manual_needs_content() -> None:
    with pytest.raises(changelog.InvalidArgumentError, match="content"):
        changelog.generate(source="manual")
    with pytest.raises(changelog.InvalidArgumentError, match="manual"):
        changelog.estimate(source="manual", content="x")


def test_wrong_types_are_type_errors(repo: Path) -> None:
    with pytest.raises(TypeError):
        changelog.generate(repo_url=repo, allow_local=True, tags="not-a-list")
    with pytest.raises(TypeError, match="cache"):
        changelog.generate(repo_url=repo, allow_local=True, cache=3)
    with pytest.raises(TypeError):
        changelog.generate(repo, "v0.1.0..")  # type: ignore[misc]


@pytest.mark.skipif(sys.version_info < (3, 11),
                    reason="PyO3 names the argument in an exception note (Python 3.11+)")
def test_type_errors_name_the_argument(repo: Path) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"version": 1}, "version"),
        ({"tags": [1]}, "tags"),
        ({"paths": "src"}, "paths"),
        ({"temperature": "hot"}, "temperature"),
        ({"max_input_tokens": "x"}, "max_input_tokens"),
        ({"style": 3}, "style"),
    ]
    for arguments, name in cases:
        with pytest.raises(TypeError, match=f"^argument '{name}': "):
            changelog.generate(repo_url=repo, allow_local=True, **arguments)
    with pytest.raises(TypeError, match="^argument 'commit_range': "):
        changelog.estimate(repo_url=repo, allow_local=True, commit_range=5)

    async def agenerate() -> None:
        await changelog.agenerate(repo_url=repo, allow_local=True, title=["x"])

    with pytest.raises(TypeError, match="^argument 'title': "):
        asyncio.run(agenerate())


def test_a_clone_that_fails_names_the_url_without_credentials(tmp_path: Path) -> None:
    missing = tmp_path / "missing.git"
    url = f"file://user:hunter2@localhost{missing}"
    with pytest.raises(changelog.SourceError) as caught:
        changelog.generate(repo_url=url, allow_local=True)
    message = str(caught.value)
    assert "hunter2" not in message
    assert f"file://localhost{missing}" in message


def test_budget_error(repo: Path) -> None:
    with pytest.raises(changelog.BudgetError, match="10 input tokens"):
        changelog.estimate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", max_input_tokens=10)


def test_missing_key_is_a_provider_error(repo: Path) -> None:
    with pytest.raises(changelog.ProviderError, match="OPENAI_API_KEY") as caught:
        changelog.generate(repo_url=repo, allow_local=True, provider="openai")
    assert caught.value.retryable is False
    assert caught.value.status is None
