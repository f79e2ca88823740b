"""The one-shot backup pipeline: scan → stat cache → BLAKE3 → dedup decision → encrypt and
upload parts → commit → mirror update.

Each step's state is in the state DB (stat cache, upload queue, mirror), so a run killed at
any point and started again resumes: hashed files are not re-read, acknowledged parts are not
re-sent, a committed file is not committed twice. Workers run in parallel; files with the same
content are serialised on a per-hash lock, so identical files are uploaded once per run.
Progress goes to a :class:`BackupProgress` whose methods default to no-ops.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import blake3

from photoark.client.batches import in_batches
from photoark.client.daemon.inhibit import SleepInhibitor
from photoark.client.errors import ApiError, ClientError, ServerUnreachable
from photoark.client.library import sync
from photoark.client.library.albums import add_many_by_reference, ensure_album
from photoark.client.library.marks import DeletionMarks
from photoark.client.library.metadata import display_name, seal_metadata
from photoark.client.lock import exclusive
from photoark.client.pipeline.bundler import BundleLimits, Bundler
from photoark.client.pipeline.decide import Action, Decision, MatchProfile, decide
from photoark.client.pipeline.describe import describe
from photoark.client.pipeline.identify import hash_unchanged
from photoark.client.pipeline.livephotos import LivePair, live_parts, pair_live_photos
from photoark.client.pipeline.retire import RetireReport, retire_previous_versions
from photoark.client.pipeline.scanner import Found, PassedOver, scan_split
from photoark.client.pipeline.smallfiles import (
    BundleSender,
    SmallFile,
    read_small,
    record_commit,
    resume_small,
    seal_small,
)
from photoark.client.pipeline.sources import ContentSource, file_source
from photoark.client.pipeline.thumbnailer import ThumbnailReport, make_thumbnails
from photoark.client.pipeline.uploader import (
    PART_SIZE,
    ContentUploader,
    FileChangedError,
    UploadStopped,
    content_size,
)
from photoark.client.session import Session
from photoark.client.state.mirror import Album, LibraryFile
from photoark.client.state.pathversions import PathVersions
from photoark.client.state.queue import UploadQueue
from photoark.client.state.statcache import BufferedStatCache, StatCache
from photoark.client.state.thumbqueue import ThumbnailJob, ThumbnailQueue
from photoark.crypto.boxes import wrap_key
from photoark.crypto.hashing import hash_into
from photoark.media import MediaFormat, sniff, sniff_content
from photoark.media.formats import get_format
from photoark.protocol.models import MAX_BUNDLE_FILES, FileCommit, FileRecord

__all__ = ["BackupOptions", "BackupProgress", "BackupReport", "backup", "backup_found"]

log = logging.getLogger(__name__)


class BackupProgress:
    """Callbacks for progress; subclass and override what you show."""

    def planned(self, files: int, total_bytes: int) -> None:
        """The scan found ``files`` candidate files of ``total_bytes``."""

    def file_done(self, path: str, size: int, outcome: str) -> None:
        """A file finished: outcome is uploaded | skipped | added | ignored | failed |
        deleted_from_backup (the user deleted its content from the backup: not sent again)."""

    def files_done(self, files: Sequence[Found], outcome: str) -> None:
        """Many files finished at once with the same outcome (the fast pass over unchanged
        files): by default one :meth:`file_done` each, then one :meth:`bytes_done` for all."""
        for item in files:
            self.file_done(item.path, item.stat.st_size, outcome)
        self.bytes_done(sum(item.stat.st_size for item in files))

    def bytes_sent(self, n: int) -> None:
        """``n`` more content bytes went over the network."""

    def bytes_done(self, n: int) -> None:
        """``n`` more bytes of the planned total are dealt with (read and uploaded, or found
        already backed up). Summed over a run it equals the planned total."""

    def thumbnails_planned(self, n: int) -> None:
        """Every original is dealt with; ``n`` thumbnails are to be made and sent."""

    def thumbnails_done(self, n: int) -> None:
        """``n`` more thumbnails were sent (or given up)."""


@dataclass(frozen=True)
class BackupOptions:
    match: MatchProfile = "name+hash"
    workers: int = 4
    bundle_limits: BundleLimits = field(default_factory=BundleLimits)
    # set from outside (the daemon pausing): files not started yet are left alone, a large
    # upload stops after its current part; both resume on the next run
    cancel: threading.Event | None = None
    # held while the work is above its threshold (a large first backup: no suspend midway)
    inhibitor: SleepInhibitor | None = None


@dataclass
class BackupReport:
    uploaded: int = 0
    skipped: int = 0
    added_to_album: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    ignored: list[dict[str, str]] = field(default_factory=list)
    deleted_from_backup: list[str] = field(default_factory=list)  # marked: not uploaded again
    bytes_uploaded: int = 0
    aborted: str | None = None
    quota_exceeded: bool = False
    thumbnails: ThumbnailReport = field(default_factory=ThumbnailReport)
    thumbnails_pending: int = 0
    previous_versions: RetireReport = field(default_factory=RetireReport)
    originals_seconds: float = 0.0
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "uploaded": self.uploaded,
            "skipped": self.skipped,
            "added_to_album": self.added_to_album,
            "failed": self.failed,
            "bytes_uploaded": self.bytes_uploaded,
            "ignored": self.ignored,
            "deleted_from_backup": self.deleted_from_backup,
            "thumbnails": {**self.thumbnails.as_json(), "pending": self.thumbnails_pending},
            "previous_versions": {
                "trashed": self.previous_versions.trashed,
                "removed_from_album": self.previous_versions.removed_from_album,
            },
            "seconds": {"originals": self.originals_seconds, "total": self.seconds},
        }
        if self.aborted:
            out["aborted"] = self.aborted
        return out


class _Claims:
    """Per-content locks (see ``_Run._claim``): the first worker holding a claim decides and
    uploads; the others wait, then decide against the mirror that now holds the file."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    def acquire(self, claim: str) -> Callable[[], None]:
        """Wait for the claim, then hold it; returns the release function, which any thread
        may call once (a bundled upload releases when its bundle is committed)."""
        with self._guard:
            lock, users = self._locks.get(claim, (threading.Lock(), 0))
            self._locks[claim] = (lock, users + 1)
        lock.acquire()

        def release() -> None:
            with self._guard:
                lock, users = self._locks[claim]
                if users <= 1:
                    del self._locks[claim]
                else:
                    self._locks[claim] = (lock, users - 1)
            lock.release()

        return release


