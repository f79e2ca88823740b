"""Where a file goes once decided (:mod:`.decide`): known content to the target album by
reference (batched), a small file sealed into the next bundle (:mod:`.smallfiles`), a large
file through the part uploader (:mod:`.uploader`) and then committed.

A batched hand-over returns a future and releases the file's claim (:mod:`.claims`) once the
batch is in the mirror, so a copy waiting on the claim decides against the mirror that holds
it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from concurrent.futures import Future

from photoark.client.errors import ApiError, FileChangedError
from photoark.client.library.records import seal_metadata
from photoark.client.pipeline.bundler import Bundler
from photoark.client.pipeline.decide import Action
from photoark.client.pipeline.orphans import home_tag
from photoark.client.pipeline.outcome import Outcome
from photoark.client.pipeline.smallfiles import SmallFile, record_commit, seal_small
from photoark.client.pipeline.sources import ContentSource
from photoark.client.pipeline.tally import Tally
from photoark.client.pipeline.uploader import ContentUploader
from photoark.client.session import Session
from photoark.client.state.mirror import Album, LibraryFile
from photoark.client.state.pathversions import PathVersions
from photoark.client.state.queue import UploadQueue
from photoark.client.state.thumbqueue import ThumbnailJob, ThumbnailQueue
from photoark.crypto.boxes import wrap_key
from photoark.media import MediaFormat
from photoark.protocol.metadata import FileMetadata
from photoark.protocol.models import FileCommit, FileRecord

__all__ = ["Handover"]


class Handover:
    """The hand-overs of one run, into ``album``; ``bundler`` sends small files in bundles,
    ``adder`` adds known content by reference in batches."""

    def __init__(
        self,
        session: Session,
        album: Album,
        versions: PathVersions,
        tally: Tally,
        bundler: Bundler[SmallFile, FileRecord],
        adder: Bundler[LibraryFile, LibraryFile],
    ) -> None:
        self.session = session
        self.album = album
        self.versions = versions
        self.tally = tally
        self.queue = UploadQueue(session.db)
        self.tag = home_tag(session.db)  # in the keys of the sessions it opens (.orphans)
        self.bundler = bundler
        self.adder = adder

    def uploader(self) -> ContentUploader:
        tally = self.tally
        return ContentUploader(
            self.session.api,
            self.queue,
            tally.sent,
            tally.progress.bytes_done,
            cancel=tally.stopped,
            tag=self.tag,
        )

    def known(
        self,
        action: Action,
        known: LibraryFile,
        path: str,
        st: os.stat_result,
        fmt: MediaFormat,
        release: Callable[[], None],
    ) -> Outcome | Future[LibraryFile]:
        """Known content: skipped, or added to the album by reference (batched: the claim is
        released once the entry is in the mirror, as for a bundled upload)."""
        self.uploader().discard(path)
        if known.thumbnail_size == 0:
            # known content without a thumbnail (a run lost its commit's answer, or stopped
            # before its thumbnails): this local copy can supply it
            job = ThumbnailJob.of(known.id, path, st, fmt.name)
            with self.session.db.transaction() as conn:
                ThumbnailQueue.put(conn, job)
        if action is Action.SKIP:
            self.versions.record_now(path, self.album.id, known.id)
            return Outcome.SKIPPED
        added = self.adder.submit(known)

        def settled(future: Future[LibraryFile]) -> None:
            if future.exception() is None:
                self.versions.record_now(path, self.album.id, known.id)
            release()

        added.add_done_callback(settled)
        return added

    def small(
        self,
        source: ContentSource,
        fmt: MediaFormat,
        data: bytes,
        metadata: FileMetadata,
        release: Callable[[], None],
    ) -> Future[FileRecord]:
        """Encrypt a small item and hand it to the bundler, which releases its claim once the
        bundle is committed. ``data`` must be what ``source`` held when described."""
        path, st = source.members[0]
        item = seal_small(path, st, fmt.name, data, metadata)
        if source.changed():
            # being written: what we read may be a half-saved version; take it next run
            raise FileChangedError(f"{path} changed while it was being backed up")
        future = self.bundler.submit(item)
        future.add_done_callback(lambda _: release())
        return future

    def large(
        self,
        source: ContentSource,
        stream_hash: str,
        metadata: FileMetadata,
        job: ThumbnailJob,
    ) -> None:
        """A large item, part by part (resumable mid-file), then committed; its thumbnail comes
        later, from ``job``'s file (``job.file_id`` is filled in with the committed file's)."""
        session = self.session
        result = self.uploader().upload(source, stream_hash)
        pending = result.pending
        metadata = metadata.with_header(pending.header)
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
