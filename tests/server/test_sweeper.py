"""The blob sweeper: what crashes and refused writes leave (temporaries, unreferenced objects,
parts of no session, expired sessions) is removed; nothing a row names, and nothing younger
than the grace period, ever is; two replicas sweeping at once agree. Also the blob stores'
listing contract it relies on (local directory and in-memory)."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, text

from photoark.server.blobs import BlobStore, LocalBlobStore, MemoryBlobStore
from photoark.server.services.sweeper import Sweeper, SweepReport
from photoark.server.store import schema
from photoark.server.store.sweep import KEY_COLUMNS, SweepStore

from .conftest import Account, Api, AppFactory

PART = 5 * 1024 * 1024


def sweeper(api: Api, grace: float = 0.0) -> Sweeper:
    return Sweeper(SweepStore(api.app.state.engine), api.blobs, api.services.uploads, grace)


def data_dir(api: Api) -> Path:
    path: Path = api.app.state.settings.data_dir
    return path


def leftovers(root: Path) -> list[str]:
    """Temporary files and staging directories under a local store's data dir."""
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if (p.name.startswith(".") and p.name.endswith(".tmp")) or p.name.startswith(".put-")
    )


def plant_garbage(api: Api) -> dict[str, str]:
    """What a killed server leaves in a local store: an object no row names (a bundle whose
    transaction never ran), parts of no session, temporaries of interrupted writes, and a
    staging directory of an interrupted ``put_object``."""
    root = data_dir(api)
    garbage = {"object": secrets.token_hex(16), "upload": secrets.token_hex(16)}
    api.blobs.put_objects([(garbage["object"], b"never committed")])
    api.blobs.put_part(garbage["upload"], 0, b"a part of no session")
    fan = root / "blobs" / garbage["object"][:2]
    (fan / f".{secrets.token_hex(16)}.0a1b2c3d.tmp").write_bytes(b"half an object")
    (root / "uploads" / garbage["upload"] / ".00000001.part.deadbeef.tmp").write_bytes(b"half")
    staging = root / "uploads" / f".put-{secrets.token_hex(16)}-0badf00d"
    staging.mkdir()
    (staging / "00000000.part").write_bytes(b"thumb")
    return garbage


def test_a_sweep_removes_garbage_and_keeps_everything_named(api: Api, alice: Account) -> None:
    album = api.album(alice)
    kept, content = api.new_file(alice, album, size=PART + 1000, thumb_size=3000)
    bundled = api.bundle(alice, album, [os.urandom(700)])
    assert bundled.status_code == 201, bundled.text
    small = api.upload(alice, os.urandom(900))
    inline = api.commit(alice, album, small, inline_thumbnail=b"t" * 99)
    assert inline.status_code == 201, inline.text
    open_session = api.upload(alice, os.urandom(2 * PART), skip=frozenset({1}))
    # a session whose object a commit completed before failing: named by its upload row
    completed = api.upload(alice, os.urandom(800))
    row = api.services.upload_store.get(alice.user_id, completed.upload_id)
    api.blobs.complete(row.id, row.object_key, row.part_count)
    # a file deleted for good whose blobs a crash kept: its row keeps the keys, names nothing
    doomed, _ = api.new_file(alice, album, size=600, thumb_size=50)
    crash = api.blobs.delete

    def killed_first(object_key: str) -> None:  # the server dies before deleting the blobs
        pass

    api.blobs.delete = killed_first  # type: ignore[method-assign]
    try:
        for path in ("/files/trash", "/trash/delete"):
            response = api.http.post(path, json={"file_ids": [doomed["id"]]}, headers=alice.headers)
            assert response.status_code in (200, 201), response.text
    finally:
        api.blobs.delete = crash  # type: ignore[method-assign]
    with api.app.state.engine.connect() as conn:
        doomed_keys = list(
            conn.execute(
                text("SELECT content_object, thumbnail_object FROM files WHERE id = :i"),
                {"i": doomed["id"]},
            ).one()
        )
    garbage = plant_garbage(api)
    objects_before = {k.key for k in api.blobs.list_objects()}
    assert set(doomed_keys) | {garbage["object"]} <= objects_before

    report = sweeper(api).sweep()

    # the temporary inside the abandoned upload goes with it
    assert report.objects == 3 and report.uploads == 1 and report.temporaries == 2, report
    assert leftovers(data_dir(api)) == []
    objects_after = {k.key for k in api.blobs.list_objects()}
    assert objects_after == objects_before - set(doomed_keys) - {garbage["object"]}
    assert {k.key for k in api.blobs.list_uploads()} == {open_session.upload_id}
    download = api.http.get(f"/files/{kept['id']}/content", headers=alice.headers)
    assert download.status_code == 200 and download.content == content
    for record in [*bundled.json()["files"], inline.json(), kept]:
        for kind in ("content", "thumbnail"):
            if kind == "content" or record["thumbnail_size"]:
                got = api.http.get(f"/files/{record['id']}/{kind}", headers=alice.headers)
                assert got.status_code == 200, got.text
    assert api.blobs.object_size(row.object_key) == 800  # its session may still commit
    commit = api.commit(alice, album, completed)
    assert commit.status_code == 201, commit.text
    # idempotent: a second round finds nothing
    assert not sweeper(api).sweep()