@dataclass(frozen=True)
class _FastLookups:
    cache: dict[bytes, tuple[tuple[int, ...], str, str]]  # raw path → (stat key, format, hash)
    contents: set[tuple[str, str]]  # the target album's (hash, name)
    hashes: set[str]  # the target album's hashes


class _Run:
    def __init__(
        self, session: Session, album: Album, options: BackupOptions, progress: BackupProgress
    ) -> None:
        self.session = session
        self.album = album
        self.options = options
        self.progress = progress
        self.report = BackupReport()
        self.lock = threading.Lock()
        self.claims = _Claims()
        self.stat_cache = BufferedStatCache(session.db)
        self.queue = UploadQueue(session.db)
        self.versions = PathVersions(session.db)
        self.marks = DeletionMarks(session)
        self.stop = threading.Event()  # set by the run itself (the server is unreachable)
        self.bundler: Bundler[SmallFile, FileRecord]  # set by the run, around the workers
        self.adder: Bundler[LibraryFile, LibraryFile]  # likewise: adds by reference
        self._fast: _FastLookups | None = None

    # -- bookkeeping -----------------------------------------------------------------------

    def _count(self, path: str, size: int, outcome: str, error: str | None = None) -> None:
        with self.lock:
            r = self.report
            if outcome == "uploaded":
                r.uploaded += 1
            elif outcome == "skipped":
                r.skipped += 1
            elif outcome == "added":
                r.added_to_album += 1
            elif outcome == "ignored":
                r.ignored.append({"path": path, "reason": error or ""})
            elif outcome == "failed":
                r.failed.append({"path": path, "error": error or "unknown error"})
            elif outcome == "deleted_from_backup":
                r.deleted_from_backup.append(path)
        if outcome != "uploaded":
            self.progress.bytes_done(size)
        self.progress.file_done(path, size, outcome)

    def _sent(self, n: int) -> None:
        with self.lock:
            self.report.bytes_uploaded += n
        self.progress.bytes_sent(n)

    # -- the fast pass: unchanged files already in the album ----------------------------------

    def _lookups(self, roots: Sequence[str]) -> _FastLookups:
        """The stat cache under ``roots`` and the target album's contents, read once per run
        for the fast passes (Live Photo pairs, then single files)."""
        if self._fast is None:
            contents = self.session.mirror.album_contents(self.album.id)
            self._fast = _FastLookups(
                self.stat_cache.snapshot(roots), contents, {h for h, _ in contents}
            )
        return self._fast

    def _in_album(self, lookups: _FastLookups, content_hash: str, path: str) -> bool:
        """Whether the target album holds this content (under this name, for name+hash)."""
        if self.options.match == "name+hash":
            return (content_hash, display_name(path)["name"]) in lookups.contents
        return content_hash in lookups.hashes

    def settle_unchanged(self, roots: Sequence[str], found: list[Found]) -> list[Found]:
        """Count, without a thread or a per-file query, the files whose stat matches the cache
        and whose content is already in the target album (the whole of an unchanged re-run),
        add by reference those whose content is elsewhere in the library (:meth:`_add_known`);
        return the others for the workers."""
        lookups = self._lookups(roots)
        cache = lookups.cache
        queued = self.queue.paths()
        rest: list[Found] = []
        elsewhere: list[Found] = []  # unchanged, content maybe known in other albums
        skipped: list[Found] = []
        for item in found:
            raw = os.fsencode(item.path)
            hit = cache.get(raw)
            if hit is None or hit[0] != StatCache.key_of(item.stat) or raw in queued:
                rest.append(item)
                continue
            _, fmt, content_hash = hit
            if not fmt:
                self._count(item.path, item.stat.st_size, "ignored", "not a photo or video")
            elif self._in_album(lookups, content_hash, item.path):
                skipped.append(item)
            else:
                elsewhere.append(item)
        self._count_skipped(skipped)
        return rest + self._add_known(elsewhere, cache)

    def _count_skipped(self, items: list[Found]) -> None:
        """:meth:`_count` "skipped" for many files at once (one report update, one progress
        call)."""
        with self.lock:
            self.report.skipped += len(items)
        self.progress.files_done(items, "skipped")

    def live_pair_settled(self, roots: Sequence[str]) -> Callable[[Found, Found], bool]:
        """For :func:`pair_live_photos`: whether (still, video) are both unchanged in the stat
        cache and their live item is already in the target album (no file is opened)."""

        def settled(still: Found, video: Found) -> bool:
            lookups = self._lookups(roots)  # read at the first candidate pair, if any
            hits = [lookups.cache.get(os.fsencode(f.path)) for f in (still, video)]
            if any(
                hit is None or not hit[1] or hit[0] != StatCache.key_of(f.stat)
                for hit, f in zip(hits, (still, video), strict=True)
            ):
                return False
            live_hash = ":".join(hit[2] for hit in hits if hit is not None)
            return self._in_album(lookups, live_hash, still.path)

        return settled

    def count_settled_pair(self, still: Found, video: Found) -> None:
        self._count(still.path, still.stat.st_size + video.stat.st_size, "skipped")

    def _add_known(
        self, found: list[Found], cache: dict[bytes, tuple[tuple[int, ...], str, str]]
    ) -> list[Found]:
        """Add to the album, in batches and without a thread, the unchanged files whose content
        the library holds elsewhere (the whole of a re-backup into a new album); return the
        others. One indexed lookup per file; files that need more (a missing thumbnail, a
        batch the server refused) are left to the workers."""
        rest: list[Found] = []
        adds: dict[int, tuple[LibraryFile, list[Found]]] = {}
        for item in found:
            decision = self._decide(cache[os.fsencode(item.path)][2], item.path)
            known = decision.file
            if decision.action is not Action.ADD or known is None or known.thumbnail_size == 0:
                rest.append(item)
                continue
            adds.setdefault(known.id, (known, []))[1].append(item)
        batch = list(adds.values())
        for chunk in in_batches(batch):
            try:
                add_many_by_reference(self.session, self.album, [known for known, _ in chunk])
            except ServerUnreachable:
                raise
            except ClientError:
                rest.extend(item for _, items in chunk for item in items)
                continue
            with self.session.db.transaction() as conn:
                for known, items in chunk:
                    for item in items:
                        PathVersions.record(conn, item.path, self.album.id, known.id)
            for _, items in chunk:
                first, *copies = items
                self._count(first.path, first.stat.st_size, "added")
                for copy in copies:  # the same content again: now in the album
                    self._count(copy.path, copy.stat.st_size, "skipped")
        return rest

    # -- one file ----------------------------------------------------------------------------

    def stopped(self) -> bool:
        """The run stops taking files: the server is unreachable, or the caller cancelled."""
        cancel = self.options.cancel
        return self.stop.is_set() or (cancel is not None and cancel.is_set())

    def process(self, work: Found | LivePair) -> None:
        if self.stopped():
            return
        if isinstance(work, LivePair):
            path, size = work.still.path, work.still.stat.st_size + work.video.stat.st_size
        else:
            path, size = work.path, work.stat.st_size
        try:
            outcome = (
                self._process_live(work)
                if isinstance(work, LivePair)
                else self._process(work.path, work.stat)
            )
        except UploadStopped:
            return  # neither done nor failed: the next run resumes it
        except Exception as err:
            self._failed(path, size, err)
            return
        if isinstance(outcome, Future):
            # bundled: counted when its bundle is committed
            outcome.add_done_callback(lambda f: self._bundled(path, size, f))
        elif outcome.startswith("ignored:"):
            self._count(path, size, "ignored", outcome.split(":", 1)[1])
        else:
            self._count(path, size, outcome)

    def _bundled(
        self, path: str, size: int, future: Future[FileRecord] | Future[LibraryFile]
    ) -> None:
        err = future.exception()
        if err is not None:
            self._failed(path, size, err)
        elif isinstance(future.result(), LibraryFile):
            self._count(path, size, "added")
        else:
            self.progress.bytes_done(size)
            self._count(path, size, "uploaded")

    def _failed(self, path: str, size: int, err: BaseException) -> None:
        """Count a file as failed, with what the user should know; stop on an unreachable
        server (nothing is lost: the next run resumes)."""
        if isinstance(err, ServerUnreachable):
            self.stop.set()
            with self.lock:
                self.report.aborted = str(err)
            message = str(err)
        elif isinstance(err, FileChangedError):
            self.stat_cache.forget(path)  # the cached hash may be the stale one
            message = f"{err}; it will be retried on the next run"
        elif isinstance(err, ApiError):
            if err.code == "quota_exceeded":
                self.report.quota_exceeded = True
            message = f"server refused it ({err.code}): {err}"
        elif isinstance(err, ClientError):
            message = str(err)
        elif isinstance(err, OSError):
            message = f"cannot read: {err.strerror or err}"
        else:  # one file's surprise must not stop the others
            log.error("unexpected error backing up %r", path, exc_info=err)
            message = f"unexpected error: {type(err).__name__}: {err}"
        self._count(path, size, "failed", message)

    def _identify(
        self, path: str, st: os.stat_result, small: bool
    ) -> tuple[MediaFormat | None, str, bytes | None]:
        """Format and content hash, from the stat cache when the file is unchanged; a small
        file read to hash it is returned whole, so it is not read twice."""
        cached = self.stat_cache.lookup(path, st)
        if cached is not None:
            fmt_name, content_hash = cached
            return (get_format(fmt_name) if fmt_name else None), content_hash, None
        data: bytes | None = None
        if small:
            # one read: the format from the bytes in memory, not a separate header read (on a
            # cold cache that is a second disk round trip per file)
            data, content_hash = read_small(path, st)
            fmt = sniff_content(data, os.path.splitext(path)[1])
        else:
            fmt = sniff(path)
        if fmt is None:
            self.stat_cache.store(path, st, "", "")
            return None, "", None
        if not small:
            content_hash = hash_unchanged(path, st)
        self.stat_cache.store(path, st, fmt.name, content_hash)
        return fmt, content_hash, data

    def _process(
        self, path: str, st: os.stat_result
    ) -> str | Future[FileRecord] | Future[LibraryFile]:
        if st.st_size == 0:
            raise ClientError("empty file (0 bytes): nothing to back up")
        small = content_size(st.st_size) <= PART_SIZE
        fmt, content_hash, data = self._identify(path, st, small)
        if fmt is None:
            return "ignored:not a photo or video"
        release = self.claims.acquire(self._claim(content_hash, path))
        handed_over = False  # a bundled upload releases the hash when its bundle commits
        try:
            decision = self._decide(content_hash, path)
            if decision.action in (Action.SKIP, Action.ADD):
                assert decision.file is not None
                outcome = self._known(decision.action, decision.file, path, st, fmt, release)
                handed_over = not isinstance(outcome, str)
                return outcome
            if self.marks.is_deleted(content_hash):
                return "deleted_from_backup"  # the user deleted it: never undo that
            if not small:
                desc = describe(path, st, fmt, content_hash, thumbnail=False)
                job = ThumbnailJob.of(0, path, st, fmt.name)
                self._upload(file_source(path, st), content_hash, desc.metadata, job)
                return "uploaded"
            if resume_small(self.session, self.album, path, st, fmt.name, content_hash):
                self.progress.bytes_done(st.st_size)
                return "uploaded"
            if data is None:
                data, now_hash = read_small(path, st)
                if now_hash != content_hash:
                    raise FileChangedError(f"{path} changed since it was hashed")
            desc = describe(path, st, fmt, content_hash, thumbnail=False)
            future = self._submit_small(file_source(path, st), fmt, data, desc.metadata, release)
            handed_over = True
            return future
        finally:
            if not handed_over:
                release()

    def _claim(self, content_hash: str, path: str) -> str:
        """What two files of this run must not decide on at once: the same content, and under
        ``name+hash`` the same name too (copies under other names are uploaded each anyway, and
        waiting for the other's bundle held a worker idle: 114 copies in the throughput bench
        cost ~3 s)."""
        if self.options.match == "name+hash":
            return f"{content_hash}/{display_name(path)['name']}"
        return content_hash

    def _decide(self, content_hash: str, path: str) -> Decision:
        """The dedup decision for content at ``path`` (its name counts under ``name+hash``),
        against the mirror and the target album."""
        mirror = self.session.mirror
        name = display_name(path)["name"] if self.options.match == "name+hash" else None
        decision = decide(
            mirror.find_by_hash(content_hash, name), mirror.albums_of_file, self.album.id
        )
        if decision.action is Action.UPLOAD and name is not None:
            moved = self._moved_here(content_hash)
            if moved is not None:
                return decide([moved], mirror.albums_of_file, self.album.id)
        return decision

    def _moved_here(self, content_hash: str) -> LibraryFile | None:
        """A library file with this content whose local path is gone: the file was renamed or
        moved, not copied, so it is the same photo (known content is never sent again). Its
        old path stops standing for it."""
        for known in self.session.mirror.find_by_hash(content_hash):
            for old in self.versions.paths_of(known.id):
                if not os.path.lexists(old):
                    self.versions.forget_path(old)
                    return known
        return None

    def _known(
        self,
        action: Action,
        known: LibraryFile,
        path: str,
        st: os.stat_result,
        fmt: MediaFormat,
        release: Callable[[], None],
    ) -> str | Future[LibraryFile]:
        """Known content: skipped, or added to the album by reference (batched: the hash is
        released once the entry is in the mirror, as for a bundled upload)."""
        self._uploader().discard(path)
        if known.thumbnail_size == 0:
            # known content without a thumbnail (a run lost its commit's answer, or stopped
            # before its thumbnails): this local copy can supply it
            job = ThumbnailJob.of(known.id, path, st, fmt.name)
            with self.session.db.transaction() as conn:
                ThumbnailQueue.put(conn, job)
        if action is Action.SKIP:
            self.versions.record_now(path, self.album.id, known.id)
            return "skipped"
        added = self.adder.submit(known)

        def settled(future: Future[LibraryFile]) -> None:
            if future.exception() is None:
                self.versions.record_now(path, self.album.id, known.id)
            release()

        added.add_done_callback(settled)
        return added

    def _submit_small(
        self,
        source: ContentSource,
        fmt: MediaFormat,
        data: bytes,
        metadata: dict[str, Any],
        release: Callable[[], None],
    ) -> Future[FileRecord]:
        """Encrypt a small item and hand it to the bundler, which releases its hash once the
        bundle is committed. ``data`` must be what ``source`` held when described."""
        path, st = source.members[0]
        item = seal_small(path, st, fmt.name, data, metadata)
        if source.changed():
            # being written: what we read may be a half-saved version; take it next run
            raise FileChangedError(f"{path} changed while it was being backed up")
        future = self.bundler.submit(item)
        future.add_done_callback(lambda _: release())
        return future

    def _process_live(self, pair: LivePair) -> str | Future[FileRecord] | Future[LibraryFile]:
        """A Live Photo: one item, still then video in one stream (see :mod:`.livephotos`)."""
        still, video = pair.still, pair.video
        fmt, still_hash, _ = self._identify(still.path, still.stat, small=False)
        video_fmt, video_hash, _ = self._identify(video.path, video.stat, small=False)
        if fmt is None or video_fmt is None:
            raise ClientError("a part of the Live Photo is no longer a photo or video")
        live_hash = f"{still_hash}:{video_hash}"
        source = ContentSource(((still.path, still.stat), (video.path, video.stat)))
        release = self.claims.acquire(self._claim(live_hash, still.path))
        handed_over = False
        try:
            decision = self._decide(live_hash, still.path)
            if decision.action in (Action.SKIP, Action.ADD):
                assert decision.file is not None
                outcome = self._known(
                    decision.action, decision.file, still.path, still.stat, fmt, release
                )
                handed_over = not isinstance(outcome, str)
                return outcome
            if self.marks.is_deleted(live_hash):
                return "deleted_from_backup"
            desc = describe(still.path, still.stat, fmt, live_hash, thumbnail=False)
            metadata = {
                **desc.metadata,
                "type": "live",
                "size": source.size,
                "parts": live_parts(pair, still_hash, video_hash),
                "content_identifier": pair.content_identifier,
            }
            if content_size(source.size) > PART_SIZE:
                with source.open() as reader:  # the uploader checks the stream against this
                    stream_hash = blake3.blake3()
                    hash_into(stream_hash, reader)
                job = ThumbnailJob.of(0, still.path, still.stat, fmt.name)
                self._upload(source, stream_hash.hexdigest(), metadata, job)
                return "uploaded"
            with source.open() as reader:
                data = reader.read()
            cut, view = still.stat.st_size, memoryview(data)  # what was read must be what
            if (  # the dedup hashes describe
                blake3.blake3(view[:cut]).hexdigest() != still_hash
                or blake3.blake3(view[cut:]).hexdigest() != video_hash
            ):
                raise FileChangedError(f"{still.path} changed while it was being backed up")
            future = self._submit_small(source, fmt, data, metadata, release)
            handed_over = True
            return future
        finally:
            if not handed_over:
                release()

    def _uploader(self) -> ContentUploader:
        return ContentUploader(
            self.session.api, self.queue, self._sent, self.progress.bytes_done, cancel=self.stopped
        )

    def _upload(
        self,
        source: ContentSource,
        stream_hash: str,
        metadata: dict[str, Any],
        job: ThumbnailJob,
    ) -> None:
        """A large item, part by part (resumable mid-file); its thumbnail comes later, from
        ``job``'s file (``job.file_id`` is filled in with the committed file's)."""
        session = self.session
        result = self._uploader().upload(source, stream_hash)
        pending = result.pending
        metadata = {**metadata, "header": base64.b64encode(pending.header).decode("ascii")}
        try:
            record = session.api.commit_file(
                FileCommit(
                    collection_id=self.album.id,
                    content_upload_id=pending.upload_id,
                    encrypted_key=wrap_key(self.album.key, pending.file_key),
                    encrypted_metadata=seal_metadata(pending.file_key, metadata),
                )
            )
        except ApiError as err:
            if err.code in ("upload_incomplete", "not_found"):
                self.queue.remove(source.path)  # the session is unusable: start afresh next run
            raise
        job = dataclasses.replace(job, file_id=record.id)
        with session.db.transaction() as conn:
            record_commit(session, conn, self.album, record, metadata, pending.file_key, job)


