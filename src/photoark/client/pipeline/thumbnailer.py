"""Thumbnails after the originals: the second phase of a backup.

Every committed file has a row in the thumbnail queue
(:mod:`~photoark.client.state.thumbqueue`). Here each is
rendered from the local file (if it is still the file that was backed up), encrypted with the
file's key and sent in bundles (``POST /files/thumbnails``); the rows of a bundle go in the
transaction that records the new thumbnail sizes in the mirror. A file whose thumbnail cannot
be made (undecodable, no ffmpeg for a video, changed or gone since) leaves the queue with its
reason reported: its original is backed up all the same.

The renders run ahead of the sends (two per worker in flight, each handed to the bundler as it
finishes), so the cores render while a bundle is on its way instead of waiting for it. Memory
stays bounded: ``workers`` pictures decoded at once, a few finished thumbnails, and the
bundler's backlog (:data:`_LIMITS`), which holds the renders back when the server falls behind.

Direct transfers (a server in S3 mode): a bundle's thumbnails are staged, PUT straight to the
store and attached together (``POST /files/thumbnails/direct``).

A video's thumbnail needs ``ffmpeg``; without it (:func:`ffmpeg_missing`: not on ``PATH``,
looked up at each run) the video is reported with :data:`NO_FFMPEG` and counted in
:attr:`ThumbnailReport.videos_without_ffmpeg`, so the caller can say once how to install it.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import blake3

from photoark.client.direct import StagedBlob, md5_of
from photoark.client.pipeline.bundler import BundleLimits, Bundler
from photoark.client.pipeline.describe import thumbnail_of
from photoark.client.session import Session
from photoark.client.state.thumbqueue import ThumbnailJob, ThumbnailQueue
from photoark.crypto.stream import encrypt_bytes
from photoark.media.formats import get_format
from photoark.protocol.models import (
    MAX_BUNDLE_FILES,
    MAX_THUMBNAIL_BYTES,
    DirectThumbnailItem,
    DirectThumbnails,
    FileRecord,
    ThumbnailBundle,
    ThumbnailItem,
)

__all__ = ["NO_FFMPEG", "ThumbnailReport", "ffmpeg_missing", "make_thumbnails"]

_PAGE = 64  # jobs read from the queue at a time

NO_FFMPEG = "no video thumbnail without ffmpeg (not installed, or not on PATH)"
"""The reason given for a video whose thumbnail was not made because ffmpeg is missing."""


def ffmpeg_missing() -> bool:
    """Whether ``ffmpeg`` is missing from ``PATH`` (as :mod:`photoark.media.thumbnails` looks
    for it)."""
    return shutil.which("ffmpeg") is None


@dataclass
class ThumbnailReport:
    made: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)  # every {path, error}
    videos_without_ffmpeg: int = 0  # of ``failed``: videos, for want of ffmpeg

    def as_json(self) -> dict[str, object]:
        return {
            "made": self.made,
            "failed": self.failed,
            "videos_without_ffmpeg": self.videos_without_ffmpeg,
        }


@dataclass(frozen=True)
class _Sealed:
    job: ThumbnailJob
    cipher: bytes


def _render(session: Session, job: ThumbnailJob, no_ffmpeg: bool) -> _Sealed | str:
    """The encrypted thumbnail of ``job``'s file, or why there is none (``no_ffmpeg``: a
    video's is :data:`NO_FFMPEG`)."""
    file_key = session.mirror.file_key(job.file_id)
    if file_key is None:
        return "the file is no longer in the library"
    try:
        st = os.stat(job.path)
    except OSError as err:
        return f"the local file is gone ({err.strerror or err})"
    if (st.st_size, st.st_mtime_ns) != (job.size, job.mtime_ns):
        return "the local file changed since it was backed up"
    fmt = get_format(job.format)
    if fmt is None:
        return f"unknown format {job.format!r}"
    if no_ffmpeg and fmt.kind == "video":
        return NO_FFMPEG
    data, error = thumbnail_of(job.path, fmt)
    if data is None:
        return error or "no thumbnail"
    cipher = encrypt_bytes(file_key, data)
    if len(cipher) > MAX_THUMBNAIL_BYTES:
        return f"thumbnail of {len(cipher)} bytes exceeds {MAX_THUMBNAIL_BYTES}"
    return _Sealed(job, cipher)


