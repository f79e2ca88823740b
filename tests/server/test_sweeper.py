"""The blob sweeper: what crashes and refused writes leave (temporaries, unreferenced objects,
parts of no session, expired sessions) is removed; nothing a row names, and nothing younger
than the grace period, ever is; two replicas sweeping at once agree, and with the job lease only
one sweeps. On S3, multipart uploads of no open session are aborted after the grace. Replica
stores: half copies and objects nothing live references go, with their copy rows; a copy in
flight stays. Also the blob stores' listing contract it relies on (local directory and
in-memory)."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, select, text

from photoark.server.blobs import (
    BlobStore,
    BlobStoreError,
    LocalBlobStore,
    MemoryBlobStore,
    ReplicatedStore,
    S3BlobStore,
    open_blob_store,
)
from photoark.server.services.gc import run_sweeper
from photoark.server.services.replication import Replicator
from photoark.server.services.sweeper import Sweeper, SweepReport
from photoark.server.store import schema
from photoark.server.store.leases import LeaseStore
from photoark.server.store.sweep import KEY_COLUMNS, NON_REFERENCE_KEY_COLUMNS, SweepStore
from tests.s3_fixtures import s3_url_fixture  # noqa: F401  (pytest fixture)

from .conftest import S3_PART_SIZE, Account, Api, AppFactory, Uploaded

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


@pytest.mark.local_blobs  # plants garbage in the data directory
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


@pytest.mark.local_blobs  # plants garbage in the data directory
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


@pytest.mark.local_blobs  # plants garbage in the data directory
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


@pytest.mark.local_blobs  # plants garbage in the data directory
def test_the_lifespan_sweeps(make_api: AppFactory) -> None:
    api = make_api(gc_interval_seconds=0.05, sweep_grace_seconds=0)
    garbage = plant_garbage(api)
    with TestClient(api.app):
        deadline = time.monotonic() + 10
        while api.blobs.object_size(garbage["object"]) is not None:
            assert time.monotonic() < deadline, "the lifespan did not sweep"
            time.sleep(0.05)
    assert leftovers(data_dir(api)) == []


class Rounds(Sweeper):
    """A sweeper counting its rounds."""

    rounds = 0

    def sweep(self) -> SweepReport:
        self.rounds += 1
        return super().sweep()


def test_with_the_lease_one_app_of_two_sweeps(make_api: AppFactory) -> None:
    apps = [make_api(), make_api()]  # two servers on one database
    sweepers = [
        Rounds(SweepStore(a.app.state.engine), a.blobs, a.services.uploads, 3600) for a in apps
    ]

    async def main() -> None:
        jobs = [
            asyncio.create_task(run_sweeper(s, 0.2, LeaseStore(a.app.state.engine)))
            for s, a in zip(sweepers, apps, strict=True)
        ]
        await asyncio.sleep(1.2)
        counts = sorted(s.rounds for s in sweepers)
        assert counts[0] == 0 and counts[1] >= 3, counts
        holder = 0 if sweepers[0].rounds else 1
        jobs[holder].cancel()  # its lease is released: the other takes the next round
        await asyncio.wait({jobs[holder]})
        other = sweepers[1 - holder]
        before = other.rounds
        await asyncio.sleep(0.6)
        assert other.rounds > before
        jobs[1 - holder].cancel()
        await asyncio.wait(jobs)

    asyncio.run(main())


# -- S3: multipart uploads ----------------------------------------------------------------------


def test_s3_uploads_of_no_open_session_are_aborted_after_the_grace(
    make_api: AppFactory, s3_url: str
) -> None:
    api = make_api(blobs_url=s3_url)  # on either database
    store = api.app.state.stores.primary
    assert isinstance(store, S3BlobStore) and api.direct
    alice = api.signup()
    album = api.album(alice)
    kept, _ = api.new_file(alice, album, size=S3_PART_SIZE + 10, thumb_size=100)
    data = os.urandom(S3_PART_SIZE + 100)
    opened = api.open_upload(alice, len(data), S3_PART_SIZE)  # a multipart upload from now on
    assert opened.status_code == 201, opened.text
    session = opened.json()["id"]
    orphans = [secrets.token_hex(16), secrets.token_hex(16)]
    store.put_part(orphans[0], 0, b"a part of no session")  # a killed server's half upload
    store.create_multipart(orphans[1])  # created, its session's transaction never ran
    garbage = secrets.token_hex(16)
    store.put_object(garbage, b"never committed")
    uploads = {u.key for u in store.list_uploads()}
    assert uploads == {session, *orphans}

    assert sweeper(api, grace=3600).sweep() == SweepReport()  # all young
    assert {u.key for u in store.list_uploads()} == uploads

    later = Sweeper(
        SweepStore(api.app.state.engine),
        api.app.state.stores,
        api.services.uploads,
        3600,
        clock=lambda: time.time() + 7200,
    )
    report = later.sweep()

    assert (report.uploads, report.objects, report.expired_sessions) == (2, 1, 0), report
    assert {u.key for u in store.list_uploads()} == {session}
    assert store.head(garbage) is None
    for number in range(2):  # the open session goes on
        part = data[number * S3_PART_SIZE : (number + 1) * S3_PART_SIZE]
        sent = api.put_part(alice, session, number, part)
        assert sent.status_code == 200, sent.text
    committed = api.commit(alice, album, Uploaded(session, data))
    assert committed.status_code == 201, committed.text
    got = api.http.get(f"/files/{kept['id']}/content", headers=alice.headers)
    assert got.status_code == 200


# -- replica stores -----------------------------------------------------------------------------


class Undeletable(MemoryBlobStore):
    """A replica whose deletes fail while ``failing``."""

    failing = False

    def delete(self, object_key: str) -> None:
        if self.failing:
            raise BlobStoreError("the replica store cannot be reached")
        super().delete(object_key)


def copy_states(api: Api) -> dict[str, str]:
    query = select(schema.object_copies.c.object_key, schema.object_copies.c.state)
    with api.app.state.engine.connect() as conn:
        return {row.object_key: row.state for row in conn.execute(query)}


def test_the_replica_sweep(make_api: AppFactory, blobs_url: str | None, tmp_path: Path) -> None:
    replica = Undeletable()
    primary = open_blob_store(blobs_url, tmp_path / "primary")
    api = make_api(blobs=ReplicatedStore(primary, {"dr": replica}))
    stores = api.app.state.stores
    alice = api.signup()
    album = api.album(alice)
    kept, _ = api.new_file(alice, album, size=1000, thumb_size=100)
    doomed, _ = api.new_file(alice, album, size=1100, thumb_size=110)
    normal, _ = api.new_file(alice, album, size=1200, thumb_size=0)
    worker = Replicator.for_engine(api.app.state.engine, stores)
    try:
        while worker.run_once():
            pass
        keys = {
            name: object_keys(api, record["id"])
            for name, record in (("kept", kept), ("doomed", doomed), ("normal", normal))
        }
        assert set(copy_states(api).values()) == {"done"}
        replica.failing = True  # the delete of doomed's objects misses the replica
        delete_files(api, alice, [doomed["id"]])
        replica.failing = False
        delete_files(api, alice, [normal["id"]])  # reaches the replica; its row stays
        for key in keys["doomed"]:
            assert replica.object_size(key) is not None and primary.object_size(key) is None
        stray_upload, stray_object = secrets.token_hex(16), secrets.token_hex(16)
        replica.put_part(stray_upload, 0, b"half a copy of something")
        replica.put_object(stray_object, b"an object nothing names")
        late, _ = api.new_file(alice, album, size=1300, thumb_size=0)  # being copied now
        [held] = worker.claim("dr")
        replica.put_part(held.object_key, 0, b"the first part of the copy")

        young = Sweeper(SweepStore(api.app.state.engine), stores, api.services.uploads, 3600)
        report = young.sweep()

        # rows of deleted files go whatever their age, and the objects they name
        assert report == SweepReport(copy_rows=3), report
        assert set(copy_states(api)) == {*keys["kept"], held.object_key}
        for key in keys["doomed"]:
            assert replica.object_size(key) is None
        assert {u.key for u in replica.list_uploads()} == {stray_upload, held.object_key}

        now = Sweeper(SweepStore(api.app.state.engine), stores, api.services.uploads, 0)
        report = now.sweep_replica("dr")

        assert (report.replica_uploads, report.replica_objects, report.copy_rows) == (1, 1, 0)
        assert {u.key for u in replica.list_uploads()} == {held.object_key}  # in flight
        assert {k.key for k in replica.list_objects()} == set(keys["kept"])
        assert worker.copy(held) == "copied"
        assert now.sweep_replica("dr") == SweepReport()
        assert replica.object_size(held.object_key) == 1300 and late["content_size"] == 1300
    finally:
        worker.close()


def object_keys(api: Api, file_id: int) -> tuple[str, ...]:
    query = select(schema.files.c.content_object, schema.files.c.thumbnail_object).where(
        schema.files.c.id == file_id
    )
    with api.app.state.engine.connect() as conn:
        row = conn.execute(query).one()
    return tuple(k for k in (row.content_object, row.thumbnail_object) if k is not None)


def delete_files(api: Api, account: Account, file_ids: list[int]) -> None:
    for path in ("/files/trash", "/trash/delete"):
        response = api.http.post(path, json={"file_ids": file_ids}, headers=account.headers)
        assert response.status_code in (200, 201), response.text


def test_every_blob_key_column_is_known_to_the_sweeper() -> None:
    """A new column naming blobs must be added to the sweeper's references (or its blobs
    would be swept)."""
    named = {
        (table.name, column.name)
        for table in schema.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, String) and ("object" in column.name or "blob" in column.name)
    }
    known = set(KEY_COLUMNS) | set(NON_REFERENCE_KEY_COLUMNS)
    assert named <= known, named - known


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
