"""An existing FastAPI changelog service, switched to the Rust engine by changing an import.

Before, the endpoint called the service's own Python generator::

    from app.generator import generate_changelog          # the old pure-Python code
    ...
    result = await generate_changelog(**request.model_dump())

After, it calls the wheel with the same request fields (``source, repo_url, commit_range,
version, content, title, tags, model, temperature``); nothing else in the service changes.
The provider comes from the deployment's environment (``CHANGELOG_PROVIDER=openai`` and
``OPENAI_API_KEY``; none set: the deterministic changelog, offline).

``repo_url`` comes from the client, so the wheel's default repository policy applies: only
``https://`` clones of public hosts, bounded in time and size. The deployment may let clients
name repositories under one directory (``CHANGELOG_REPOS_ROOT=/srv/repos``) and limit clones to
some hosts (``CHANGELOG_ALLOWED_HOSTS=github.com,gitlab.com``); clients cannot widen either.

Run it (with the wheel, fastapi and uvicorn installed)::

    CHANGELOG_DATABASE_URL=sqlite:///changelogs.db CHANGELOG_REPOS_ROOT=$PWD/.. \\
        uvicorn fastapi_service:app --app-dir examples/python
    curl -s localhost:8000/changelogs -H 'content-type: application/json' \\
         -d '{"repo_url": "'$PWD'", "commit_range": "HEAD~20..HEAD", "tags": ["weekly"]}'
"""

from __future__ import annotations

import os
from typing import Any, Optional

from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

import changelog  # was: from app.generator import generate_changelog

app = FastAPI(title="changelog service")
store = changelog.Store(os.environ.get("CHANGELOG_DATABASE_URL", "sqlite:///changelogs.db"))


def repository_policy() -> dict[str, Any]:
    """The deployment's repository policy, as keyword arguments of ``agenerate``."""
    policy: dict[str, Any] = {}
    root = os.environ.get("CHANGELOG_REPOS_ROOT")
    if root:
        policy["allowed_roots"] = [root]
    hosts = os.environ.get("CHANGELOG_ALLOWED_HOSTS")
    if hosts:
        policy["allowed_hosts"] = [host.strip() for host in hosts.split(",") if host.strip()]
    return policy


class ChangelogRequest(BaseModel):
    """The request fields the service has always taken."""

    source: str = "git"
    repo_url: Optional[str] = None
    commit_range: Optional[str] = None
    version: Optional[str] = None
    content: Optional[str] = None
    title: Optional[str] = None
    tags: list[str] = []
    model: Optional[str] = None
    temperature: float = 0.7


def response(log: changelog.Changelog) -> dict[str, Any]:
    """The document the CLI prints as JSON, with the service's own fields."""
    return {
        **log.to_dict(),
        "id": log.id,
        "revision": log.revision,
        "tags": log.tags,
        "content": log.content,
    }


@app.post("/changelogs", status_code=201)
async def create_changelog(request: ChangelogRequest) -> dict[str, Any]:
    try:
        # was: log = await generate_changelog(**request.model_dump())
        log = await changelog.agenerate(**request.model_dump(), **repository_policy())
    except changelog.InvalidArgumentError as error:  # also a ValueError
        raise HTTPException(status_code=422, detail=str(error)) from error
    except changelog.SourceError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error
    except changelog.ProviderError as error:
        status = 503 if error.retryable else 502
        raise HTTPException(status_code=status, detail=str(error)) from error
    # Store calls block (with the GIL released): keep them off the event loop.
    saved = await run_in_threadpool(store.save, log)
    return response(saved)


@app.get("/changelogs/{changelog_id}")
async def read_changelog(changelog_id: str) -> dict[str, Any]:
    try:
        log = await run_in_threadpool(store.get, changelog_id)
    except (changelog.NotFoundError, changelog.InvalidArgumentError) as error:
        raise HTTPException(status_code=404, detail=str(error)) from error
    return response(log)


@app.get("/changelogs")
async def list_changelogs(tag: Optional[str] = None, version: Optional[str] = None,
                          q: Optional[str] = None, cursor: Optional[str] = None,
                          limit: int = 20) -> dict[str, Any]:
    try:
        page = await run_in_threadpool(
            lambda: store.list(tags=[tag] if tag else None, version=version, text=q,
                               cursor=cursor, limit=limit))
    except changelog.InvalidArgumentError as error:
        raise HTTPException(status_code=422, detail=str(error)) from error
    return {"items": [response(log) for log in page], "next_cursor": page.next_cursor}
