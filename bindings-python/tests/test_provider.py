"""The LLM path against a local stub speaking OpenAI's chat completions wire format."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import changelog

SECRET = "sk-test-secret-0123456789"


def generate(repo: Path, stub, **arguments):
    return changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", provider="openai",
                              base_url=stub.url, api_key=SECRET, cache=False, **arguments)


def test_a_model_writes_cited_entries(repo: Path, openai_stub) -> None:
    log = generate(repo, openai_stub, model="gpt-4o-mini", temperature=0.3, title="Notes")
    [request] = openai_stub.requests
    assert request["model"] == "gpt-4o-mini"
    assert request["temperature"] == pytest.approx(0.3)
    assert openai_stub.headers[0]["authorization"] == f"Bearer {SECRET}"
    assert log.model == "gpt-4o-mini"
    assert log.title == "Notes"
    texts = [entry.text for section in log.sections for entry in section.entries]
    assert "feat(api)!: drop the v1 endpoints" in texts
    assert all(len(entry.commits) == 1 for s in log.sections for entry in s.entries)
    # The bullet citing a commit outside the range was dropped and counted.
    assert "something the model made up" not in log.content
    assert log.verification is not None
    assert log.verification.dropped_entries == 1
    assert log.verification.coverage == pytest.approx(1.0)
    assert log.usage is not None
    assert (log.usage.input_tokens, log.usage.output_tokens, log.usage.requests) == (120, 40, 1)
    document = log.to_dict()
    assert document["usage"]["requests"] == 1
    assert document["verification"]["dropped_entries"] == 1


def test_the_provider_from_the_environment(repo: Path, openai_stub,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHANGELOG_PROVIDER", "openai")
    monkeypatch.setenv("CHANGELOG_BASE_URL", openai_stub.url)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    log = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", model="gpt-4o",
                             cache=False)
    assert log.model == "gpt-4o"
    assert len(openai_stub.requests) == 1
    # provider="none" turns the model off whatever the environment says.
    plain = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", provider="none")
    assert plain.model is None


def test_answers_are_cached(repo: Path, openai_stub, tmp_path: Path) -> None:
    cache = tmp_path / "answers"
    first = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", provider="openai",
                               base_url=openai_stub.url, api_key=SECRET, cache=cache)
    second = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", provider="openai",
                                base_url=openai_stub.url, api_key=SECRET, cache=str(cache))
    assert len(openai_stub.requests) == 1
    assert second.sections == first.sections
    assert second.usage is not None and second.usage.cached_requests == 1
    assert any(cache.iterdir())


def test_a_rate_limit_is_retryable(repo: Path, openai_stub) -> None:
    limited = (429, {"error": {"message": "Rate limit reached", "type": "requests"}},
               {"Retry-After": "0"})
    openai_stub.failures = [limited] * 4
    with pytest.raises(changelog.ProviderError) as caught:
        generate(repo, openai_stub)
    assert caught.value.retryable is True
    assert caught.value.status == 429
    assert "429" in str(caught.value)
    assert len(openai_stub.requests) == 4  # the retry policy's attempts


def test_a_retry_that_succeeds(repo: Path, openai_stub) -> None:
    openai_stub.failures = [(503, {"error": {"message": "overloaded"}}, {"Retry-After": "0"})]
    log = generate(repo, openai_stub)
    assert len(openai_stub.requests) == 2
    assert log.usage is not None and log.usage.requests == 1


def test_a_bad_request_is_not_retryable_and_hides_the_key(repo: Path, openai_stub) -> None:
    openai_stub.failures = [(400, {"error": {"message": f"Invalid request for key {SECRET}"}},
                             {})]
    with pytest.raises(changelog.ProviderError) as caught:
        generate(repo, openai_stub)
    assert caught.value.retryable is False
    assert caught.value.status == 400
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    assert len(openai_stub.requests) == 1


def test_fallback_models(repo: Path, openai_stub) -> None:
    openai_stub.failures = [(404, {"error": {"message": "model not found"}}, {})]
    log = generate(repo, openai_stub, model="gpt-missing", fallback_models=["gpt-4o-mini"])
    assert [r["model"] for r in openai_stub.requests] == ["gpt-missing", "gpt-4o-mini"]
    assert log.model == "gpt-4o-mini"


def test_styles_that_need_a_model(repo: Path, openai_stub) -> None:
    log = generate(repo, openai_stub, style="release-notes")
    system = openai_stub.requests[0]["messages"][0]["content"]
    assert "release notes" in system.lower()
    assert log.sections


def test_the_gil_is_released(repo: Path, openai_stub) -> None:
    """Two generations in two threads, each waiting 1 s on the server, take about 1 s."""
    openai_stub.delay = 1.0
    results: list[changelog.Changelog] = []

    def work() -> None:
        results.append(generate(repo, openai_stub))

    threads = [threading.Thread(target=work) for _ in range(2)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    ticks = 0
    while any(thread.is_alive() for thread in threads):
        ticks += 1  # this thread runs Python all along
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    assert len(results) == 2
    assert elapsed < 1.8, elapsed
    assert ticks > 30


def test_simulated_provider_offline(repo: Path) -> None:
    log = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0", provider="simulated",
                             cache=False)
    assert log.model == "simulated"
    assert log.verification is not None and log.verification.dropped_entries == 0
    assert {s.title for s in log.sections} >= {"Breaking Changes"}


def test_secrets_stay_out_of_reprs(repo: Path, openai_stub) -> None:
    log = generate(repo, openai_stub)
    assert SECRET not in repr(log)
    assert SECRET not in log.to_json()


def test_the_default_temperature_is_the_command_lines(repo: Path, openai_stub) -> None:
    # One default for every front end: the core's (0.2), not a per-binding choice.
    generate(repo, openai_stub, model="gpt-4o-mini")
    [request] = openai_stub.requests
    assert request["temperature"] == pytest.approx(0.2)
