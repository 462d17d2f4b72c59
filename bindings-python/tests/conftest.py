"""Fixtures: a small git repository with tags, a stub of an OpenAI-compatible server on
127.0.0.1, store URLs for SQLite and PostgreSQL, and an environment that holds no provider
settings or keys of the machine's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

PG_URL_VAR = "CHANGELOG_TEST_DATABASE_URL"
IN_CI = os.environ.get("CI") == "true"

# A history with two releases. Dates are fixed so that the output is reproducible.
COMMITS = [
    ("feat(auth): log in with GitHub (#34)", "", None),
    ("fix: crash on empty config", "", None),
    ("docs: describe the loader", "", "v0.1.0"),
    ("feat(api)!: drop the v1 endpoints", "BREAKING CHANGE: clients must use /v2", None),
    ("perf(parser): parse headers once", "", None),
    ("Add a retry to the uploader", "", None),
    ("fix(ui): keep the scroll position", "Closes #77", "v0.2.0"),
    ("chore: bump dependencies", "", None),
    ("feat: export as CSV", "", None),
]


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    ).stdout.strip()


def make_repository(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Ada Lovelace")
    git(path, "config", "user.email", "ada@example.com")
    git(path, "config", "commit.gpgsign", "false")
    git(path, "config", "tag.gpgsign", "false")
    (path / "src").mkdir()
    for number, (summary, body, tag) in enumerate(COMMITS):
        (path / "src" / f"file{number}.txt").write_text(f"{number}\n")
        git(path, "add", "-A")
        stamp = f"2024-05-{number + 1:02d}T12:00:00+00:00"
        message = summary + (f"\n\n{body}" if body else "")
        git(path, "commit", "-q", "-m", message,
            env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
        if tag:
            git(path, "tag", tag)
    return path


@pytest.fixture(scope="session")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository: v0.1.0 (3 commits), v0.2.0 (4 more), then 2 unreleased commits."""
    return make_repository(tmp_path_factory.mktemp("history") / "repo")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No provider settings or keys from the machine; a cache directory of the test's own."""
    for name in ("CHANGELOG_PROVIDER", "CHANGELOG_MODEL", "CHANGELOG_BASE_URL",
                 "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHANGELOG_CACHE_DIR", str(tmp_path / "llm-cache"))


@pytest.fixture(scope="session")
def changelog_binary() -> Path:
    """The `changelog` binary (CHANGELOG_BIN), to compare the bindings' output with."""
    configured = os.environ.get("CHANGELOG_BIN")
    if configured and Path(configured).is_file():
        return Path(configured)
    found = shutil.which("changelog")
    if found:
        return Path(found)
    message = "CHANGELOG_BIN is not set to the `changelog` binary: comparison with the CLI skipped"
    if IN_CI:
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


# --- a stub of an OpenAI-compatible chat completions server ---------------------------------


@dataclass
class Stub:
    """What the stub answers, and the requests it saw."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    # (status, body, extra headers) to answer with instead of a completion, in order.
    failures: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0
    invent: bool = True

    def answer(self, body: dict[str, Any]) -> str:
        """One cited bullet per commit of the prompt, plus one citing a commit that is not in
        the range (verification must drop it)."""
        prompt = body["messages"][-1]["content"]
        bullets = []
        for line in prompt.splitlines():
            if not line.startswith("[") or "] " not in line:
                continue
            short_id, rest = line[1:].split("] ", 1)
            summary = rest.rsplit(" (", 1)[0].replace(" [BREAKING]", "")
            bullets.append(f"- {summary} [{short_id}]")
        if self.invent:
            bullets.append("- something the model made up [0000000]")
        return "## Changes\n\n### Features\n\n" + "\n".join(bullets) + "\n"


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            pass

        def do_POST(self) -> None:  # noqa: N802 - the base's name
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            stub.requests.append(body)
            stub.headers.append({k.lower(): v for k, v in self.headers.items()})
            if stub.delay:
                time.sleep(stub.delay)
            if not self.path.endswith("/chat/completions"):
                return self.reply(404, {"error": {"message": f"no route {self.path}"}})
            if stub.failures:
                status, payload, headers = stub.failures.pop(0)
                return self.reply(status, payload, headers)
            text = stub.answer(body)
            self.reply(200, {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": body["model"],
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }],
                "usage": {
                    "prompt_tokens": 120,
                    "completion_tokens": 40,
                    "total_tokens": 160,
                },
            })

        def reply(self, status: int, payload: dict[str, Any],
                  headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (an interrupted or cancelled call)

    return Handler


@pytest.fixture
def openai_stub() -> Iterator[Stub]:
    """An OpenAI-compatible server on 127.0.0.1; `stub.url` is its base URL (…/v1)."""
    stub = Stub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


# --- stores ----------------------------------------------------------------------------------


def _postgres_url() -> Iterator[str | None]:
    """A PostgreSQL URL whose search path is a fresh schema, dropped afterwards; None (with a
    notice) when PostgreSQL is not configured, or, outside CI, not reachable."""
    base = os.environ.get(PG_URL_VAR)
    if not base:
        if IN_CI:
            pytest.fail(f"CI=true and {PG_URL_VAR} is not set")
        pytest.skip(f"{PG_URL_VAR} is not set: the PostgreSQL half is skipped")
    import psycopg

    schema = f"test_{uuid.uuid4().hex}"
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
    except psycopg.Error as error:
        if IN_CI:
            pytest.fail(f"CI=true and PostgreSQL at {PG_URL_VAR} is unreachable: {error}")
        pytest.skip(f"PostgreSQL at {PG_URL_VAR} is unreachable ({error}): skipped")
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-c%20search_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty store: an SQLite file (SQLAlchemy's `sqlite:////absolute` form), or a
    fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'changelogs.db'}"
    else:
        yield from _postgres_url()