def backup(
    session: Session,
    paths: Sequence[str],
    album_name: str,
    options: BackupOptions | None = None,
    progress: BackupProgress | None = None,
) -> BackupReport:
    """Back up ``paths`` (files or folders, recursively) into the album ``album_name``."""
    with exclusive(session.home, "backup"):
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
) -> BackupReport:
    """Back up files already scanned (``roots`` are the folders they were found under) into
    ``album_name``. The caller holds the home's lock. ``pull``: bring the mirror up to date
    first (a daemon that follows the change stream keeps it current itself). ``thumbnails``:
    make the queued thumbnails after the originals (a daemon makes them when it has no
    originals left to back up)."""
    progress = progress or BackupProgress()
    started = time.monotonic()
    if pull:
        sync.pull(session)
    album = ensure_album(session, album_name)
    run = _Run(session, album, options, progress)
    for item in passed_over:
        if item.is_error:
            run.report.failed.append({"path": item.path, "error": item.reason})
        else:
            run.report.ignored.append({"path": item.path, "reason": item.reason})
    progress.planned(len(found), sum(f.stat.st_size for f in found))
    found, pairs, known_pairs = pair_live_photos(found, run.live_pair_settled(roots))
    for still, video in known_pairs:
        run.count_settled_pair(still, video)
    found = run.settle_unchanged(roots, found)
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
        _work(session, run, album, work, options, progress, thumbnails, started)
    if pull and (run.report.uploaded or run.report.added_to_album):
        # catch the mirror's version up past our own commits now, cheaply (they are known), so
        # the next run starts with nothing to pull
        with contextlib.suppress(ClientError):
            sync.pull(session)
    run.report.seconds = time.monotonic() - started
    return run.report


