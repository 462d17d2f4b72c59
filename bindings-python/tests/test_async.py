"""`agenerate` and `aestimate`: coroutines on asyncio that do not block the event loop."""

from __future__ import annotations

import asyncio
import inspect
import time
from pathlib import Path

import pytest

import changelog


def test_agenerate_returns_the_same_sections_as_generate(repo: Path) -> None:
    arguments = {"repo_url": repo, "allow_local": True, "commit_range": "v0.1.0..v0.2.0", "tags": ["t"]}
    expected = changelog.generate(**arguments)
    result = asyncio.run(changelog.agenerate(**arguments))
    assert isinstance(result, changelog.Changelog)
    assert result.sections == expected.sections
    assert result.to_dict() == expected.to_dict()
    assert result.tags == ["t"]


def test_they_are_coroutine_functions() -> None:
    assert inspect.iscoroutinefunction(changelog.agenerate)
    assert inspect.iscoroutinefunction(changelog.aestimate)
    signature = inspect.signature(changelog.agenerate)
    assert list(signature.parameters)[:9] == [
        "source", "repo_url", "commit_range", "version", "content", "title", "tags", "model",
        "temperature"]


def test_manual_and_estimate(repo: Path) -> None:
    async def main() -> tuple[changelog.Changelog, changelog.Estimate]:
        return await asyncio.gather(
            changelog.agenerate(source="manual", content="- hand written\n"),
            changelog.aestimate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0"),
        )

    manual, estimate = asyncio.run(main())
    assert manual.content == "- hand written\n"
    assert estimate.requests == 1


def test_errors_are_raised_when_awaited(repo: Path) -> None:
    with pytest.raises(changelog.SourceError, match="v9.9.9"):
        asyncio.run(changelog.agenerate(repo_url=repo, allow_local=True, commit_range="v9.9.9.."))
    with pytest.raises(changelog.InvalidArgumentError, match="fancy"):
        asyncio.run(changelog.agenerate(repo_url=repo, allow_local=True, style="fancy"))


def test_the_event_loop_keeps_running(repo: Path, openai_stub) -> None:
    openai_stub.delay = 1.0

    async def main() -> tuple[changelog.Changelog, int]:
        ticks = 0
        task = asyncio.create_task(changelog.agenerate(
            repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", provider="openai",
            base_url=openai_stub.url, api_key="sk-test", cache=False))
        while not task.done():
            ticks += 1
            await asyncio.sleep(0.01)
        return await task, ticks

    log, ticks = asyncio.run(main())
    assert log.model == "gpt-4o-mini"
    assert ticks > 20


def test_concurrent_generations(repo: Path, openai_stub) -> None:
    openai_stub.delay = 0.5

    async def main() -> list[changelog.Changelog]:
        return await asyncio.gather(*(
            changelog.agenerate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0",
                                provider="openai", base_url=openai_stub.url, api_key="sk-test",
                                cache=False)
            for _ in range(3)))

    start = time.perf_counter()
    logs = asyncio.run(main())
    assert time.perf_counter() - start < 1.4
    assert logs[0].sections == logs[1].sections == logs[2].sections


def test_cancelling_stops_the_generation(repo: Path, openai_stub) -> None:
    openai_stub.delay = 10.0

    async def main() -> float:
        task = asyncio.create_task(changelog.agenerate(
            repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", provider="openai",
            base_url=openai_stub.url, api_key="sk-test", cache=False))
        await asyncio.sleep(0.3)
        start = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.perf_counter() - start

    assert asyncio.run(main()) < 1.0
