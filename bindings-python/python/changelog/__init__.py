"""Changelogs and release notes from git history, by the Rust changelog engine.

The functions keep the call shapes of the Python generator this package replaces, so existing
callers switch by changing an import::

    import changelog

    log = changelog.generate(repo_url="https://github.com/acme/app", commit_range="v1.0.0..v1.1.0")
    print(log.content)            # Markdown
    log.to_dict()                 # the JSON document `changelog generate --format json` prints

    log = await changelog.agenerate(repo_url=".", allow_local=True, commit_range="v1.0.0..")

``repo_url`` is safe to take from a request by default: only ``https://`` clones of public hosts
(no loopback, private, link-local or metadata address; at most 120 s and 1 GiB). Local paths
are read only with ``allow_local=True`` (any path) or ``allowed_roots=[...]`` (paths under those
directories, after resolving ``..`` and symlinks); ``allowed_hosts=[...]`` limits clones to
those hosts.

Without a provider (``provider=`` or ``CHANGELOG_PROVIDER``) the changelog is written
deterministically, offline. With ``provider="openai"`` (or ``"anthropic"``, ``"simulated"``) a
language model writes the entries, and every entry must cite commits of the range.

Everything here is implemented in ``changelog._native``; this module re-exports it, and makes
``agenerate`` and ``aestimate`` coroutine functions (so that ``asyncio.run`` and
``asyncio.create_task`` take their result).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from changelog import _native
from changelog._native import (
    Author,
    BudgetError,
    Bump,
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
)

if TYPE_CHECKING:
    from typing import ParamSpec, TypeVar

    _P = ParamSpec("_P")
    _T = TypeVar("_T")

__all__ = [
    "Author",
    "BudgetError",
    "Bump",
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
    "abump",
    "aestimate",
    "agenerate",
    "bump",
    "estimate",
    "generate",
    "prepend",
]



def _coroutine_function(native: Callable[_P, Awaitable[_T]]) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """A coroutine function with the signature and documentation of `native`, which returns
    an asyncio future and needs a running event loop when called."""

    async def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return await native(*args, **kwargs)

    return functools.wraps(native)(call)


def _naming_arguments(native: Callable[_P, _T]) -> Callable[_P, _T]:
    """`native`, whose TypeErrors for an argument of the wrong type name the argument in their
    message: PyO3 names it in a note (Python 3.11 and later), which ``str(error)`` leaves out."""

    def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return native(*args, **kwargs)
        except TypeError as error:
            named = _argument_error(error)
            if named is None:
                raise
            raise named from None

    return functools.wraps(native)(call)


def _argument_error(error: TypeError) -> TypeError | None:
    """The error with the argument its note names in front of its message, if a note names one."""
    prefix = "while processing '"
    for note in getattr(error, "__notes__", ()):
        if isinstance(note, str) and note.startswith(prefix) and note.endswith("'"):
            return TypeError(f"argument '{note[len(prefix):-1]}': {error}")
    return None


generate = _naming_arguments(_native.generate)
estimate = _naming_arguments(_native.estimate)
agenerate = _coroutine_function(_naming_arguments(_native.agenerate))
aestimate = _coroutine_function(_naming_arguments(_native.aestimate))
bump = _naming_arguments(_native.bump)
prepend = _naming_arguments(_native.prepend)
abump = _coroutine_function(_naming_arguments(_native.abump))
