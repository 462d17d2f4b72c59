"""The repository policy: what `repo_url` may name by default, and the keyword arguments that
widen it (`allow_local`, `allowed_roots`, `allowed_hosts`)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import changelog

# Refusals happen before any file is opened or connection made.
REFUSAL_BOUND = 0.5

HOSTILE = [
    (".", "local paths are not allowed"),
    ("/etc", "local paths are not allowed"),
    ("file:///etc/passwd", "local paths are not allowed"),
    ("fd::0", "remote helper"),
    ("ext::sh -c touch% /tmp/pwned", "remote helper"),
    ("--upload-pack=touch /tmp/pwned", "must not start with `-`"),
    ("ssh://git@github.com/o/r.git", "`ssh` scheme is not allowed"),
    ("git@github.com:o/r.git", "SSH addresses"),
    ("http://github.com/o/r.git", "`http` scheme is not allowed"),
    ("https://127.0.0.1/o/r.git", "loopback"),
    ("https://localhost/o/r.git", "loopback"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://metadata.google.internal/", "metadata"),
    ("https://[fd00:ec2::254]/", "metadata"),
    ("https://10.0.0.1/o/r.git", "private"),
    ("https://100.64.0.1/o/r.git", "carrier-grade NAT"),
    ("https://[::ffff:127.0.0.1]/o/r.git", "IPv4-mapped"),
    ("https://2130706433/o/r.git", "loopback"),
    ("https://0x7f000001/o/r.git", "loopback"),
    ("https://0177.0.0.1/o/r.git", "loopback"),
    ("https://127.1/o/r.git", "loopback"),
]


@pytest.mark.parametrize(("repo_url", "reason"), HOSTILE)
def test_hostile_repo_urls_are_refused_quickly(repo_url: str, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(changelog.SourceError, match="refused") as caught:
        changelog.generate(repo_url=repo_url)
    elapsed = time.monotonic() - started
    assert reason in str(caught.value)
    assert elapsed < REFUSAL_BOUND, f"{repo_url}: {elapsed:.3f} s"


def test_local_paths_need_an_opt_in(repo: Path) -> None:
    with pytest.raises(changelog.SourceError, match="local paths are not allowed"):
        changelog.generate(repo_url=repo, commit_range="v0.1.0..v0.2.0")
    with pytest.raises(changelog.SourceError, match="local paths are not allowed"):
        changelog.estimate(repo_url=repo, commit_range="v0.1.0..v0.2.0")
    log = changelog.generate(repo_url=repo, commit_range="v0.1.0..v0.2.0", allow_local=True)
    assert log.stats.commits == 4


def test_allowed_roots(repo: Path, tmp_path: Path) -> None:
    inside = changelog.generate(repo_url=repo, commit_range="v0.1.0..v0.2.0",
                                allowed_roots=[repo.parent])
    assert inside.stats.commits == 4
    escape = tmp_path / "escape"
    escape.symlink_to(repo)
    for outside, roots in ((escape, [tmp_path]),         # a symlink leaving its root
                           (repo / "src" / "..", [repo / "src"]),  # `..`
                           (repo, [tmp_path])):          # elsewhere
        with pytest.raises(changelog.SourceError, match="not under an allowed root"):
            changelog.generate(repo_url=outside, allowed_roots=roots)


def test_allowed_hosts_and_async_twins() -> None:
    with pytest.raises(changelog.SourceError, match="not on the allowed hosts"):
        changelog.generate(repo_url="https://evil.example/o/r.git", allowed_hosts=["github.com"])
    with pytest.raises(changelog.SourceError, match="local paths are not allowed"):
        asyncio.run(changelog.agenerate(repo_url="/etc"))
    with pytest.raises(changelog.SourceError, match="loopback"):
        asyncio.run(changelog.aestimate(repo_url="https://127.1/o/r.git"))


def test_a_token_in_the_user_name_is_never_shown() -> None:
    token = "ghp_S3cretTokenValue"
    for repo_url in (f"https://{token}@127.0.0.1/o/r.git",
                     f"https://user:{token}@10.1.2.3/o/r.git"):
        with pytest.raises(changelog.SourceError) as caught:
            changelog.generate(repo_url=repo_url)
        assert token not in str(caught.value)
        assert "/o/r.git" in str(caught.value)
