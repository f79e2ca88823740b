"""The process-wide budget of encrypted parts (:mod:`photoark.client.pipeline.partbudget`):
however many files upload at once, no more parts are alive (read and not yet sent) than the
budget allows; a part that fails (read, encryption, send, a file that shrank, a stop) gives its
permit back, so the next files still upload; one permit is enough (no deadlock); small files,
which travel in bundles, take none.

Uploads go to the real app on uvicorn in a thread (:mod:`tests.client.servers`). What is alive
is counted independently of the budget: a chunk is alive from the moment it is read until the
send of its part returns."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from photoark.client.errors import ApiError, FileChangedError, UploadStopped
from photoark.client.pipeline import uploader as uploader_module
from photoark.client.pipeline.backup import backup
from photoark.client.pipeline.partbudget import PartBudget
from photoark.client.pipeline.sources import ContentSource
from photoark.client.pipeline.uploader import PART_CHUNKS, ContentUploader, UploadResult
from photoark.client.session import Session
from photoark.client.state.queue import UploadQueue
from photoark.crypto.hashing import hash_file
from photoark.crypto.stream import CHUNK_SIZE, StreamEncryptor
from photoark.protocol.models import PartInfo
from photoark.server.config import ServerSettings
from tests.builders import jpeg_bytes, make_tree
from tests.client.servers import Served, serving, signed_up

PART_PLAIN = PART_CHUNKS * CHUNK_SIZE  # plaintext bytes in a full part
SEND_DELAY = 0.05  # each part's send takes at least this long: the parts pile up


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    with serving(ServerSettings(data_dir=tmp_path / "server", login_hash="min")) as served:
        yield served


@pytest.fixture
def session(tmp_path: Path, server: Served) -> Iterator[Session]:
    with signed_up(tmp_path / "laptop", server.url) as s:
        yield s


class Meter:
    """Chunks alive: read and their part not yet sent (its send returned or failed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.alive = self.most = 0

    def read(self) -> None:
        with self._lock:
            self.alive += 1
            self.most = max(self.most, self.alive)

    def sent(self, chunks: int) -> None:
        with self._lock:
            self.alive -= chunks


class _MeteredReader:
    """A source's reader that counts each chunk read, and raises ``fail`` at read ``fail_at``."""

    def __init__(
        self, inner: Any, meter: Meter, fail_at: int | None, fail: BaseException | None
    ) -> None:
        self._inner, self._meter = inner, meter
        self._fail_at, self._fail = fail_at, fail
        self._reads = 0

    def __enter__(self) -> _MeteredReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._inner.close()

    def read(self, size: int = -1, /) -> bytes:
        self._reads += 1
        if self._reads == self._fail_at:
            assert self._fail is not None
            raise self._fail
        data: bytes = self._inner.read(size)
        if data:
            self._meter.read()
        return data


@dataclass(frozen=True)
class MeteredSource(ContentSource):
    meter: Meter | None = None
    fail_at: int | None = None
    fail: BaseException | None = None

    def open(self) -> Any:
        assert self.meter is not None
        return _MeteredReader(super().open(), self.meter, self.fail_at, self.fail)


def big_file(root: Path, name: str, parts: int) -> Path:
    """A file of ``parts`` parts (the last one a quarter full); sparse, its first bytes its own."""
    path = root / name
    with open(path, "wb") as f:
        f.write(name.encode())
        f.truncate((parts - 1) * PART_PLAIN + PART_PLAIN // 4)
    return path


def source_of(path: Path, meter: Meter, **failure: Any) -> MeteredSource:
    return MeteredSource(((str(path), os.stat(path)),), meter, **failure)


def metered_sends(
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    meter: Meter,
    fail_part: int | None = None,
) -> None:
    """Every part's send takes :data:`SEND_DELAY` more, then counts its chunks as gone; part
    ``fail_part`` is refused."""
    real = session.api.put_part

    def put_part(
        upload_id: str, number: int, data: bytes | Sequence[bytes], sha256_hex: str
    ) -> PartInfo:
        try:
            threading.Event().wait(SEND_DELAY)
            if number == fail_part:
                raise ApiError("server_error", "refused (test)", 500)
            return real(upload_id, number, data, sha256_hex)
        finally:
            meter.sent(len(data) if isinstance(data, tuple | list) else 1)

    monkeypatch.setattr(session.api, "put_part", put_part)


def upload(uploader: ContentUploader, source: ContentSource) -> UploadResult:
    return uploader.upload(source, hash_file(source.path))


def all_parts_on_server(session: Session, result: UploadResult) -> bool:
    status = session.api.upload_status(result.pending.upload_id)
    return len(status.parts) == status.part_count == result.pending.part_count


@pytest.mark.parametrize("cap", [1, 2])
def test_parts_alive_never_exceed_the_budget_across_files(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch, cap: int
) -> None:
    meter, budget = Meter(), PartBudget(cap)
    metered_sends(session, monkeypatch, meter)
    uploader = ContentUploader(session.api, UploadQueue(session.db), in_flight=3, parts=budget)
    paths = [big_file(tmp_path, f"VID_{i}.MP4", parts=3) for i in range(3)]
    results: list[UploadResult] = []

    def one(path: Path) -> None:
        results.append(upload(uploader, source_of(path, meter)))

    # three files at once, each sending up to three parts: nine parts without the budget
    threads = [threading.Thread(target=one, args=(p,), daemon=True) for p in paths]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "stuck: the budget deadlocked"
    assert len(results) == 3 and all(all_parts_on_server(session, r) for r in results)
    assert meter.most <= cap * PART_CHUNKS  # never more parts read and unsent than permits
    assert meter.most > (cap - 1) * PART_CHUNKS  # and the budget is used: parts overlap
    assert budget.held == 0 and meter.alive == 0


def arrange(what: str, path: Path, mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """Make the upload of ``path`` (three parts) fail in part 1 as ``what`` says; what its
    source needs for that."""
    if what == "read":
        return {"fail_at": 3, "fail": OSError(5, "Input/output error (test)")}  # 1st chunk
    if what == "encrypt":
        real, calls = StreamEncryptor.push, iter(range(1_000))

        def push(self: StreamEncryptor, chunk: bytes, final: bool) -> bytes:
            if next(calls) == 2:  # part 1's first chunk
                raise RuntimeError("encryption failed (test)")
            return real(self, chunk, final)

        mp.setattr(StreamEncryptor, "push", push)
    elif what == "shrunk":
        with open(path, "r+b") as f:
            f.truncate(PART_PLAIN + CHUNK_SIZE // 2)  # part 1 ends early
    return {}


FAILURES: dict[str, type[BaseException]] = {
    "read": OSError,
    "encrypt": RuntimeError,
    "send": ApiError,  # part 1 refused by the server
    "shrunk": FileChangedError,
}


@pytest.mark.parametrize("what", FAILURES)
def test_a_failed_part_gives_its_permit_back_and_the_next_files_upload(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    meter, budget = Meter(), PartBudget(1)  # one permit: a single leak would stop everything
    path = big_file(tmp_path, "BROKEN.MP4", parts=3)
    stat = os.stat(path)  # as the scan saw it, before it may shrink
    with monkeypatch.context() as mp:
        metered_sends(session, mp, meter, fail_part=1 if what == "send" else None)
        failure = arrange(what, path, mp)
        source = MeteredSource(((str(path), stat),), meter, **failure)
        uploader = ContentUploader(session.api, UploadQueue(session.db), parts=budget)
        with pytest.raises(FAILURES[what]):
            uploader.upload(source, "0" * 64)
    assert budget.held == 0
    meter = Meter()  # (a chunk that failed to encrypt was read and never sent)
    metered_sends(session, monkeypatch, meter)
    uploader = ContentUploader(session.api, UploadQueue(session.db), parts=budget)
    for name in ("NEXT_1.MP4", "NEXT_2.MP4"):
        result = upload(uploader, source_of(big_file(tmp_path, name, parts=2), meter))
        assert all_parts_on_server(session, result)
    assert budget.held == 0 and meter.alive == 0


def test_a_stopped_upload_gives_its_permits_back(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    meter, budget = Meter(), PartBudget(2)
    metered_sends(session, monkeypatch, meter)
    asked = iter(range(1_000))
    uploader = ContentUploader(
        session.api, UploadQueue(session.db), cancel=lambda: next(asked) >= 2, parts=budget
    )
    with pytest.raises(UploadStopped):
        upload(uploader, source_of(big_file(tmp_path, "STOP.MP4", parts=4), meter))
    assert budget.held == 0 and meter.alive == 0


def test_a_permit_is_given_back_once_by_whoever_ends_the_part() -> None:
    budget = PartBudget(2)
    with budget.take() as kept:  # never handed over: back when the block ends
        assert budget.held == 1
    assert budget.held == 0
    kept.release()  # a second time: nothing
    assert budget.held == 0
    sent: Future[int] = Future()
    with budget.take() as permit:
        permit.release_when_done(sent)
    assert budget.held == 1  # handed to the send: held until it is done
    sent.set_result(8)
    assert budget.held == 0
    cancelled: Future[int] = Future()
    with budget.take() as permit:
        permit.release_when_done(cancelled)
    cancelled.cancel()
    assert budget.held == 0
    with pytest.raises(ValueError):
        PartBudget(0)


def test_take_waits_for_a_permit_given_back() -> None:
    budget = PartBudget(1)
    first = budget.take()
    got = threading.Event()

    def second() -> None:
        with budget.take():
            got.set()

    thread = threading.Thread(target=second, daemon=True)
    thread.start()
    assert not got.wait(0.2)  # the only permit is held
    first.release()
    assert got.wait(10)
    thread.join(10)
    assert budget.held == 0


class CountingBudget(PartBudget):
    def __init__(self, parts: int) -> None:
        super().__init__(parts)
        self.taken = 0

    def take(self) -> Any:
        self.taken += 1
        return super().take()


def test_the_backup_takes_permits_for_large_files_only(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = CountingBudget(1)
    monkeypatch.setattr(uploader_module, "PARTS", budget)  # the process-wide default
    root = make_tree(tmp_path / "photos", {f"IMG_{i}.JPG": jpeg_bytes(i) for i in range(6)})
    big = big_file(root, "VID.MP4", parts=2)
    with open(big, "r+b") as f:
        f.write(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")  # an MP4 to the scanner
    report = backup(session, [str(root)], "Trip")
    assert report.uploaded == 7 and not report.failed
    assert budget.taken == 2  # the video's two parts; the photos went in a bundle
    assert budget.held == 0
