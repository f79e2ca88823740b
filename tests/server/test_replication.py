"""Replication to replica stores (``--replicate-to``): every committed object (content and
thumbnail, through every commit path) is copied to each replica and verified by size; workers
on two apps share the queue without copying anything twice; a worker that dies mid-copy hands
over once its lease runs out (and the replica sweep aborts the half upload it left); a failing
replica backs off and recovers; a file deleted before its copy leaves nothing behind; the lag
shows in ``/health/replication`` and in the log; a store added later is backfilled.

Replicas are in-memory stores where S3 is not the point (fast); the S3 cases use the session's
SeaweedFS (skipped without ``weed``). Every test runs on both backends (``sqlite+local`` and
``postgres+s3``: then the primary is S3 and copies leave it with CopyObject or a stream).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Row, select

from photoark.server.blobs import (
    BlobStore,
    BlobStoreError,
    LocalBlobStore,
    MemoryBlobStore,
    ReplicatedStore,
    S3BlobStore,
    open_blob_store,
    parse_store_url,
)
from photoark.server.services import replication
from photoark.server.services.replication import ReplicationReport, Replicator, run_replication
from photoark.server.services.sweeper import Sweeper
from photoark.server.store.copies import CopyStore
from photoark.server.store.leases import LeaseStore
from photoark.server.store.schema import files, object_copies
from photoark.server.store.sweep import SweepStore
from tests.s3_fixtures import s3_url_fixture  # noqa: F401  (pytest fixture)

from .conftest import S3, Account, Album, Api, AppFactory

MiB = 1024 * 1024
LOG = "photoark.server.services.replication"

Clock = Callable[[], float]


# -- helpers ------------------------------------------------------------------------------------


class Make:
    """Apps whose blob store is a :class:`ReplicatedStore`: the backend's primary (the data
    directory's store, or an S3 prefix) or a given one, and the given replicas."""

    def __init__(self, make_api: AppFactory, blobs_url: str | None, tmp_path: Path) -> None:
        self._make_api = make_api
        self._blobs_url = blobs_url
        self._tmp = tmp_path
        self.replicators: list[Replicator] = []

    def primary(self) -> BlobStore:
        return open_blob_store(self._blobs_url, self._tmp / "primary")

    def api(
        self, replicas: Mapping[str, BlobStore], primary: BlobStore | None = None, **kw: Any
    ) -> Api:
        store = ReplicatedStore(primary or self.primary(), replicas)
        return self._make_api(blobs=store, **kw)

    def replicator(self, api: Api, clock: Clock = time.time, **kw: Any) -> Replicator:
        engine = api.app.state.engine
        made = Replicator(
            api.app.state.stores,
            CopyStore(engine, clock),
            SweepStore(engine),
            LeaseStore(engine, clock),
            clock=clock,
            **kw,
        )
        self.replicators.append(made)
        return made


@pytest.fixture
def make(make_api: AppFactory, blobs_url: str | None, tmp_path: Path) -> Iterator[Make]:
    maker = Make(make_api, blobs_url, tmp_path)
    yield maker
    for made in maker.replicators:
        made.close()


