"""`changelog.Store` on SQLite and PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

import changelog


@pytest.fixture
def generated(repo: Path) -> changelog.Changelog:
    return changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.1.0..v0.2.0",
                              tags=["Backend", "api", "api"])


def test_save_and_get(store_url: str, generated: changelog.Changelog) -> None:
    store = changelog.Store(store_url)
    assert store.user == "local"
    saved = store.save(generated, public=True)
    assert saved.id is not None and saved.revision == 1
    assert saved.is_public is True
    assert saved.owner_id is not None
    assert saved.tags == ["api", "backend"]  # normalised by the store
    assert isinstance(saved.created_at, datetime.datetime)
    assert saved.created_at.tzinfo is not None
    loaded = store.get(saved.id)
    assert loaded.id == saved.id
    assert loaded.sections == generated.sections
    assert loaded.to_dict() == generated.to_dict()
    assert loaded.content == generated.content
    assert loaded.commit_range == "v0.1.0..v0.2.0"
    assert loaded.source == "git"
    assert repr(loaded).endswith(f"id='{saved.id}', revision=1)")


def test_manual_changelogs(store_url: str) -> None:
    store = changelog.Store(store_url)
    manual = changelog.generate(source="manual", content="# Notes\n\n- by hand\n",
                                title="Notes", version="2.0.0", tags=["docs"])
    saved = store.save(manual)
    loaded = store.get(saved.id)
    assert (loaded.source, loaded.content, loaded.title, loaded.version) == (
        "manual", "# Notes\n\n- by hand\n", "Notes", "2.0.0")
    assert loaded.sections == []
    assert loaded.is_public is False


def test_update_with_a_revision(store_url: str, generated: changelog.Changelog) -> None:
    store = changelog.Store(store_url)
    saved = store.save(generated)
    updated = store.update(saved.id, revision=1, title="v0.2.0 release", tags=["release"])
    assert updated.revision == 2
    assert updated.title == "v0.2.0 release"
    assert updated.to_dict()["title"] == "v0.2.0 release"
    assert updated.tags == ["release"]
    assert updated.sections == generated.sections  # the document is kept
    with pytest.raises(changelog.ConflictError) as caught:
        store.update(saved.id, revision=1, title="stale")
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert "revision" in str(caught.value)
    edited = store.update(saved.id, revision=2, content="# Edited by hand\n", version="")
    assert edited.content == "# Edited by hand\n"
    assert edited.version is None
    assert edited.sections == []  # hand-written content has no structured document
    versions = store.versions(saved.id)
    assert [v.revision for v in versions] == [1, 2, 3]
    assert [v.title for v in versions] == ["Changelog", "v0.2.0 release", "v0.2.0 release"]
    assert versions[0].changelog_id == saved.id
    assert versions[2].edited_by == saved.owner_id
    assert versions[0].version == "v0.2.0"


def test_update_with_a_new_changelog(store_url: str, repo: Path,
                                     generated: changelog.Changelog) -> None:
    store = changelog.Store(store_url)
    saved = store.save(generated)
    newer = changelog.generate(repo_url=repo, allow_local=True, commit_range="v0.2.0..HEAD", version="v0.3.0")
    updated = store.update(saved.id, revision=saved.revision, changelog=newer)
    assert updated.version == "v0.3.0"
    assert updated.sections == newer.sections
    assert updated.content == newer.content


def test_not_found_and_bad_ids(store_url: str) -> None:
    store = changelog.Store(store_url)
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(changelog.NotFoundError, match=missing):
        store.get(missing)
    with pytest.raises(LookupError):
        store.versions(missing)
    with pytest.raises(changelog.InvalidArgumentError, match="not-a-uuid"):
        store.get("not-a-uuid")


def test_delete(store_url: str, generated: changelog.Changelog) -> None:
    store = changelog.Store(store_url)
    saved = store.save(generated)
    store.delete(saved.id)
    with pytest.raises(changelog.NotFoundError):
        store.get(saved.id)


def test_list_filters_sorts_and_pages(store_url: str, repo: Path) -> None:
    store = changelog.Store(store_url)
    other = changelog.Store(store_url, user="grace")
    made = []
    for number, (tags, public) in enumerate([(["api"], True), (["api", "ui"], False),
                                             (["ui"], True), ([], False)]):
        log = changelog.generate(source="manual", content=f"# Release {number}\n\nparser "
                                 f"{'rewrite' if number == 2 else 'work'}\n",
                                 title=f"Release {number}", version=f"v1.{number}.0",
                                 tags=tags, repo_url="https://github.com/acme/app"
                                 if number < 2 else "https://github.com/acme/lib")
        made.append((other if number == 3 else store).save(log, public=public))

    every = store.list()
    assert [c.title for c in every] == ["Release 3", "Release 2", "Release 1", "Release 0"]
    assert len(every) == 4 and every.next_cursor is None
    assert [c.title for c in store.list(owner="local", sort="title", direction="asc")] == [
        "Release 0", "Release 1", "Release 2"]
    assert [c.title for c in store.list(owner="grace")] == ["Release 3"]
    assert store.list(owner="nobody").items == []
    assert {c.title for c in store.list(tags=["api"])} == {"Release 0", "Release 1"}
    assert [c.title for c in store.list(tags=["API", "ui"], tag_match="all")] == ["Release 1"]
    assert [c.title for c in store.list(version="v1.2.0")] == ["Release 2"]
    assert {c.title for c in store.list(public=True)} == {"Release 0", "Release 2"}
    assert {c.title for c in store.list(repository="https://github.com/acme/app")} == {
        "Release 0", "Release 1"}
    assert [c.title for c in store.list(text="rewrite")] == ["Release 2"]
    assert [c.title for c in store.list(sort="version", direction="desc", limit=2)] == [
        "Release 3", "Release 2"]
    now = datetime.datetime.now(datetime.timezone.utc)
    assert len(store.list(created_since=now - datetime.timedelta(hours=1))) == 4
    assert len(store.list(created_until=now - datetime.timedelta(hours=1))) == 0
    assert len(store.list(created_since=now.date().isoformat())) == 4
    assert store.tags() == ["api", "ui"]

    first = store.list(sort="title", direction="asc", limit=3)
    assert len(first) == 3 and first.next_cursor is not None
    rest = store.list(sort="title", direction="asc", limit=3, cursor=first.next_cursor)
    assert [c.title for c in rest] == ["Release 3"] and rest.next_cursor is None
    with pytest.raises(changelog.InvalidArgumentError, match="cursor"):
        store.list(sort="updated", cursor=first.next_cursor)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"sort": "size"}, "size"),
        ({"direction": "up"}, "up"),
        ({"tag_match": "some"}, "some"),
        ({"limit": 0}, "limit"),
        ({"created_since": "last week"}, "last week"),
    ],
)
def test_list_arguments_are_checked(tmp_path: Path, arguments: dict, named: str) -> None:
    store = changelog.Store(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValueError, match=named):
        store.list(**arguments)


def test_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     generated: changelog.Changelog) -> None:
    monkeypatch.chdir(tmp_path)
    relative = changelog.Store("sqlite:///relative.db")  # SQLAlchemy's relative form
    relative.save(generated)
    assert (tmp_path / "relative.db").is_file()
    absolute = changelog.Store(f"sqlite:////{tmp_path.relative_to('/')}/absolute.db")
    assert (tmp_path / "absolute.db").is_file()
    assert absolute.list().items == []
    memory = changelog.Store("sqlite://")
    assert memory.get(memory.save(generated).id).title == "Changelog"
    reopened = changelog.Store("sqlite:///relative.db")
    assert len(reopened.list()) == 1


def test_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(changelog.InvalidArgumentError, match="mysql"):
        changelog.Store("mysql://root@localhost/db")
    with pytest.raises(changelog.InvalidArgumentError, match="store URL"):
        changelog.Store("changelogs.db")
    with pytest.raises(changelog.StoreError, match="no/such/dir") as caught:
        changelog.Store(f"sqlite:///{tmp_path}/no/such/dir/x.db")
    assert not isinstance(caught.value, ValueError)


def test_unreachable_postgres_hides_the_password() -> None:
    with pytest.raises(changelog.StoreError) as caught:
        changelog.Store("postgres://me:hunter2@127.0.0.1:1/db?connect_timeout=2")
    assert "hunter2" not in str(caught.value)
    assert "postgres://me@127.0.0.1:1/db" in str(caught.value)