def test_nothing_younger_than_the_grace_period_is_swept(api: Api) -> None:
    garbage = plant_garbage(api)
    report = sweeper(api, grace=3600).sweep()
    assert report == SweepReport()
    assert api.blobs.object_size(garbage["object"]) is not None
    assert api.blobs.part_sizes(garbage["upload"]) == {0: 20}
    assert len(leftovers(data_dir(api))) == 3
    # aged past the grace period, they go
    old = time.time() - 7200
    for path in data_dir(api).rglob("*"):
        os.utime(path, (old, old), follow_symlinks=False)
    report = sweeper(api, grace=3600).sweep()
    assert (report.objects, report.uploads, report.temporaries) == (1, 1, 2)


def test_expired_sessions_go_with_their_parts(make_api: AppFactory) -> None:
    api = make_api(upload_expiry_seconds=-1)
    alice = api.signup()
    session = api.open_upload(alice, PART).json()
    api.blobs.put_part(session["id"], 0, b"x")
    report = sweeper(api, grace=3600).sweep()  # expiry is not the grace period's business
    assert report.expired_sessions == 1 and report.uploads == 0
    assert api.blobs.part_sizes(session["id"]) == {}


def test_two_replicas_sweeping_at_once(api: Api, alice: Account) -> None:
    album = api.album(alice)
    files = [api.new_file(alice, album, size=500 + i, thumb_size=40)[0] for i in range(6)]
    for _ in range(20):
        plant_garbage(api)
    before = {k.key for k in api.blobs.list_objects()}
    reports: list[SweepReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(sweeper(api).sweep())
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert leftovers(data_dir(api)) == []
    assert len(before) - len({k.key for k in api.blobs.list_objects()}) == 20
    assert sum(r.objects for r in reports) >= 20  # both may count one they both deleted
    for record in files:
        got = api.http.get(f"/files/{record['id']}/content", headers=alice.headers)
        assert got.status_code == 200


def test_the_lifespan_sweeps(make_api: AppFactory) -> None:
    api = make_api(gc_interval_seconds=0.05, sweep_grace_seconds=0)
    garbage = plant_garbage(api)
    with TestClient(api.app):
        deadline = time.monotonic() + 10
        while api.blobs.object_size(garbage["object"]) is not None:
            assert time.monotonic() < deadline, "the lifespan did not sweep"
            time.sleep(0.05)
    assert leftovers(data_dir(api)) == []


def test_every_blob_key_column_is_known_to_the_sweeper() -> None:
    """A new column naming blobs must be added to the sweeper's references (or its blobs
    would be swept)."""
    named = {
        (table.name, column.name)
        for table in schema.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, String) and ("object" in column.name or "blob" in column.name)
    }
    assert named <= set(KEY_COLUMNS), named - set(KEY_COLUMNS)


# -- the listing contract, for every blob store -------------------------------------------------


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    makers: dict[str, Callable[[], BlobStore]] = {
        "local": lambda: LocalBlobStore(tmp_path),
        "memory": MemoryBlobStore,
    }
    return makers[request.param]()


def test_stores_list_objects_and_uploads_with_their_age(store: BlobStore) -> None:
    start = time.time() - 1
    store.put_part("0123456789abcdef", 0, b"part")
    store.put_part("00000000000000aa", 0, b"part")
    store.complete("00000000000000aa", "aa00000000000001", 1)
    store.put_object("aa00000000000002", b"whole")
    store.put_objects([("bb00000000000003", b"bundled")])
    objects = {k.key: k.modified for k in store.list_objects()}
    uploads = {k.key: k.modified for k in store.list_uploads()}
    assert set(objects) == {"aa00000000000001", "aa00000000000002", "bb00000000000003"}
    assert set(uploads) == {"0123456789abcdef"}
    assert all(start <= t <= time.time() + 1 for t in [*objects.values(), *uploads.values()])
    store.delete("aa00000000000002")
    store.abort("0123456789abcdef")
    assert {k.key for k in store.list_objects()} == {"aa00000000000001", "bb00000000000003"}
    assert list(store.list_uploads()) == []
    assert store.remove_temporary(time.time() + 60) == 0  # nothing interrupted


def test_memory_store_ages_by_its_clock() -> None:
    now = [1000.0]
    store = MemoryBlobStore(clock=lambda: now[0])
    store.put_object("aa00000000000001", b"x")
    now[0] = 2000.0
    store.put_part("0123456789abcdef", 0, b"p")
    assert [(k.key, k.modified) for k in store.list_objects()] == [("aa00000000000001", 1000.0)]
    assert [(k.key, k.modified) for k in store.list_uploads()] == [("0123456789abcdef", 2000.0)]


def test_local_store_removes_only_old_temporaries(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put_part("0123456789abcdef", 0, b"part")
    store.put_objects([("aa00000000000001", b"one")])
    old, young = tmp_path / "blobs" / "aa" / ".x.1.tmp", tmp_path / "blobs" / "aa" / ".y.2.tmp"
    for path in (old, young):
        path.write_bytes(b"half")
    os.utime(old, (time.time() - 100, time.time() - 100))
    assert store.remove_temporary(time.time() - 50) == 1
    assert not old.exists() and young.exists()
    assert store.object_size("aa00000000000001") == 3
    assert store.part_sizes("0123456789abcdef") == {0: 4}