def _work(
    session: Session,
    run: _Run,
    album: Album,
    work: list[Found | LivePair],
    options: BackupOptions,
    progress: BackupProgress,
    thumbnails: bool,
    started: float,
) -> None:
    """The originals (workers and bundlers), then the retirements and the thumbnails."""
    sender = BundleSender(session, album, run._sent)
    adds = BundleLimits(max_bytes=MAX_BUNDLE_FILES, max_items=MAX_BUNDLE_FILES, senders=1)
    adder: Bundler[LibraryFile, LibraryFile] = Bundler(
        lambda files: add_many_by_reference(session, album, files), lambda f: 1, adds
    )
    try:
        with Bundler(sender.send, lambda item: item.size, options.bundle_limits) as bundler, adder:
            run.bundler, run.adder = bundler, adder
            if options.workers <= 1:
                for one in work:
                    run.process(one)
            else:
                with ThreadPoolExecutor(max_workers=options.workers) as pool:
                    list(pool.map(run.process, work))
    finally:
        run.stat_cache.flush()
    run.report.originals_seconds = time.monotonic() - started
    if not run.stopped():
        try:
            run.report.previous_versions = retire_previous_versions(session)
        except ServerUnreachable as err:
            run.report.aborted = str(err)
    if thumbnails and not run.stopped():
        progress.thumbnails_planned(ThumbnailQueue(session.db).count())
        try:
            run.report.thumbnails = make_thumbnails(
                session,
                max(1, min(options.workers, os.cpu_count() or 1)),
                progress.thumbnails_done,
                cancel=run.stopped,
            )
        except ClientError as err:
            # the originals are safe; the thumbnails stay queued for the next run
            log.warning("thumbnails interrupted: %s", err)
    run.report.thumbnails_pending = ThumbnailQueue(session.db).count()
