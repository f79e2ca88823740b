"""The thumbnail phase keeps the cores busy: renders go on while bundles are sent, each result
is handed over as soon as it is done, a failed bundle still stops the phase with its rows
queued, and a cancel is honoured before the next render, not at the end of a page.

The server is the real app in this process (:mod:`tests.client.servers`); the queue is filled
by a real backup of small JPEGs that leaves its thumbnails for later. Renders and sends are
the real ones, wrapped to observe (and hold back) them."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from photoark.client.errors import ServerUnreachable
from photoark.client.pipeline import thumbnailer
from photoark.client.pipeline.backup import BackupOptions, backup_found
from photoark.client.pipeline.scanner import scan_split
from photoark.client.pipeline.thumbnailer import make_thumbnails
from photoark.client.session import Session
from photoark.client.state.thumbqueue import ThumbnailJob, ThumbnailQueue
from photoark.protocol.models import FileRecord, ThumbnailBundle
from photoark.server.config import ServerSettings
from tests.builders import jpeg_bytes, make_tree
from tests.client.servers import serving, signed_up

PHOTOS = 12
STUCK = 10.0  # seconds a held-back render or send waits before giving up (the old behaviour)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    settings = ServerSettings(data_dir=tmp_path / "server", login_hash="min")
    with serving(settings) as served, signed_up(tmp_path / "laptop", served.url) as s:
        yield s


def queued(session: Session, root: Path, n: int = PHOTOS) -> list[ThumbnailJob]:
    """Back up ``n`` small JPEGs under ``root``, thumbnails left queued; the queued jobs."""
    make_tree(root, {f"IMG_{i:03d}.jpg": jpeg_bytes(i, (160 + i, 120)) for i in range(n)})
    found, passed = scan_split([str(root)])
    report = backup_found(
        session, found, passed, [str(root)], "A", BackupOptions(workers=2), thumbnails=False
    )
    assert report.uploaded == n
    jobs = ThumbnailQueue(session.db).after(0, n + 1)
    assert len(jobs) == n
    return jobs


class Renders:
    """Wraps :func:`thumbnailer._render`: the file ids whose render started, in order, and an
    event per file id set when its render starts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started: list[int] = []
        self.events: dict[int, threading.Event] = {}
        self.hold: dict[int, threading.Event] = {}  # file id → wait for this first
        self.timed_out: list[int] = []
        self._lock = threading.Lock()
        real = thumbnailer._render

        def render(session: Session, job: ThumbnailJob, no_ffmpeg: bool) -> object:
            with self._lock:
                self.started.append(job.file_id)
            self.event(job.file_id).set()
            hold = self.hold.get(job.file_id)
            if hold is not None and not hold.wait(STUCK):
                self.timed_out.append(job.file_id)
            return real(session, job, no_ffmpeg)

        monkeypatch.setattr(thumbnailer, "_render", render)

    def event(self, file_id: int) -> threading.Event:
        with self._lock:
            return self.events.setdefault(file_id, threading.Event())