def make_thumbnails(
    session: Session,
    workers: int = 2,
    on_done: Callable[[int], None] = lambda n: None,
    cancel: Callable[[], bool] = lambda: False,
) -> ThumbnailReport:
    """Work through the whole thumbnail queue; ``on_done(n)`` after every ``n`` jobs.

    Renders run ahead of the sends (``2 * workers`` in flight), so the cores stay busy while a
    bundle is on its way; a bundle that fails stops the phase (its error is raised, the rows
    not sent stay queued). ``cancel()`` is asked before each render starts: once it is true no
    other starts, the renders under way are finished and sent, the rest stays queued."""
    report = ThumbnailReport()
    no_ffmpeg = ffmpeg_missing()
    counting = threading.Lock()
    queue = ThumbnailQueue(session.db)

    def send(items: Sequence[_Sealed]) -> list[FileRecord]:
        if session.api.direct_transfers():
            records = _send_direct(session, items)
        else:
            header = ThumbnailBundle(
                items=[
                    ThumbnailItem(
                        file_id=i.job.file_id,
                        size=len(i.cipher),
                        blake3=blake3.blake3(i.cipher).hexdigest(),
                    )
                    for i in items
                ]
            )
            records = session.api.set_thumbnails(header, [i.cipher for i in items])
        with session.db.transaction() as conn:
            for record in records:
                session.mirror.refresh_record(conn, record)
            ThumbnailQueue.remove(conn, [i.job.file_id for i in items])
        with counting:  # two bundles may be in flight
            report.made += len(items)
        on_done(len(items))
        return records

    def drop(job: ThumbnailJob, reason: str) -> None:
        with session.db.transaction() as conn:
            ThumbnailQueue.remove(conn, [job.file_id])
        with counting:
            report.failed.append({"path": job.path, "error": reason})
            if reason == NO_FFMPEG:
                report.videos_without_ffmpeg += 1
        on_done(1)

    failure = _FirstFailure()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        bundler: Bundler[_Sealed, FileRecord] = Bundler(failure.guard(send), _size, _LIMITS)

        def hand_over(job: ThumbnailJob, result: _Sealed | str) -> None:
            if isinstance(result, str):
                drop(job, result)
            else:
                bundler.submit(result).add_done_callback(failure.note)

        def render(job: ThumbnailJob) -> _Sealed | str:
            return _render(session, job, no_ffmpeg)

        rendering = _Rendering(pool, 2 * max(1, workers), render, hand_over)
        try:
            with bundler:  # leaving it waits for every bundle's send
                for job in _jobs(queue):
                    failure.check()  # a failed bundle stops the phase: its rows stay queued
                    if cancel():
                        rendering.cancel()  # the renders not started yet stay queued
                        break
                    rendering.start(job)
                rendering.finish()
        finally:
            rendering.cancel()  # stopped by an error: no other render starts
    failure.check()
    return report


_LIMITS = BundleLimits(
    # as large as the originals' bundles: each bundle is a request, a transaction and two
    # filesystem syncs on the server (5 000 small-photo thumbnails in bundles of 4 MiB: server
    # CPU 2.0 s, phase 6.1-6.5 s; of 16 MiB: 1.45 s, 5.8-5.9 s)
    max_bytes=16 * 1024 * 1024,
    max_items=MAX_BUNDLE_FILES,
    # one bundle being sent and one being filled: renders wait (bounded memory) only when the
    # server cannot keep up
    backlog_bytes=32 * 1024 * 1024,
)


def _size(sealed: _Sealed) -> int:
    return len(sealed.cipher)


def _jobs(queue: ThumbnailQueue) -> Iterator[ThumbnailJob]:
    """The queue's jobs in file-id order, read a page at a time."""
    last = 0
    while jobs := queue.after(last, _PAGE):
        yield from jobs
        last = jobs[-1].file_id


class _Rendering:
    """The renders in flight, at most ``ahead`` of them (two per worker: a worker that finishes
    finds the next job waiting). Each result is handed over as soon as it is done, in whatever
    order they finish, in the thread that starts the renders."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        ahead: int,
        render: Callable[[ThumbnailJob], _Sealed | str],
        hand_over: Callable[[ThumbnailJob, _Sealed | str], None],
    ) -> None:
        self._pool = pool
        self._ahead = ahead
        self._render = render
        self._hand_over = hand_over
        self._futures: dict[Future[_Sealed | str], ThumbnailJob] = {}

    def start(self, job: ThumbnailJob) -> None:
        """Start rendering ``job`` once fewer than ``ahead`` renders are in flight (handing
        over the ones that finish meanwhile)."""
        while len(self._futures) >= self._ahead:
            self._hand_over_done()
        self._futures[self._pool.submit(self._render, job)] = job

    def finish(self) -> None:
        """Hand over every render in flight, as each is done."""
        while self._futures:
            self._hand_over_done()

    def cancel(self) -> None:
        """Cancel the renders not started yet (their rows stay queued)."""
        for future in self._futures:
            future.cancel()

    def _hand_over_done(self) -> None:
        done, _ = wait(self._futures, return_when=FIRST_COMPLETED)
        for future in done:
            job = self._futures.pop(future)
            if not future.cancelled():
                self._hand_over(job, future.result())


class _Stopped(Exception):
    """A bundle not sent because an earlier one failed (its rows stay queued)."""


class _FirstFailure:
    """The first error a bundle's send raised, noted from the sender threads. Once there is
    one, the bundles not sent yet fail at once (:class:`_Stopped`) rather than each trying the
    server again, and :meth:`check` raises it in the phase's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    def guard(
        self, send: Callable[[Sequence[_Sealed]], list[FileRecord]]
    ) -> Callable[[Sequence[_Sealed]], list[FileRecord]]:
        """``send``, refusing to send anything once a bundle failed."""

        def guarded(items: Sequence[_Sealed]) -> list[FileRecord]:
            if self._error is not None:
                raise _Stopped()
            return send(items)

        return guarded

    def note(self, future: Future[FileRecord]) -> None:
        """A bundle future's done-callback: remember the first failure."""
        error = future.exception()
        if error is not None and not isinstance(error, _Stopped):
            with self._lock:
                if self._error is None:
                    self._error = error

    def check(self) -> None:
        """Raise the first failure, if any."""
        if self._error is not None:
            raise self._error


def _send_direct(session: Session, items: Sequence[_Sealed]) -> list[FileRecord]:
    """Stage the thumbnails (under ids chosen here, so a retried stage opens nothing twice),
    PUT them to the store and attach them (``POST /files/thumbnails/direct``)."""
    api = session.api
    blobs = [StagedBlob(uuid.uuid4().hex, (i.cipher,), md5_of((i.cipher,))) for i in items]
    request = DirectThumbnails(
        items=[
            DirectThumbnailItem(file_id=i.job.file_id, upload_id=blob.id, md5=blob.md5)
            for i, blob in zip(items, blobs, strict=True)
        ]
    )
    return api.send_staged(blobs, lambda: api.set_thumbnails_direct(request))
