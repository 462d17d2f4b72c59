"""A child made by `os.fork()` after the parent used the module (gunicorn `--preload`, Celery's
prefork pool, `multiprocessing`) works on its first call: it builds its own runtime and opens
its own connections to the store."""

from __future__ import annotations

import asyncio
import multiprocessing
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import changelog

RANGE = "v0.1.0..v0.2.0"
# A child that hangs fails the test after this long instead of blocking the suite.
CHILD_SECONDS = 60

pytestmark = [
    pytest.mark.timeout(3 * CHILD_SECONDS),
    # Python 3.12+ warns that fork() in a process with threads may deadlock the child: that
    # is the situation these tests put the module in, on purpose.
    pytest.mark.filterwarnings("ignore:This process.*multi-threaded:DeprecationWarning"),
]


def in_forked_child(work: Callable[[], Any]) -> Any:
    """Runs `work` in a child made by fork() and returns its result (or raises its error)."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def child() -> None:
        try:
            results.put(("ok", work()))
        except BaseException as error:  # noqa: BLE001 - everything goes back to the parent
            results.put(("error", f"{type(error).__name__}: {error}\n{traceback.format_exc()}"))

    process = context.Process(target=child)
    process.start()
    try:
        outcome, value = results.get(timeout=CHILD_SECONDS)
    except Exception:  # noqa: BLE001 - queue.Empty: the child hung
        process.kill()
        process.join()
        pytest.fail(f"the forked child did not answer within {CHILD_SECONDS} s (it hangs)")
    process.join(CHILD_SECONDS)
    if outcome == "error":
        pytest.fail(f"the forked child failed: {value}")
    return value


def test_a_forked_child_generates_and_uses_the_parents_store(
    store_url: str, repo: Path
) -> None:
    # The parent uses everything first: its runtime's threads and its pool's connections exist.
    store = changelog.Store(store_url)
    parents = store.save(
        changelog.generate(repo_url=repo, allow_local=True, commit_range=RANGE), public=True
    )
    assert asyncio.run(changelog.agenerate(repo_url=repo, allow_local=True, commit_range=RANGE)).sections
    assert len(store.list()) == 1

    def child() -> dict[str, Any]:
        generated = changelog.generate(
            repo_url=repo, allow_local=True, commit_range=RANGE, title="from the child"
        )
        awaited = asyncio.run(changelog.agenerate(repo_url=repo, allow_local=True, commit_range=RANGE))
        read = store.get(parents.id)
        saved = store.save(generated)
        updated = store.update(saved.id, revision=1, tags=["child"])
        return {
            "read": read.title,
            "sections": len(awaited.sections),
            "saved": saved.id,
            "revision": updated.revision,
            "listed": len(store.list()),
        }

    result = in_forked_child(child)
    assert result["read"] == parents.title
    assert result["sections"] > 0
    assert result["revision"] == 2
    assert result["listed"] == 2
    # The child wrote through its own connections; the parent's still work and see the write.
    from_child = store.get(result["saved"])
    assert (from_child.title, from_child.revision, from_child.tags) == (
        "from the child", 2, ["child"])
    assert len(store.list()) == 2
    assert store.save(changelog.generate(source="manual", content="- after\n")).revision == 1


def test_a_forked_child_told_what_to_do_with_an_in_memory_store(repo: Path) -> None:
    store = changelog.Store("sqlite://")
    store.save(changelog.generate(repo_url=repo, allow_local=True, commit_range=RANGE))

    def child() -> str:
        try:
            store.list()
        except changelog.StoreError as error:
            return str(error)
        return "no error"

    message = in_forked_child(child)
    assert "fork()" in message, message
    assert "open the store in the child" in message, message
    # The parent's store is unaffected.
    assert len(store.list()) == 1
