"""The FastAPI example (examples/python/fastapi_service.py), driven by FastAPI's test client."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "python" / "fastapi_service.py"

try:
    from fastapi.testclient import TestClient
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("fastapi (and httpx) are not installed: the example is not tested",
                allow_module_level=True)


def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("CHANGELOG_DATABASE_URL", f"sqlite:///{tmp_path / 'service.db'}")
    spec = importlib.util.spec_from_file_location("fastapi_service", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fastapi_service", module)
    spec.loader.exec_module(module)
    return TestClient(module.app)


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo: Path) -> TestClient:
    """The service with the test repository's directory as its repositories' root."""
    monkeypatch.setenv("CHANGELOG_REPOS_ROOT", str(repo.parent))
    return load(tmp_path, monkeypatch)


def test_repo_url_is_safe_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     repo: Path) -> None:
    monkeypatch.delenv("CHANGELOG_REPOS_ROOT", raising=False)
    monkeypatch.delenv("CHANGELOG_ALLOWED_HOSTS", raising=False)
    client = load(tmp_path, monkeypatch)
    for repo_url in (str(repo), repo.as_uri(), "/etc", None, "fd::0",
                     "--upload-pack=touch /tmp/pwned", "http://127.0.0.1:9/o/r.git",
                     "https://169.254.169.254/latest/meta-data/", "https://2130706433/x"):
        refused = client.post("/changelogs", json={"repo_url": repo_url})
        assert refused.status_code == 400, (repo_url, refused.text)
        assert "refused" in refused.json()["detail"]


def test_clients_stay_under_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     repo: Path) -> None:
    monkeypatch.setenv("CHANGELOG_REPOS_ROOT", str(repo / "src"))
    monkeypatch.setenv("CHANGELOG_ALLOWED_HOSTS", "github.com")
    client = load(tmp_path, monkeypatch)
    for repo_url in (str(repo), str(repo / "src" / ".."), "https://gitlab.com/o/r.git"):
        refused = client.post("/changelogs", json={"repo_url": repo_url})
        assert refused.status_code == 400, (repo_url, refused.text)
        assert "refused" in refused.json()["detail"]


def test_the_endpoint_takes_the_old_request_fields(client: TestClient, repo: Path) -> None:
    created = client.post("/changelogs", json={
        "source": "git", "repo_url": str(repo), "commit_range": "v0.1.0..v0.2.0",
        "version": None, "content": None, "title": "Notes", "tags": ["Weekly"],
        "model": "gpt-4o-mini", "temperature": 0.2,
    })
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["title"] == "Notes" and body["version"] == "v0.2.0"
    assert body["tags"] == ["weekly"] and body["revision"] == 1
    assert [s["title"] for s in body["sections"]][0] == "Breaking Changes"
    assert body["content"].startswith("# Notes")

    read = client.get(f"/changelogs/{body['id']}")
    assert read.status_code == 200 and read.json() == body
    listed = client.get("/changelogs", params={"tag": "weekly"}).json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]

    manual = client.post("/changelogs", json={"source": "manual", "content": "- by hand\n"})
    assert manual.status_code == 201 and manual.json()["content"] == "- by hand\n"


def test_errors_become_http_statuses(client: TestClient, repo: Path) -> None:
    unknown = client.post("/changelogs", json={"repo_url": str(repo),
                                               "commit_range": "v9.9.9..HEAD"})
    assert unknown.status_code == 400 and "v9.9.9" in unknown.json()["detail"]
    invalid = client.post("/changelogs", json={"repo_url": str(repo), "source": "svn"})
    assert invalid.status_code == 422 and "svn" in invalid.json()["detail"]
    missing = client.get("/changelogs/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