def test_renders_go_on_while_a_bundle_is_sent(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first send is held until the last job's render has started: the old loop rendered a
    page, then waited for its sends before it read the next page, so it never got there."""
    monkeypatch.setattr(thumbnailer, "_PAGE", 4)  # three pages
    jobs = queued(session, tmp_path / "p")
    renders = Renders(monkeypatch)
    last_started = renders.event(jobs[-1].file_id)
    real = session.api.set_thumbnails
    sends: list[bool] = []  # the first send: did the last render start while it was held

    def held(bundle: ThumbnailBundle, blobs: Sequence[bytes]) -> list[FileRecord]:
        if not sends:
            sends.append(last_started.wait(STUCK))
        return real(bundle, blobs)

    monkeypatch.setattr(session.api, "set_thumbnails", held)
    report = make_thumbnails(session, workers=2)
    assert sends[0], "no render started while the first bundle was being sent"
    assert report.made == PHOTOS and not report.failed
    assert sorted(renders.started) == sorted(j.file_id for j in jobs)  # each rendered once
    assert ThumbnailQueue(session.db).count() == 0


def test_a_slow_render_does_not_hold_back_the_others(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first job's render waits until a bundle was sent: the results done meanwhile are
    handed over as they finish, not in queue order behind it."""
    jobs = queued(session, tmp_path / "p")
    renders = Renders(monkeypatch)
    one_sent = threading.Event()
    renders.hold[jobs[0].file_id] = one_sent
    real = session.api.set_thumbnails

    def noting(bundle: ThumbnailBundle, blobs: Sequence[bytes]) -> list[FileRecord]:
        records = real(bundle, blobs)
        one_sent.set()
        return records

    monkeypatch.setattr(session.api, "set_thumbnails", noting)
    report = make_thumbnails(session, workers=2)
    assert renders.timed_out == [], "the other thumbnails waited for the slow one"
    assert report.made == PHOTOS and ThumbnailQueue(session.db).count() == 0


def test_a_failed_bundle_stops_the_phase_and_its_rows_stay_queued(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renders after the eighth job wait until just after the first send failed: then the
    phase raises the send's error, renders no further, sends nothing more, and every row stays
    queued (the next run makes them all)."""
    n = 40
    jobs = queued(session, tmp_path / "p", n)
    renders = Renders(monkeypatch)
    failed = threading.Event()
    for job in jobs[8:]:
        renders.hold[job.file_id] = failed
    real = session.api.set_thumbnails
    calls: list[int] = []

    def down(bundle: ThumbnailBundle, blobs: Sequence[bytes]) -> list[FileRecord]:
        calls.append(len(blobs))
        threading.Timer(0.2, failed.set).start()  # the held renders go on once this raised
        raise ServerUnreachable("the server went away (injected)")

    monkeypatch.setattr(session.api, "set_thumbnails", down)
    done: list[int] = []
    with pytest.raises(ServerUnreachable, match="injected"):
        make_thumbnails(session, workers=2, on_done=done.append)
    assert len(calls) <= 2, "bundles kept being sent after one failed"
    assert len(renders.started) < n, "renders went on after a bundle failed"
    assert sum(done) == 0 and ThumbnailQueue(session.db).count() == n

    monkeypatch.setattr(session.api, "set_thumbnails", real)
    report = make_thumbnails(session, workers=2)
    assert report.made == n and ThumbnailQueue(session.db).count() == 0


def test_a_cancel_is_honoured_before_the_next_render(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled at the fourth job (of one page): at most three are rendered (one not started
    yet is cancelled), those are sent, the rest stay queued; the old loop asked between pages
    and rendered the whole page first."""
    queued(session, tmp_path / "p")
    renders = Renders(monkeypatch)
    asked: list[bool] = []

    def cancel() -> bool:
        asked.append(True)
        return len(asked) > 3

    report = make_thumbnails(session, workers=2, cancel=cancel)
    assert len(renders.started) <= 3
    assert report.made == len(renders.started) and not report.failed
    assert ThumbnailQueue(session.db).count() == PHOTOS - report.made


def test_counts_and_progress_add_up_across_pages(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made, failed (a file changed since its backup) and pending add up, and ``on_done``
    counts every job once."""
    monkeypatch.setattr(thumbnailer, "_PAGE", 5)
    root = tmp_path / "p"
    jobs = queued(session, root)
    changed = Path(jobs[3].path)
    changed.write_bytes(changed.read_bytes() + b"\0")
    done: list[int] = []
    report = make_thumbnails(session, workers=2, on_done=done.append)
    assert report.made == PHOTOS - 1 and sum(done) == PHOTOS
    assert report.failed == [
        {"path": str(changed), "error": "the local file changed since it was backed up"}
    ]
    assert ThumbnailQueue(session.db).count() == 0
    sizes = {r.id: r.thumbnail_size for r in session.mirror.files_in_album(album_id(session))}
    assert sum(1 for size in sizes.values() if size > 0) == PHOTOS - 1


def album_id(session: Session) -> int:
    album = session.mirror.album_by_name("A")
    assert album is not None
    return album.id
