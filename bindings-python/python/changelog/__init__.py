"""Changelogs and release notes from git history, by the Rust changelog engine.

The functions keep the call shapes of the Python generator this package replaces, so existing
callers switch by changing an import::

    import changelog

    log = changelog.generate(repo_url=".", commit_range="v1.0.0..v1.1.0")
    print(log.content)            # Markdown
    log.to_dict()                 # the JSON document `changelog generate --format json` prints

    log = await changelog.agenerate(repo_url=".", commit_range="v1.0.0..")

Without a provider (``provider=`` or ``CHANGELOG_PROVIDER``) the changelog is written
deterministically, offline. With ``provider="openai"`` (or ``"anthropic"``, ``"simulated"``) a
language model writes the entries, and every entry must cite commits of the range.

Everything here is implemented in ``changelog._native``; this module re-exports it, and makes
``agenerate`` and ``aestimate`` coroutine functions (so that ``asyncio.run`` and
``asyncio.create_task`` take their result).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence

from changelog import _native
from changelog._native import (
    Author,
    BudgetError,
    Changelog,
    ChangelogError,
    ChangelogVersion,
    ConflictError,
    Entry,
    Estimate,
    InvalidArgumentError,
    InvalidRangeError,
    NotFoundError,
    Page,
    ProviderError,
    Section,
    SourceError,
    Stats,
    Store,
    StoreError,
    Usage,
    Verification,
    __version__,
    estimate,
    generate,
)

__all__ = [
    "Author",
    "BudgetError",
    "Changelog",
    "ChangelogError",
    "ChangelogVersion",
    "ConflictError",
    "Entry",
    "Estimate",
    "InvalidArgumentError",
    "InvalidRangeError",
    "NotFoundError",
    "Page",
    "ProviderError",
    "Section",
    "SourceError",
    "Stats",
    "Store",
    "StoreError",
    "Usage",
    "Verification",
    "__version__",
    "aestimate",
    "agenerate",
    "estimate",
    "generate",
]


async def agenerate(
    *,
    source: str = "git",
    repo_url: str | os.PathLike[str] | None = None,
    commit_range: str | None = None,
    version: str | None = None,
    content: str | None = None,
    title: str | None = None,
    tags: Sequence[str] | None = None,
    model: str | None = None,
    temperature: float = 0.7,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    style: str = "conventional",
    max_input_tokens: int | None = None,
    paths: Sequence[str] | None = None,
    since: str | datetime.date | datetime.datetime | None = None,
    until: str | datetime.date | datetime.datetime | None = None,
    fallback_models: Sequence[str] | None = None,
    cache: bool | str | os.PathLike[str] = True,
) -> Changelog:
    """``generate`` as a coroutine: the work runs on the engine's own threads, never on the
    event loop, and cancelling the task cancels it (its HTTP requests are dropped)."""
    return await _native.agenerate(**locals())


async def aestimate(
    *,
    source: str = "git",
    repo_url: str | os.PathLike[str] | None = None,
    commit_range: str | None = None,
    version: str | None = None,
    content: str | None = None,
    title: str | None = None,
    tags: Sequence[str] | None = None,
    model: str | None = None,
    temperature: float = 0.7,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    style: str = "conventional",
    max_input_tokens: int | None = None,
    paths: Sequence[str] | None = None,
    since: str | datetime.date | datetime.datetime | None = None,
    until: str | datetime.date | datetime.datetime | None = None,
    fallback_models: Sequence[str] | None = None,
    cache: bool | str | os.PathLike[str] = True,
) -> Estimate:
    """``estimate`` as a coroutine."""
    return await _native.aestimate(**locals())
