"""Storage that fails or is damaged, and storage kept private.

- A full database disk (SQLite's ``SQLITE_FULL``, PostgreSQL's SQLSTATE 53100) is a 507
  ``storage_full`` wherever it strikes, as a full blob disk is: nothing half-stored shows, and
  the server works again once there is room. SQLite is filled for real (``max_page_count``);
  PostgreSQL's full disk is raised by a trigger with that SQLSTATE.
- A damaged object (truncated, a part lost, missing) is a 410 ``object_damaged`` before any
  byte is sent, never a 500.
- The data directory is 0700 and what the server writes in it 0600, also when an earlier
  version made them wider.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg.errors
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import IntegrityError

from photoark.server.app import create_app
from photoark.server.config import ServerSettings
from photoark.server.errors import StorageFull
from photoark.server.store.db import create_db_engine, is_disk_full

from .conftest import Account, Api

PART = 64 * 1024
SQLITE_NO_LIMIT = 1073741823


@contextlib.contextmanager
def database_full(api: Api, table: str) -> Iterator[None]:
    """The database's disk is full from now to the end of the block: SQLite may grow by no
    page; PostgreSQL refuses writes to ``table`` with SQLSTATE 53100 (disk_full)."""
    engine: Engine = api.app.state.engine
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())

        def limit(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

        event.listen(engine, "checkout", limit)
        try:
            yield
        finally:
            event.remove(engine, "checkout", limit)
            with engine.connect() as conn:  # every pooled connection gets room again
                conn.exec_driver_sql(f"PRAGMA max_page_count = {SQLITE_NO_LIMIT}")
            engine.dispose()
        return
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION photoark_test_full() RETURNS trigger AS $$ BEGIN"
                " RAISE EXCEPTION 'could not extend file: No space left on device'"
                " USING ERRCODE = 'disk_full'; END $$ LANGUAGE plpgsql"
            )
        )
        conn.execute(
            text(
                f"CREATE TRIGGER photoark_test_full BEFORE INSERT OR UPDATE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION photoark_test_full()"
            )
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TRIGGER photoark_test_full ON {table}"))
            conn.execute(text("DROP FUNCTION photoark_test_full()"))


@pytest.mark.local_blobs
def test_a_full_database_on_a_part_commit_is_storage_full(api: Api, alice: Account) -> None:
    album = api.album(alice)
    parts = [os.urandom(PART) for _ in range(120)]  # SQLite fills up after about 36
    session = api.open_upload(alice, PART * len(parts), PART).json()
    failed: int | None = None
    with database_full(api, "upload_parts"):
        for number, data in enumerate(parts):
            response = api.put_part(alice, session["id"], number, data)
            if response.status_code != 200:
                assert response.status_code == 507, response.text
                assert response.json()["code"] == "storage_full"
                failed = number
                break
        assert failed is not None, "the database never filled up"
        # reads still work while it is full
        assert api.http.get("/health").status_code == 200
        assert api.usage(alice)["files"] == 0
        held = api.http.get(f"/uploads/{session['id']}", headers=alice.headers).json()
        assert [p["number"] for p in held["parts"]] == list(range(failed))
    # room again: the same server goes on where it stopped
    for number in range(failed, len(parts)):
        response = api.put_part(alice, session["id"], number, parts[number])
        assert response.status_code == 200, response.text
    from .conftest import Uploaded

    committed = api.commit(alice, album, Uploaded(session["id"], b"".join(parts)))
    assert committed.status_code == 201, committed.text
    download = api.http.get(f"/files/{committed.json()['id']}/content", headers=alice.headers)
    assert download.content == b"".join(parts)


@pytest.mark.local_blobs
def test_a_full_database_on_a_bundle_leaves_nothing(api: Api, alice: Account) -> None:
    album = api.album(alice)
    contents = [os.urandom(300) for _ in range(128)]
    ids = [uuid.uuid4().hex for _ in contents]
    objects = {k.key for k in api.blobs.list_objects()}
    with database_full(api, "files"):
        response = api.bundle(alice, album, contents, upload_ids=ids)
        assert response.status_code == 507, response.text
        assert response.json()["code"] == "storage_full"
    assert api.usage(alice)["files"] == 0
    assert {k.key for k in api.blobs.list_objects()} == objects  # its objects were dropped
    diff = api.http.get("/diff", params={"since": 0}, headers=alice.headers).json()
    assert diff["entries"] == []
    again = api.bundle(alice, album, contents, upload_ids=ids)
    assert again.status_code == 201, again.text
    assert api.usage(alice)["files"] == 128


def test_disk_full_is_told_by_the_driver_s_code(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "full.db")
    db.execute("CREATE TABLE t (x BLOB)")
    db.execute("PRAGMA max_page_count = 2")
    with pytest.raises(sqlite3.OperationalError) as full:
        db.execute("INSERT INTO t VALUES (randomblob(100000))")
    db.close()
    assert is_disk_full(full.value)
    assert is_disk_full(psycopg.errors.DiskFull("no space"))
    assert not is_disk_full(sqlite3.OperationalError("database or disk is full"))  # no code
    assert not is_disk_full(psycopg.errors.UniqueViolation("dup"))
    assert not is_disk_full(OSError(28, "No space left on device"))


def test_other_database_errors_pass_unchanged(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path}/db.sqlite")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(StorageFull) as info, engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA max_page_count = 1")  # not below the current size
            conn.execute(
                text(
                    "WITH RECURSIVE n(x) AS (SELECT 2 UNION ALL SELECT x + 1 FROM n"
                    " WHERE x < 100000) INSERT INTO t SELECT x FROM n"
                )
            )
        assert is_disk_full(info.value.__cause__)
    finally:
        engine.dispose()


# -- damaged objects ----------------------------------------------------------------------------


def object_path(api: Api, file_id: int, kind: str = "content") -> Path:
    with api.app.state.engine.connect() as conn:
        key = conn.execute(
            text(f"SELECT {kind}_object FROM files WHERE id = :i"), {"i": file_id}
        ).scalar_one()
    path: Path = api.app.state.settings.data_dir / "blobs" / key[:2] / key
    return path


@pytest.mark.local_blobs
def test_a_damaged_object_is_object_damaged_not_a_crash(api: Api, alice: Account) -> None:
    album = api.album(alice)
    small = api.bundle(alice, album, [os.urandom(5000), os.urandom(5000)]).json()["files"]
    large, large_data = api.new_file(alice, album, size=3 * PART + 10, thumb_size=2000)
    os.truncate(object_path(api, small[0]["id"]), 1000)  # a one-part object, cut short
    os.truncate(object_path(api, large["id"]) / "00000001.part", 7)  # a part of a large one
    (object_path(api, large["id"], "thumbnail") / "00000000.part").unlink()  # a part lost
    cases = [
        (small[0]["id"], "content", None, 1000),
        (small[0]["id"], "content", "bytes=10-20", 1000),
        (large["id"], "content", None, 2 * PART + 17),
        (large["id"], "content", "bytes=0-99", 2 * PART + 17),  # even a range that is intact
        (large["id"], "thumbnail", None, None),
    ]
    for file_id, kind, byte_range, stored in cases:
        headers = {**alice.headers, **({"Range": byte_range} if byte_range else {})}
        response = api.http.get(f"/files/{file_id}/{kind}", headers=headers)
        assert response.status_code == 410, (file_id, kind, response.text)
        body = response.json()
        assert body["code"] == "object_damaged"
        assert f"file {file_id}" in body["message"]
        assert body["details"]["stored_size"] == stored
    intact = api.http.get(f"/files/{small[1]['id']}/content", headers=alice.headers)
    assert intact.status_code == 200 and len(intact.content) == 5000
    assert api.http.get("/health").status_code == 200
    assert len(large_data) == large["content_size"]


@pytest.mark.local_blobs
def test_a_missing_object_is_object_damaged(api: Api, alice: Account) -> None:
    album = api.album(alice)
    record = api.bundle(alice, album, [os.urandom(100)]).json()["files"][0]
    object_path(api, record["id"]).unlink()
    response = api.http.get(f"/files/{record['id']}/content", headers=alice.headers)
    assert response.status_code == 410 and response.json()["code"] == "object_damaged"
    assert response.json()["details"]["stored_size"] is None


# -- private storage ----------------------------------------------------------------------------


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


@pytest.mark.local_blobs
def test_the_data_directory_is_private(api: Api, alice: Account, database_url: str) -> None:
    album = api.album(alice)
    api.new_file(alice, album, size=2 * PART + 1, thumb_size=100)
    api.bundle(alice, album, [b"small"])
    api.commit(alice, album, api.upload(alice, b"x" * 10), inline_thumbnail=b"thumb")
    api.upload(alice, os.urandom(2 * PART), part_size=PART, skip=frozenset({1}))
    root: Path = api.app.state.settings.data_dir
    found = modes(root)
    assert len(found) > 10
    if database_url.startswith("sqlite"):
        database = Path(database_url.removeprefix("sqlite:///"))
        for name in (database.name, f"{database.name}-wal", f"{database.name}-shm"):
            assert stat.S_IMODE((database.parent / name).stat().st_mode) == 0o600, name
    wrong = {
        name: oct(mode)
        for name, mode in found.items()
        if mode != (0o700 if (root / name).is_dir() else 0o600)
    }
    assert wrong == {}


@pytest.mark.local_blobs  # the database file is SQLite's
def test_an_existing_data_directory_is_made_private(tmp_path: Path, database_url: str) -> None:
    assert database_url.startswith("sqlite")
    data = tmp_path / "server0"
    settings = ServerSettings(data_dir=data, database_url=database_url, login_hash="min")
    create_app(settings).state.engine.dispose()
    database = Path(database_url.removeprefix("sqlite:///"))
    os.chmod(data, 0o755)
    os.chmod(database, 0o644)
    for sub in ("blobs", "uploads"):
        os.chmod(data / sub, 0o755)
    create_app(settings).state.engine.dispose()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    for sub in ("blobs", "uploads"):
        assert stat.S_IMODE((data / sub).stat().st_mode) == 0o700


def test_a_new_data_directory_is_private_whatever_the_umask(
    tmp_path: Path, database_url: str
) -> None:
    old = os.umask(0o002)
    try:
        data = tmp_path / "fresh" / "server"
        settings = ServerSettings(data_dir=data, database_url=database_url, login_hash="min")
        create_app(settings).state.engine.dispose()
    finally:
        os.umask(old)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    if database_url.startswith("sqlite"):
        database = Path(database_url.removeprefix("sqlite:///"))
        assert stat.S_IMODE(database.stat().st_mode) == 0o600