def drain(replicator: Replicator, rounds: int = 100) -> ReplicationReport:
    """Rounds until one finds nothing due; their sum."""
    total = ReplicationReport()
    for _ in range(rounds):
        report = replicator.run_once()
        if not report:
            return total
        for name in ("claimed", "copied", "failed", "dropped", "lost"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
    raise AssertionError(f"replication did not settle in {rounds} rounds: {total}")


def copy_rows(api: Api) -> list[Row[Any]]:
    with api.app.state.engine.connect() as conn:
        return list(conn.execute(select(object_copies).order_by(object_copies.c.id)))


def live_objects(api: Api) -> dict[str, int]:
    """Every object key a live file names, with its recorded size."""
    query = select(
        files.c.content_object,
        files.c.content_size,
        files.c.thumbnail_object,
        files.c.thumbnail_size,
    ).where(files.c.is_deleted.is_(False))
    found: dict[str, int] = {}
    with api.app.state.engine.connect() as conn:
        for row in conn.execute(query):
            found[row.content_object] = row.content_size
            if row.thumbnail_object is not None:
                found[row.thumbnail_object] = row.thumbnail_size
    return found


def content_key(api: Api, file_id: int) -> str:
    query = select(files.c.content_object).where(files.c.id == file_id)
    with api.app.state.engine.connect() as conn:
        return str(conn.execute(query).scalar_one())


def read_all(store: BlobStore, key: str) -> bytes:
    size = store.object_size(key)
    assert size is not None, key
    return b"".join(store.read_range(key, 0, size - 1)) if size else b""


def health(api: Api) -> dict[str, dict[str, Any]]:
    response = api.http.get("/health/replication")
    assert response.status_code == 200, response.text
    return {entry["name"]: entry for entry in response.json()["stores"]}


def delete_for_good(api: Api, account: Account, file_ids: list[int]) -> None:
    for path in ("/files/trash", "/trash/delete"):
        response = api.http.post(path, json={"file_ids": file_ids}, headers=account.headers)
        assert response.status_code in (200, 201), response.text


def commit_everything(api: Api, account: Account, album: Album) -> None:
    """A file through every commit path: a multi-part upload with an uploaded thumbnail, a
    bundle of small files, a thumbnail bundle, and (local mode) an inline thumbnail."""
    api.new_file(account, album, size=api.part_size + 1000, thumb_size=3000)
    bundled = api.bundle(account, album, [os.urandom(700), os.urandom(900)])
    assert bundled.status_code == 201, bundled.text
    first = bundled.json()["files"][0]["id"]
    thumbs = api.thumbnails(account, [(first, os.urandom(300))])
    assert thumbs.status_code == 200, thumbs.text
    if not api.direct:
        small = api.upload(account, os.urandom(500))
        inline = api.commit(account, album, small, inline_thumbnail=b"t" * 99)
        assert inline.status_code == 201, inline.text


class Counting(MemoryBlobStore):
    """A replica counting the objects written to it, each write a little slow (so that two
    workers overlap)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: dict[str, int] = {}
        self._count_lock = threading.Lock()

    def _count(self, key: str) -> None:
        time.sleep(0.01)
        with self._count_lock:
            self.writes[key] = self.writes.get(key, 0) + 1

    def complete(self, upload_key: str, object_key: str, part_count: int) -> int:
        self._count(object_key)
        return super().complete(upload_key, object_key, part_count)

    def put_object(self, object_key: str, data: bytes) -> None:
        self._count(object_key)
        super().put_object(object_key, data)


class Flaky(MemoryBlobStore):
    """A replica that refuses writes while ``down``."""

    down = True

    def put_part(self, upload_key: str, number: int, data: bytes | bytearray) -> None:
        if self.down:
            raise BlobStoreError("the replica store cannot be reached")
        super().put_part(upload_key, number, data)

    def put_object(self, object_key: str, data: bytes) -> None:
        if self.down:
            raise BlobStoreError("the replica store cannot be reached")
        super().put_object(object_key, data)


class Blocking(LocalBlobStore):
    """A local primary whose next :meth:`read_range` (once :meth:`arm` ed) stops after
    ``block_after`` bytes until ``release`` is set, then fails: a worker that hangs, then dies."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.block_after: int | None = None
        self.block_key: str | None = None  # only a read of this object (None: any)
        self.blocked = threading.Event()
        self.release = threading.Event()
        self.dies = True  # after the release: fail (a dead worker), or go on (a slow one)

    def arm(self, block_after: int, key: str | None = None) -> None:
        self.block_after, self.block_key = block_after, key

    def read_range(self, object_key: str, start: int, end_inclusive: int) -> Iterator[bytes]:
        inner = super().read_range(object_key, start, end_inclusive)
        if self.block_key not in (None, object_key):
            return inner
        limit, self.block_after = self.block_after, None
        return inner if limit is None else self._blocking(inner, limit)

    def _blocking(self, inner: Iterator[bytes], limit: int) -> Iterator[bytes]:
        sent = 0
        for chunk in inner:
            if sent >= limit:
                self.blocked.set()
                self.release.wait(60)
                if self.dies:
                    raise OSError("the worker died mid-copy")
            sent += len(chunk)
            yield chunk


def s3_replica(request: pytest.FixtureRequest) -> S3BlobStore:
    """A store on a fresh prefix of the session's bucket (skips without ``weed``)."""
    url: str = request.getfixturevalue("s3_url")
    return parse_store_url(url).open()


# -- copies -------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2])
def test_every_committed_object_reaches_every_replica(
    make: Make, backend: str, tmp_path: Path, request: pytest.FixtureRequest, count: int
) -> None:
    replicas: dict[str, BlobStore] = {"dr": MemoryBlobStore()}
    if count == 2:  # on S3, a second prefix of the same service: CopyObject
        replicas["far"] = s3_replica(request) if backend == S3 else LocalBlobStore(tmp_path / "far")
    api = make.api(replicas)
    alice = api.signup()
    commit_everything(api, alice, api.album(alice))
    objects = live_objects(api)
    assert len(objects) == (5 if api.direct else 7)
    assert {(r.object_key, r.store) for r in copy_rows(api)} == {
        (key, name) for key in objects for name in replicas
    }
    before = health(api)
    assert set(before) == set(replicas)
    for state in before.values():
        assert state["pending"] == len(objects) and state["done"] == 0
        assert state["oldest_pending_seconds"] >= 0 and state["failing"] == 0
    for replica in replicas.values():
        assert list(replica.list_objects()) == []

    report = drain(make.replicator(api))

    assert report.copied == len(objects) * count and report.failed == report.dropped == 0
    primary = api.app.state.stores.primary
    for name, replica in replicas.items():
        for key, size in objects.items():
            assert replica.stored_size(key) == size, (name, key)
            assert read_all(replica, key) == read_all(primary, key)
    assert all(r.state == "done" and r.attempts == 1 and r.size for r in copy_rows(api))
    after = health(api)
    for state in after.values():
        assert state["pending"] == 0 and state["oldest_pending_seconds"] == 0
        assert state["done"] == len(objects)


def test_two_apps_workers_copy_each_object_once(make: Make, tmp_path: Path) -> None:
    replica = Counting()
    primary = make.primary()
    first = make.api({"dr": replica}, primary=primary)
    second = make.api({"dr": replica}, primary=primary)  # another server on the same database
    alice = first.signup()
    album = first.album(alice)
    first.new_file(alice, album, size=first.part_size + 10, thumb_size=100)
    bundled = second.bundle(alice, album, [os.urandom(100 + i) for i in range(14)])
    assert bundled.status_code == 201, bundled.text
    objects = live_objects(first)
    workers = [make.replicator(first, workers=3), make.replicator(second, workers=3)]
    reports: list[ReplicationReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(replicator: Replicator) -> None:
        try:
            start.wait()
            reports.append(drain(replicator))
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert replica.writes == dict.fromkeys(objects, 1)
    rows = copy_rows(first)
    assert len(rows) == len(objects)
    assert all(r.state == "done" and r.attempts == 1 for r in rows)
    assert sum(r.copied for r in reports) == len(objects)
    assert all(r.copied > 0 for r in reports), reports  # both took a share


@pytest.mark.parametrize("replica_kind", ["memory", "s3"])
def test_a_worker_dying_mid_copy_hands_over_after_its_lease(
    make: Make, tmp_path: Path, request: pytest.FixtureRequest, replica_kind: str
) -> None:
    replica: BlobStore = s3_replica(request) if replica_kind == "s3" else MemoryBlobStore()
    primary = Blocking(tmp_path / "blocking")
    api = make.api({"dr": replica}, primary=primary, blobs_url=None)
    alice = api.signup()
    data = os.urandom(33 * MiB)  # on S3 a streamed copy of > 32 MiB is a multipart upload
    content = api.upload(alice, data, part_size=8 * MiB)
    committed = api.commit(alice, api.album(alice), content)
    assert committed.status_code == 201, committed.text
    [key] = live_objects(api)
    dying = make.replicator(api)
    patient = make.replicator(api)
    taking_over = make.replicator(api, clock=lambda: time.time() + 301)  # after the lease
    [row] = dying.claim("dr")
    primary.arm(block_after=32 * MiB)
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(dying.copy(row)))
    thread.start()
    try:
        assert primary.blocked.wait(60), "the copy never started"
        if replica_kind == "s3":  # half a multipart upload is on the replica now
            assert [u.key for u in replica.list_uploads()] == [key]
        assert not patient.run_once()  # the lease still runs
        report = taking_over.run_once()
        assert (report.claimed, report.copied) == (1, 1), report
        assert replica.stored_size(key) == len(data)
        [done] = copy_rows(api)
        assert (done.state, done.attempts, done.worker) == ("done", 2, None)
        stores = api.app.state.stores
        sweeper = Sweeper(SweepStore(api.app.state.engine), stores, api.services.uploads, 0)
        swept = sweeper.sweep_replica("dr")
        assert swept.replica_uploads == (1 if replica_kind == "s3" else 0), swept
        assert swept.replica_objects == swept.copy_rows == 0
        assert list(replica.list_uploads()) == []
    finally:
        primary.release.set()
        thread.join(60)
    assert outcome == ["failed"]  # it died; its failure changes nothing: the row is done
    [still] = copy_rows(api)
    assert still.state == "done" and still.last_error is None
    assert read_all(replica, key) == data
    assert list(replica.list_uploads()) == []


def test_a_slow_copy_does_not_hold_up_the_others(make: Make, tmp_path: Path) -> None:
    replica = MemoryBlobStore()
    primary = Blocking(tmp_path / "blocking")
    api = make.api({"dr": replica}, primary=primary, blobs_url=None)
    alice = api.signup()
    album = api.album(alice)
    big, _ = api.new_file(alice, album, size=3 * MiB, thumb_size=0)  # first in the queue
    small = [api.new_file(alice, album, size=1000 + i, thumb_size=0)[0] for i in range(5)]
    primary.arm(block_after=MiB, key=content_key(api, big["id"]))
    primary.dies = False
    worker = make.replicator(api, workers=2)
    reports: list[ReplicationReport] = []
    thread = threading.Thread(target=lambda: reports.append(worker.run_once()))
    thread.start()
    try:
        assert primary.blocked.wait(60)
        deadline = time.monotonic() + 20
        small_keys = {content_key(api, f["id"]) for f in small}
        while {k.key for k in replica.list_objects()} != small_keys:
            assert time.monotonic() < deadline, "the small copies waited for the big one"
            time.sleep(0.02)
        assert replica.object_size(content_key(api, big["id"])) is None
    finally:
        primary.release.set()
        thread.join(60)
    [report] = reports
    assert (report.claimed, report.copied) == (6, 6), report
    assert replica.object_size(content_key(api, big["id"])) == 3 * MiB


def test_a_failing_replica_backs_off_and_recovers(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    replica = Flaky()
    api = make.api({"dr": replica})
    alice = api.signup()
    api.new_file(alice, api.album(alice), size=2000, thumb_size=100)
    objects = live_objects(api)
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    worker = make.replicator(api, clock=clock)
    caplog.set_level(logging.WARNING, logger=LOG)

    report = worker.run_once()

    assert (report.claimed, report.failed, report.copied) == (2, 2, 0)
    warnings = [r for r in caplog.records if r.name == LOG and r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # rate-limited: one a minute per store
    assert "replication to dr: copy of" in warnings[0].getMessage()
    assert "cannot be reached" in warnings[0].getMessage()
    rows = copy_rows(api)
    assert all(r.state == "pending" and r.attempts == 1 for r in rows)
    assert all("cannot be reached" in r.last_error for r in rows)
    assert all(r.next_attempt_at >= clock() + 8 for r in rows)  # 5 * 2**1 s
    assert health(api)["dr"]["failing"] == 2 and health(api)["dr"]["pending"] == 2
    assert not worker.run_once()  # backing off: nothing due

    caplog.clear()
    offset[0] += 61  # due again, and past the warnings' minute
    report = worker.run_once()
    assert report.failed == 2
    warnings = [r for r in caplog.records if r.name == LOG and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "1 more failed copies not logged" in warnings[0].getMessage()
    assert all(r.attempts == 2 for r in copy_rows(api))

    replica.down = False
    offset[0] += 15
    assert not worker.run_once()  # 5 * 2**2 s not yet over
    offset[0] += 10
    report = worker.run_once()
    assert (report.copied, report.failed) == (2, 0)
    for key, size in objects.items():
        assert replica.stored_size(key) == size
    state = health(api)["dr"]
    assert (state["pending"], state["failing"], state["done"]) == (0, 0, 2)
    assert all(r.state == "done" and r.last_error is None for r in copy_rows(api))


def test_a_file_deleted_before_its_copy_leaves_nothing(make: Make) -> None:
    replica = MemoryBlobStore()
    api = make.api({"dr": replica})
    alice = api.signup()
    album = api.album(alice)
    doomed, _ = api.new_file(alice, album, size=3000, thumb_size=200)
    api.new_file(alice, album, size=1000, thumb_size=0)
    assert len(copy_rows(api)) == 3
    delete_for_good(api, alice, [doomed["id"]])

    report = drain(make.replicator(api))

    assert (report.dropped, report.copied, report.failed) == (2, 1, 0)
    assert [r.object_key for r in copy_rows(api)] == list(live_objects(api))
    assert [k.key for k in replica.list_objects()] == list(live_objects(api))
    assert list(replica.list_uploads()) == []
    assert health(api)["dr"]["pending"] == 0


def test_a_thumbnail_replaced_before_its_copy_is_dropped_not_failed(make: Make) -> None:
    """The replaced thumbnail is deleted from the primary; its copy row must go, not retry
    forever (its committed upload row still names it, but no file does)."""
    replica = MemoryBlobStore()
    api = make.api({"dr": replica})
    alice = api.signup()
    album = api.album(alice)
    [made] = api.bundle(alice, album, [os.urandom(1000)]).json()["files"]
    assert api.thumbnails(alice, [(made["id"], os.urandom(300))]).status_code == 200
    assert api.thumbnails(alice, [(made["id"], os.urandom(400))]).status_code == 200
    report = drain(make.replicator(api))
    assert report.failed == 0 and report.dropped == 1, report
    assert health(api)["dr"]["failing"] == 0 and health(api)["dr"]["pending"] == 0
    for key, size in live_objects(api).items():
        assert replica.stored_size(key) == size


def test_the_backlog_route_reads_the_table_once_per_interval(make: Make) -> None:
    """``GET /health/replication`` needs no login: one reading serves every request for
    ``replication_health_seconds``."""
    api = make.api({"dr": MemoryBlobStore()}, replication_health_seconds=3600)
    alice = api.signup()
    assert health(api)["dr"]["pending"] == 0
    api.new_file(alice, api.album(alice), size=1000, thumb_size=0)
    assert health(api)["dr"]["pending"] == 0  # the reading of a moment ago
    other = make.api({"dr": MemoryBlobStore()}, replication_health_seconds=0)  # same database
    assert health(other)["dr"]["pending"] == 1


def test_the_lag_is_logged_while_copies_are_pending(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    api = make.api({"dr": MemoryBlobStore()})
    alice = api.signup()
    api.new_file(alice, api.album(alice), size=1500, thumb_size=150)
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    worker = make.replicator(api, clock=clock)
    caplog.set_level(logging.INFO, logger=LOG)

    def lines() -> list[str]:
        found = [r.getMessage() for r in caplog.records if r.name == LOG]
        caplog.clear()
        return found

    worker.log_lag()
    assert lines() == []  # not a minute yet
    offset[0] += 61
    worker.log_lag()
    [pending] = lines()
    assert pending.startswith("replication to dr: 2 pending, oldest ")
    assert pending.endswith(" s, 0 copied in the last minute")
    oldest = float(pending.split("oldest ")[1].split(" s")[0])
    assert 55 <= oldest <= 120  # the rows' age by the worker's clock
    drain(worker)
    worker.log_lag(force=True)
    assert lines() == ["replication to dr: 0 pending, oldest 0 s, 2 copied in the last minute"]
    offset[0] += 61
    worker.log_lag()
    assert lines() == []  # nothing pending, nothing copied: quiet


def test_a_replica_added_later_is_backfilled(make: Make) -> None:
    primary = make.primary()
    before = make.api({}, primary=primary)  # no replica yet
    alice = before.signup()
    album = before.album(alice)
    before.new_file(alice, album, size=1200, thumb_size=120)
    gone, _ = before.new_file(alice, album, size=1300, thumb_size=130)
    bundled = before.bundle(alice, album, [os.urandom(400), os.urandom(500)])
    assert bundled.status_code == 201, bundled.text
    delete_for_good(before, alice, [gone["id"]])
    assert copy_rows(before) == []

    replica = MemoryBlobStore()
    after = make.api({"dr": replica}, primary=primary)  # restarted with --replicate-to
    first, other = make.replicator(after), make.replicator(after)
    assert first.backfill("dr", batch=2)
    objects = live_objects(after)
    assert len(objects) == 4
    assert {(r.object_key, r.size) for r in copy_rows(after)} == set(objects.items())
    assert not other.backfill("dr")  # done lately, by another: skipped
    assert first.backfill("dr")  # its own lease: again, idempotent
    assert len(copy_rows(after)) == 4
    assert drain(other).copied == 4
    for key, size in objects.items():
        assert replica.stored_size(key) == size


# -- the loop -----------------------------------------------------------------------------------


def test_the_loop_copies_until_cancelled(make: Make) -> None:
    replica = MemoryBlobStore()
    api = make.api({"dr": replica})
    alice = api.signup()
    album = api.album(alice)
    api.new_file(alice, album, size=1000, thumb_size=0)
    worker = make.replicator(api)

    async def main() -> None:
        loop = asyncio.create_task(run_replication(worker, interval=30))
        try:
            await wait_for(lambda: health(api)["dr"]["done"] == 1)
            # an interval of 30 s: the next copy comes by a poke
            await asyncio.to_thread(api.new_file, alice, album, 1100, 0)
            worker.poke()
            await wait_for(lambda: health(api)["dr"]["done"] == 2)
        finally:
            loop.cancel()
            with pytest.raises(asyncio.CancelledError):
                await loop

    asyncio.run(main())
    for key, size in live_objects(api).items():
        assert replica.stored_size(key) == size


def test_cancelling_the_loop_mid_copy(
    make: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replication, "STOP_WAIT_SECONDS", 0.2)
    replica = MemoryBlobStore()
    primary = Blocking(tmp_path / "blocking")
    api = make.api({"dr": replica}, primary=primary, blobs_url=None)
    alice = api.signup()
    data = os.urandom(3 * MiB)
    committed = api.commit(alice, api.album(alice), api.upload(alice, data, part_size=MiB))
    assert committed.status_code == 201, committed.text
    primary.arm(block_after=MiB)
    worker = make.replicator(api, workers=1, lease_seconds=1.0)

    async def main() -> None:
        loop = asyncio.create_task(run_replication(worker, backfill_every=None))
        assert await asyncio.to_thread(primary.blocked.wait, 60)
        started = time.monotonic()
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
        assert time.monotonic() - started < 5  # the hung copy does not hold the shutdown

    try:
        asyncio.run(main())
        [row] = copy_rows(api)
        assert row.state == "copying"  # claimed, as a killed worker leaves it
        later = make.replicator(api, clock=lambda: time.time() + 2)  # its lease ran out
        assert drain(later).copied == 1
    finally:
        primary.release.set()
        worker.close()  # the hung copy fails: nothing changes, the row is another's
    [row] = copy_rows(api)
    assert row.state == "done" and row.attempts == 2
    assert read_all(replica, row.object_key) == data


def test_the_lifespan_replicates(make: Make) -> None:
    replica = MemoryBlobStore()
    api = make.api({"dr": replica})
    if getattr(api.app.state, "replicator", None) is None:
        pytest.skip("app.py does not start the replication job yet")
    alice = api.signup()
    api.new_file(alice, api.album(alice), size=1000, thumb_size=100)
    with TestClient(api.app):
        deadline = time.monotonic() + 20
        while health(api)["dr"]["done"] < 2:
            assert time.monotonic() < deadline, "the lifespan did not replicate"
            time.sleep(0.05)
    for key, size in live_objects(api).items():
        assert replica.stored_size(key) == size


async def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)
