"""Type stubs of the native module (``changelog._native``); import from ``changelog``."""

import builtins
import datetime
import os
from collections.abc import Awaitable, Iterator, Sequence
from typing import Any, Final, Literal, final, overload

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

__version__: Final[str]

_Path = str | os.PathLike[str]
_Date = str | datetime.date | datetime.datetime

class ChangelogError(Exception):
    """Base class of every error the changelog engine raises."""

class SourceError(ChangelogError):
    """The commit history cannot be read (a path, clone URL, tag or branch)."""

class InvalidArgumentError(ChangelogError, ValueError):
    """An argument that is not valid as written. Also a ValueError."""

class InvalidRangeError(SourceError, InvalidArgumentError):
    """A range, date or path filter that cannot be read."""

class ProviderError(ChangelogError):
    """The language model provider failed."""

    retryable: bool
    status: int | None

class BudgetError(ChangelogError):
    """The token budget is too small for the request's fixed parts."""

class StoreError(ChangelogError):
    """The store failed."""

class ConflictError(StoreError):
    """A stale revision, or a value that must be unique is already taken."""

    expected: int | None
    actual: int | None

class NotFoundError(StoreError, LookupError):
    """No changelog (or revision) with that id."""

@final
class Author:
    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Entry:
    @property
    def text(self) -> str: ...
    @property
    def commits(self) -> list[str]: ...
    @property
    def breaking(self) -> bool: ...
    @property
    def scope(self) -> str | None: ...
    @property
    def refs(self) -> list[str]: ...
    @property
    def authors(self) -> list[Author]: ...
    @property
    def kind(self) -> str: ...
    @property
    def breaking_notes(self) -> list[str]: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Section:
    @property
    def title(self) -> str: ...
    @property
    def entries(self) -> list[Entry]: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Stats:
    @property
    def commits(self) -> int: ...
    @property
    def entries(self) -> int: ...
    @property
    def merges(self) -> int: ...
    @property
    def fixups(self) -> int: ...
    @property
    def release_bumps(self) -> int: ...
    @property
    def empty(self) -> int: ...
    @property
    def reverted(self) -> int: ...
    @property
    def hidden(self) -> int: ...
    @property
    def duplicates(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Usage:
    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def requests(self) -> int: ...
    @property
    def cached_requests(self) -> int: ...
    @property
    def cost_usd(self) -> float | None: ...
    @property
    def truncated_answers(self) -> int: ...
    @property
    def chunks(self) -> int: ...
    @property
    def merge_rounds(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Verification:
    @property
    def dropped_entries(self) -> int: ...
    @property
    def dropped(self) -> list[tuple[str, str]]: ...
    @property
    def uncited_commits(self) -> list[str]: ...
    @property
    def coverage(self) -> float: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Bump:
    @property
    def latest(self) -> str | None: ...
    @property
    def tag(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def commits(self) -> int: ...

@final
class Estimate:
    @property
    def model(self) -> str: ...
    @property
    def input_tokens(self) -> int: ...
    @property
    def max_output_tokens(self) -> int: ...
    @property
    def requests(self) -> int: ...
    @property
    def cost_usd(self) -> float | None: ...
    @property
    def chunks(self) -> int: ...
    @property
    def merge_rounds(self) -> int: ...
    @property
    def detail(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Changelog:
    @property
    def title(self) -> str: ...
    @property
    def version(self) -> str | None: ...
    @property
    def date(self) -> datetime.date | None: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def content(self) -> str: ...
    @property
    def sections(self) -> list[Section]: ...
    @property
    def style(self) -> str: ...
    @property
    def stats(self) -> Stats: ...
    @property
    def model(self) -> str | None: ...
    @property
    def usage(self) -> Usage | None: ...
    @property
    def verification(self) -> Verification | None: ...
    @property
    def source(self) -> str: ...
    @property
    def commit_range(self) -> str | None: ...
    @property
    def repository(self) -> str | None: ...
    @property
    def id(self) -> str | None: ...
    @property
    def revision(self) -> int | None: ...
    @property
    def is_public(self) -> bool: ...
    @property
    def owner_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime.datetime | None: ...
    @property
    def updated_at(self) -> datetime.datetime | None: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...
    def to_markdown(self) -> str: ...

@final
class ChangelogVersion:
    @property
    def changelog_id(self) -> str: ...
    @property
    def revision(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def version(self) -> str | None: ...
    @property
    def content(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def edited_by(self) -> str | None: ...
    @property
    def created_at(self) -> datetime.datetime: ...

@final
class Page:
    @property
    def items(self) -> list[Changelog]: ...
    @property
    def next_cursor(self) -> str | None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Changelog]: ...

@final
class Store:
    def __new__(cls, url: str, *, user: str = "local") -> Store: ...
    @property
    def url(self) -> str: ...
    @property
    def user(self) -> str: ...
    def save(self, changelog: Changelog, *, public: bool = False) -> Changelog: ...
    def get(self, id: str) -> Changelog: ...
    def update(
        self,
        id: str,
        *,
        revision: int,
        title: str | None = None,
        version: str | None = None,
        content: str | None = None,
        tags: Sequence[str] | None = None,
        public: bool | None = None,
        changelog: Changelog | None = None,
    ) -> Changelog: ...
    def versions(self, id: str) -> builtins.list[ChangelogVersion]: ...
    def delete(self, id: str) -> None: ...
    def list(
        self,
        *,
        owner: str | None = None,
        version: str | None = None,
        tags: Sequence[str] | None = None,
        tag_match: str = "any",
        created_since: _Date | None = None,
        created_until: _Date | None = None,
        repository: str | None = None,
        public: bool | None = None,
        text: str | None = None,
        sort: str = "created",
        direction: str = "desc",
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page: ...
    def tags(self) -> builtins.list[str]: ...

@overload
def generate(
    *,
    source: str = "git",
    repo_url: _Path | None = None,
    commit_range: str | None = None,
    version: str | None = None,
    content: str | None = None,
    title: str | None = None,
    tags: Sequence[str] | None = None,
    model: str | None = None,
    temperature: float | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    style: str = "conventional",
    max_input_tokens: int | None = None,
    paths: Sequence[str] | None = None,
    since: _Date | None = None,
    until: _Date | None = None,
    fallback_models: Sequence[str] | None = None,
    cache: bool | _Path | None = None,
    tag_prefix: str | None = None,
    tag_pattern: str | None = None,
    skip_tags: str | None = None,
    releases: None = None,
    unreleased: Literal[False] = False,
    allow_local: bool = False,
    allowed_roots: Sequence[_Path] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Changelog: ...
@overload
def generate(
    *,
    source: str = "git",
    repo_url: _Path | None = None,
    commit_range: str | None = None,
    version: str | None = None,
    content: str | None = None,
    title: str | None = None,
    tags: Sequence[str] | None = None,
    model: str | None = None,
    temperature: float | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    style: str = "conventional",
    max_input_tokens: int | None = None,
    paths: Sequence[str] | None = None,
    since: _Date | None = None,
    until: _Date | None = None,
    fallback_models: Sequence[str] | None = None,
    cache: bool | _Path | None = None,
    tag_prefix: str | None = None,
    tag_pattern: str | None = None,
    skip_tags: str | None = None,
    releases: Literal["all"] | int,
    unreleased: bool = False,
    allow_local: bool = False,
    allowed_roots: Sequence[_Path] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> builtins.list[Changelog]: ...
@overload
def generate(
    *,
    source: str = "git",
    repo_url: _Path | None = None,
    commit_range: str | None = None,
    version: str | None = None,
    content: str | None = None,
    title: str | None = None,
    tags: Sequence[str] | None = None,
    model: str | None = None,
    temperature: float | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    style: str = "conventional",
    max_input_tokens: int | None = None,
    paths: Sequence[str] | None = None,
    since: _Date | None = None,
    until: _Date | None = None,
    fallback_models: Sequence[str] | None = None,
    cache: bool | _Path | None = None,
    tag_prefix: str | None = None,
    tag_pattern: str | None = None,
    skip_tags: str | None = None,
    releases: Literal["all"] | int | None = None,
    unreleased: Literal[True],
    allow_local: bool = False,
    allowed_roots: Sequence[_Path] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> builtins.list[Changelog]: ...
@overload
def agenerate(
    *,
    source: str = "git",
    repo_url: _Path | None = None,
    commit_range: str | None = None,
    version: str | None = None,
    content: str | None = None,
    title: str | None = None,
    tags: Sequence[str] | None = None,
    model: str | None = None,
    temperature: float | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    style: str = "conventional",
    max_input_tokens: int | None = None,
    paths: Sequence[str] | None = None,
    since: _Date | None = None,
    until: _Date | None = None,
    fallback_models: Sequence[str] | None = None,
    cache: bool | _Path | None = None,
    tag_prefix: str | None = None,
    tag_pattern: str | None = None,
    skip_tags: str | None = None,
    releases: None = None,
    unreleased: Literal[False] = False,
    allow_local: bool = False,
    allowed_roots: Sequence[_Path] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Awaitable[Changelog]: ...
@overload
def agenerate(
    *,
    source: str = "git",
    repo_url: _Path | None = None,
    commit_range: str | None = None,
    version: str | None = None,
    content: str | None = None,
    title: str | None = None,
    tags: Sequence[str] | None = None,
    model: str | None = None,
    temperature: float | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    style: str = "conventional",
    max_input_tokens: int | None = None,
    paths: Sequence[str] | None = None,
    since: _Date | None = None,
    until: _Date | None = None,
    fallback_models: Sequence[str] | None = None,
    cache: bool | _Path | None = None,
    tag_prefix: str | None = None,
    tag_pattern: str | None = None,
    skip_tags: str | None = None,
    releases: Literal["all"] | int,
    unreleased: bool = False,
    allow_local: bool = False,
    allowed_roots: Sequence[_Path] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Awaitable[builtins.list[Changelog]]: ...
@overload
def agenerate(
    *,
    source: str = "git",
    repo_url: _Path | None = None,
    commit_range: str | None = None,
    version: str | None = None,
    content: str | None = None,
    title: str | None = None,
    tags: Sequence[str] | None = None,
    model: str | None = None,
    temperature: float | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    style: str = "conventional",
    max_input_tokens: int | None = None,
    paths: Sequence[str] | None = None,
    since: _Date | None = None,
    until: _Date | None = None,
    fallback_models: Sequence[str] | None = None,
    cache: bool | _Path | None = None,
    tag_prefix: str | None = None,
    tag_pattern: str | None = None,
    skip_tags: str | None = None,
    releases: Literal["all"] | int | None = None,
    unreleased: Literal[True],
    allow_local: bool = False,
    allowed_roots: Sequence[_Path] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Awaitable[builtins.list[Changelog]]: ...
def estimate(
    *,
    source: str = "git",
    repo_url: _Path | None = None,
    commit_range: str | None = None,
    version: str | None = None,
    content: str | None = None,
    title: str | None = None,
    tags: Sequence[str] | None = None,
    model: str | None = None,
    temperature: float | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    style: str = "conventional",
    max_input_tokens: int | None = None,
    paths: Sequence[str] | None = None,
    since: _Date | None = None,
    until: _Date | None = None,
    fallback_models: Sequence[str] | None = None,
    cache: bool | _Path | None = None,
    tag_prefix: str | None = None,
    tag_pattern: str | None = None,
    skip_tags: str | None = None,
    releases: Literal["all"] | int | None = None,
    unreleased: bool = False,
    allow_local: bool = False,
    allowed_roots: Sequence[_Path] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Estimate: ...
def aestimate(
    *,
    source: str = "git",
    repo_url: _Path | None = None,
    commit_range: str | None = None,
    version: str | None = None,
    content: str | None = None,
    title: str | None = None,
    tags: Sequence[str] | None = None,
    model: str | None = None,
    temperature: float | None = None,
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    style: str = "conventional",
    max_input_tokens: int | None = None,
    paths: Sequence[str] | None = None,
    since: _Date | None = None,
    until: _Date | None = None,
    fallback_models: Sequence[str] | None = None,
    cache: bool | _Path | None = None,
    tag_prefix: str | None = None,
    tag_pattern: str | None = None,
    skip_tags: str | None = None,
    releases: Literal["all"] | int | None = None,
    unreleased: bool = False,
    allow_local: bool = False,
    allowed_roots: Sequence[_Path] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Awaitable[Estimate]: ...
def prepend(
    path: _Path,
    changelogs: Changelog | Sequence[Changelog],
    *,
    force: bool = False,
) -> builtins.list[str]: ...
def bump(
    *,
    repo_url: _Path | None = None,
    paths: Sequence[str] | None = None,
    tag_prefix: str | None = None,
    tag_pattern: str | None = None,
    skip_tags: str | None = None,
    pre: str | None = None,
    initial: str = "0.1.0",
    zero_major: str = "standard",
    allow_local: bool = False,
    allowed_roots: Sequence[_Path] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Bump: ...
def abump(
    *,
    repo_url: _Path | None = None,
    paths: Sequence[str] | None = None,
    tag_prefix: str | None = None,
    tag_pattern: str | None = None,
    skip_tags: str | None = None,
    pre: str | None = None,
    initial: str = "0.1.0",
    zero_major: str = "standard",
    allow_local: bool = False,
    allowed_roots: Sequence[_Path] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Awaitable[Bump]: ...
