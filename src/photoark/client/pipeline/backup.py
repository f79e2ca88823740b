"""The one-shot backup pipeline: scan → stat cache → BLAKE3 → dedup decision → encrypt and
upload parts → commit → mirror update.

Each step's state is in the state DB (stat cache, upload queue, mirror), so a run killed at
any point and started again resumes: hashed files are not re-read, acknowledged parts are not
re-sent, a committed file is not committed twice. Progress goes to a :class:`BackupProgress`
whose methods default to no-ops.

A run, in order (:func:`backup_found`): files settled without reading (:mod:`.settle`), then
the others in parallel workers, one file at a time (:class:`_Worker`, below: identify, claim
the content (:mod:`.claims`), decide (:mod:`.known`), hand it over (:mod:`.handover`)), each
counted by the run's :class:`.tally.Tally` with an :class:`.outcome.Outcome`; then the
previous versions retired and the thumbnails made.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import blake3

from photoark.client.errors import ClientError, FileChangedError, ServerUnreachable, UploadStopped
from photoark.client.library import sync
from photoark.client.library.albums import add_many_by_reference, ensure_album
from photoark.client.library.marks import DeletionMarks
from photoark.client.lock import exclusive
from photoark.client.pipeline.bundler import BundleLimits, Bundler
from photoark.client.pipeline.claims import Claims, claim_of
from photoark.client.pipeline.decide import Action
from photoark.client.pipeline.describe import Layout, describe
from photoark.client.pipeline.handover import Handover
from photoark.client.pipeline.identify import identify
from photoark.client.pipeline.known import KnownContent
from photoark.client.pipeline.livephotos import LivePair, live_parts, pair_live_photos
from photoark.client.pipeline.orphans import abort_orphan_uploads
from photoark.client.pipeline.outcome import Ignored, IgnoreReason, Outcome
from photoark.client.pipeline.report import BackupOptions, BackupProgress, BackupReport
from photoark.client.pipeline.retire import retire_previous_versions
from photoark.client.pipeline.scanner import Found, PassedOver, scan_split
from photoark.client.pipeline.settle import Settler
from photoark.client.pipeline.smallfiles import BundleSender, read_small, resume_small
from photoark.client.pipeline.sources import ContentSource, file_source
from photoark.client.pipeline.tally import Tally
from photoark.client.pipeline.thumbnailer import make_thumbnails
from photoark.client.pipeline.uploader import PART_SIZE, content_size
from photoark.client.session import Session
from photoark.client.state.mirror import Album, LibraryFile
from photoark.client.state.pathversions import PathVersions
from photoark.client.state.statcache import BufferedStatCache
from photoark.client.state.thumbqueue import ThumbnailJob, ThumbnailQueue
from photoark.crypto.hashing import hash_into
from photoark.protocol.metadata import FileMetadata
from photoark.protocol.models import MAX_BUNDLE_FILES, FileRecord

__all__ = ["BackupOptions", "BackupProgress", "BackupReport", "backup", "backup_found"]

log = logging.getLogger(__name__)

_Result = Outcome | Ignored | Future[FileRecord] | Future[LibraryFile]
"""What a worker makes of one file: its outcome, or a future settled when its batch is."""


def backup(
    session: Session,
    paths: Sequence[str],
    album_name: str,
    options: BackupOptions | None = None,
    progress: BackupProgress | None = None,
) -> BackupReport:
    """Back up ``paths`` (files or folders, recursively) into the album ``album_name``.

    First, the upload sessions an earlier run of this home left unrecorded (killed right after
    opening one) are aborted, so they stop holding quota (:mod:`.orphans`)."""
    with exclusive(session.home, "backup"):
        abort_orphan_uploads(session.api, session.db)
        found, passed = scan_split(paths)
        return backup_found(
            session, found, passed, paths, album_name, options or BackupOptions(), progress
        )


def backup_found(
    session: Session,
    found: list[Found],
    passed_over: Sequence[PassedOver],
    roots: Sequence[str],
    album_name: str,
    options: BackupOptions,
    progress: BackupProgress | None = None,
    pull: bool = True,
    thumbnails: bool = True,
    bases: Sequence[str] | None = None,
) -> BackupReport:
    """Back up files already scanned (``roots`` are the folders they were found under) into
    ``album_name``. The caller holds the home's lock. ``pull``: bring the mirror up to date
    first (a daemon that follows the change stream keeps it current itself). ``thumbnails``:
    make the queued thumbnails after the originals (a daemon makes them when it has no
    originals left to back up). ``bases``: the folders whose layout the backup records (each
    file's ``relative_path`` under the deepest that holds it, see
    :class:`~.describe.Layout`); by default ``roots``; empty: names only."""
    progress = progress or BackupProgress()
    started = time.monotonic()
    if pull:
        sync.pull(session)
    album = ensure_album(session, album_name)
    report = BackupReport()
    stat_cache = BufferedStatCache(session.db)
    tally = Tally(report, progress, stat_cache, options.cancel)
    versions = PathVersions(session.db)
    known = KnownContent(session.mirror, versions, album.id, options.match)
    for item in passed_over:
        if item.is_error:
            report.failed.append({"path": item.path, "error": item.reason})
        else:
            report.ignored.append({"path": item.path, "reason": item.reason})
    total_bytes = sum(f.stat.st_size for f in found)
    settler = Settler(session, album, options.match, stat_cache, known, tally)
    found, pairs, known_pairs = pair_live_photos(found, settler.live_pair_settled(roots))
    # items, as every count of the run: a Live Photo's still and video are one (see .report)
    report.live_photos = len(pairs) + len(known_pairs)
    progress.planned(len(found) + report.live_photos, total_bytes)
    for still, video in known_pairs:
        settler.count_settled_pair(still, video)
    found = settler.settle_unchanged(roots, found)
    # large files first: each streams through one worker part by part, so started early it
    # overlaps the many small files instead of running alone at the end (stable: same-size
    # files keep their scan order)
    found.sort(key=lambda item: content_size(item.stat.st_size) <= PART_SIZE)
    work: list[Found | LivePair] = [*pairs, *found]
    with contextlib.ExitStack() as awake:
        if options.inhibitor is not None:
            work_bytes = sum(f.stat.st_size for f in found) + sum(
                p.still.stat.st_size + p.video.stat.st_size for p in pairs
            )
            awake.enter_context(
                options.inhibitor.while_busy(
                    len(work), work_bytes, f"backing up {len(work)} files ({work_bytes:,} bytes)"
                )
            )
        try:
            layout = Layout(roots if bases is None else bases)
            _originals(session, album, options, tally, stat_cache, versions, known, layout, work)
        finally:
            stat_cache.flush()
        report.originals_seconds = time.monotonic() - started
        _afterwards(session, options, tally, thumbnails)
    if pull and (report.uploaded or report.added_to_album):
        # catch the mirror's version up past our own commits now, cheaply (they are known), so
        # the next run starts with nothing to pull
        with contextlib.suppress(ClientError):
            sync.pull(session)
    report.seconds = time.monotonic() - started
    return report


def _originals(
    session: Session,
    album: Album,
    options: BackupOptions,
    tally: Tally,
    stat_cache: BufferedStatCache,
    versions: PathVersions,
    known: KnownContent,
    layout: Layout,
    work: list[Found | LivePair],
) -> None:
    """The files left by the fast pass: workers, with the bundlers they hand files to."""
    sender = BundleSender(session, album, tally.sent)
    adds = BundleLimits(max_bytes=MAX_BUNDLE_FILES, max_items=MAX_BUNDLE_FILES, senders=1)
    adder: Bundler[LibraryFile, LibraryFile] = Bundler(
        lambda files: add_many_by_reference(session, album, files), lambda f: 1, adds
    )
    with Bundler(sender.send, lambda item: item.size, options.bundle_limits) as bundler, adder:
        handover = Handover(session, album, versions, tally, bundler, adder)
        worker = _Worker(session, album, options, stat_cache, known, tally, handover, layout)
        if options.workers <= 1:
            for one in work:
                worker.process(one)
        else:
            with ThreadPoolExecutor(max_workers=options.workers) as pool:
                list(pool.map(worker.process, work))


def _afterwards(session: Session, options: BackupOptions, tally: Tally, thumbnails: bool) -> None:
    """Once the originals are dealt with: the retirements, then the thumbnails."""
    report, progress = tally.report, tally.progress
    if not tally.stopped():
        try:
            report.previous_versions = retire_previous_versions(session)
        except ServerUnreachable as err:
            report.stop_for(err)
    if thumbnails and not tally.stopped():
        progress.thumbnails_planned(ThumbnailQueue(session.db).count())
        try:
            report.thumbnails = make_thumbnails(
                session,
                max(1, min(options.workers, os.cpu_count() or 1)),
                progress.thumbnails_done,
                cancel=tally.stopped,
            )
        except ClientError as err:
            # the originals are safe; the thumbnails stay queued for the next run
            log.warning("thumbnails interrupted: %s", err)
    report.thumbnails_pending = ThumbnailQueue(session.db).count()


class _Worker:
    """One file, or one Live Photo pair, from any worker thread: identify it, claim its
    content, decide, hand it over; counted by the tally when done (a batched hand-over: when
    its batch is)."""

    def __init__(
        self,
        session: Session,
        album: Album,
        options: BackupOptions,
        stat_cache: BufferedStatCache,
        known: KnownContent,
        tally: Tally,
        handover: Handover,
        layout: Layout,
    ) -> None:
        self.session = session
        self.layout = layout
        self.album = album
        self.match = options.match
        self.stat_cache = stat_cache
        self.known = known
        self.tally = tally
        self.handover = handover
        self.claims = Claims()
        self.marks = DeletionMarks(session)

    def process(self, work: Found | LivePair) -> None:
        tally = self.tally
        if tally.stopped():
            return
        if isinstance(work, LivePair):
            path, size = work.still.path, work.still.stat.st_size + work.video.stat.st_size
        else:
            path, size = work.path, work.stat.st_size
        try:
            result = self._live(work) if isinstance(work, LivePair) else self._file(work)
        except UploadStopped:
            return  # neither done nor failed: the next run resumes it
        except Exception as err:
            tally.failed(path, size, err)
            return
        if isinstance(result, Future):
            # bundled: counted when its bundle is committed
            result.add_done_callback(lambda f: tally.bundled(path, size, f))
        elif isinstance(result, Ignored):
            tally.count(path, size, Outcome.IGNORED, result.reason)
        else:
            tally.count(path, size, result)

    def _file(self, found: Found) -> _Result:
        path, st = found.path, found.stat
        if st.st_size == 0:
            raise ClientError("empty file (0 bytes): nothing to back up")
        small = content_size(st.st_size) <= PART_SIZE
        fmt, content_hash, data = identify(
            self.stat_cache, path, st, small, maybe_cached=not found.uncached
        )
        if fmt is None:
            return Ignored(IgnoreReason.NOT_MEDIA)
        release = self.claims.acquire(claim_of(self.match, content_hash, path))
        handed_over = False  # a bundled upload releases the claim when its bundle commits
        try:
            decision = self.known.decide(content_hash, path)
            if decision.action in (Action.SKIP, Action.ADD):
                assert decision.file is not None
                result = self.handover.known(decision.action, decision.file, path, st, fmt, release)
                handed_over = isinstance(result, Future)
                return result
            if self.marks.is_deleted(content_hash):
                return Outcome.DELETED_FROM_BACKUP  # the user deleted it: never undo that
            if not small:
                desc = describe(path, st, fmt, content_hash, False, self.layout.relative_path(path))
                job = ThumbnailJob.of(0, path, st, fmt.name)
                self.handover.large(file_source(path, st), content_hash, desc.metadata, job)
                return Outcome.UPLOADED
            if resume_small(self.session, self.album, path, st, fmt.name, content_hash):
                self.tally.progress.bytes_done(st.st_size)
                return Outcome.UPLOADED
            if data is None:
                data, now_hash = read_small(path, st)
                if now_hash != content_hash:
                    raise FileChangedError(f"{path} changed since it was hashed")
            where = self.layout.relative_path(path)
            desc = describe(path, st, fmt, content_hash, False, where, data)
            source = file_source(path, st)
            future = self.handover.small(source, fmt, data, desc.metadata, release)
            handed_over = True
            return future
        finally:
            if not handed_over:
                release()

    def _live(self, pair: LivePair) -> _Result:
        """A Live Photo: one item, still then video in one stream (see :mod:`.livephotos`)."""
        still, video = pair.still, pair.video
        fmt, still_hash, _ = identify(self.stat_cache, still.path, still.stat, small=False)
        video_fmt, video_hash, _ = identify(self.stat_cache, video.path, video.stat, small=False)
        if fmt is None or video_fmt is None:
            raise ClientError("a part of the Live Photo is no longer a photo or video")
        live_hash = f"{still_hash}:{video_hash}"
        source = ContentSource(((still.path, still.stat), (video.path, video.stat)))
        release = self.claims.acquire(claim_of(self.match, live_hash, still.path))
        handed_over = False
        try:
            decision = self.known.decide(live_hash, still.path)
            if decision.action in (Action.SKIP, Action.ADD):
                assert decision.file is not None
                result = self.handover.known(
                    decision.action, decision.file, still.path, still.stat, fmt, release
                )
                handed_over = isinstance(result, Future)
                return result
            if self.marks.is_deleted(live_hash):
                return Outcome.DELETED_FROM_BACKUP
            where = self.layout.relative_path(still.path)
            desc = describe(still.path, still.stat, fmt, live_hash, False, where)
            metadata = FileMetadata.model_validate(
                {
                    **desc.metadata.to_json(),
                    "type": "live",
                    "size": source.size,
                    "parts": live_parts(pair, still_hash, video_hash),
                    "content_identifier": pair.content_identifier,
                }
            )
            if content_size(source.size) > PART_SIZE:
                with source.open() as reader:  # the uploader checks the stream against this
                    stream_hash = blake3.blake3()
                    hash_into(stream_hash, reader)
                job = ThumbnailJob.of(0, still.path, still.stat, fmt.name)
                self.handover.large(source, stream_hash.hexdigest(), metadata, job)
                return Outcome.UPLOADED
            with source.open() as reader:
                data = reader.read()
            cut, view = still.stat.st_size, memoryview(data)  # what was read must be what
            if (  # the dedup hashes describe
                blake3.blake3(view[:cut]).hexdigest() != still_hash
                or blake3.blake3(view[cut:]).hexdigest() != video_hash
            ):
                raise FileChangedError(f"{still.path} changed while it was being backed up")
            future = self.handover.small(source, fmt, data, metadata, release)
            handed_over = True
            return future
        finally:
            if not handed_over:
                release()
