"""Small files (content of one part): read once, encrypted whole in memory, sent in bundles.

Most photos are a few MB; one request per file (open a session, put its part, commit) cost
more server time than the bytes did. A :class:`SmallFile` is read in one exact-size read
(re-hashed, and the stat checked before and after: a torn file is never sent), encrypted with
a fresh key, and handed to a :class:`~photoark.client.pipeline.bundler.Bundler` whose ``send`` is
:meth:`BundleSender.send`: one ``POST /files/bundle`` for up to 128 files or 16 MiB.

Resuming: before a bundle is sent, each item's queue row (file key, header, the upload id the
client chose) is written; the row goes in the transaction that records the commit locally.
A row left by a kill is settled by :func:`resume_small`: the server says whether the upload id
was committed; if so the file is recommitted without sending a byte, else sent afresh (its
session, if still open, aborted first: it holds quota).

Direct transfers (a server in S3 mode): the same bundle, but its items' bytes go straight to
the store: staged under their upload ids, PUT a few at a time, then committed together
(``POST /files/bundle/direct``; :meth:`~photoark.client.api.ApiClient.send_staged`).
Resuming is unchanged: a staged id is committed or it is not. A staged session is open (and
counts against the quota) from the stage on: one whose bundle failed is aborted at once
(:meth:`~photoark.client.api.ApiClient.send_staged`), one a kill left behind by
:func:`resume_small`.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import blake3

from photoark.client.direct import StagedBlob, md5_of
from photoark.client.errors import ApiError, FileChangedError
from photoark.client.library.records import library_file, seal_metadata
from photoark.client.session import Session
from photoark.client.state.mirror import Album
from photoark.client.state.pathversions import PathVersions
from photoark.client.state.queue import PendingUpload, UploadQueue
from photoark.client.state.thumbqueue import ThumbnailJob, ThumbnailQueue
from photoark.crypto.boxes import new_key, open_json, wrap_key
from photoark.crypto.stream import encrypt_chunks
from photoark.protocol.metadata import FileMetadata
from photoark.protocol.models import (
    Bundle,
    BundleItem,
    DirectBundle,
    DirectBundleItem,
    FileCommit,
    FileRecord,
)

__all__ = [
    "BUNDLE_PART_SIZE",
    "BundleSender",
    "SmallFile",
    "read_small",
    "record_commit",
    "resume_small",
    "seal_small",
]

BUNDLE_PART_SIZE = 0
"""``part_size`` of a queue row whose upload travels in a bundle (no parts, no snapshot)."""


@dataclass(frozen=True)
class SmallFile:
    """A small file, encrypted, with what its commit needs."""

    path: str
    stat: os.stat_result
    format: str
    upload_id: str
    file_key: bytes
    header: bytes
    chunks: tuple[bytes, ...]  # the content's ciphertext, chunk by chunk (sent as they are)
    metadata: FileMetadata  # includes the content's hash and secretstream header

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.chunks)

    def transfer_hash(self) -> str:
        """BLAKE3 of the ciphertext: the bundle's check that the server got these bytes."""
        hasher = blake3.blake3()
        for chunk in self.chunks:
            hasher.update(chunk)
        return str(hasher.hexdigest())


def read_small(path: str, st: os.stat_result) -> tuple[bytes, str]:
    """The whole file and its BLAKE3, provided it is still the file ``st`` describes."""
    with open(path, "rb") as f:
        before = os.fstat(f.fileno())
        if (before.st_size, before.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            raise FileChangedError(f"{path} changed after it was scanned")
        data = f.read(st.st_size + 1)
        after = os.fstat(f.fileno())
    if len(data) != st.st_size or (after.st_size, after.st_mtime_ns) != (
        st.st_size,
        st.st_mtime_ns,
    ):
        raise FileChangedError(f"{path} changed while it was read")
    return data, str(blake3.blake3(data).hexdigest())


def seal_small(
    path: str, st: os.stat_result, fmt: str, data: bytes, metadata: FileMetadata
) -> SmallFile:
    """Encrypt ``data`` (the file's content) with a fresh key; ``metadata`` gets the header."""
    file_key = new_key()
    header, chunks = encrypt_chunks(file_key, data)
    metadata = metadata.with_header(header)
    return SmallFile(
        path=path,
        stat=st,
        format=fmt,
        upload_id=uuid.uuid4().hex,
        file_key=file_key,
        header=header,
        chunks=tuple(chunks),
        metadata=metadata,
    )


def record_commit(
    session: Session,
    conn: sqlite3.Connection,
    album: Album,
    record: FileRecord,
    metadata: FileMetadata,
    file_key: bytes,
    job: ThumbnailJob,
) -> None:
    """Inside the caller's transaction: the committed file into the mirror and the album, the
    upload's queue row gone, its thumbnail queued (``job`` names the local file), and the local
    path recorded as this file (its previous version, if any, queued for retirement)."""
    session.mirror.put_file(conn, library_file(record, metadata, file_key))
    session.mirror.put_entry(conn, album.id, record.id)
    PathVersions.record(conn, job.path, album.id, record.id)
    UploadQueue.remove_in(conn, job.path)
    ThumbnailQueue.put(conn, job)


class BundleSender:
    """``send`` for the small-file :class:`~.bundler.Bundler` of one album."""

    def __init__(
        self, session: Session, album: Album, on_sent: Callable[[int], None] = lambda n: None
    ) -> None:
        self._session = session
        self._album = album
        self._on_sent = on_sent

    def send(self, items: Sequence[SmallFile]) -> list[FileRecord]:
        session, album = self._session, self._album
        with session.db.transaction() as conn:
            for item in items:
                UploadQueue.put_in(conn, _pending(item))
        if session.api.direct_transfers():
            records = self._send_direct(items)
        else:
            records = self._send_framed(items)
        self._on_sent(sum(item.size for item in items))
        with session.db.transaction() as conn:
            for item, record in zip(items, records, strict=True):
                job = ThumbnailJob.of(record.id, item.path, item.stat, item.format)
                record_commit(session, conn, album, record, item.metadata, item.file_key, job)
        return records

    def _send_framed(self, items: Sequence[SmallFile]) -> list[FileRecord]:
        """Through the server: one ``POST /files/bundle`` with every item's bytes."""
        session, album = self._session, self._album
        bundle = Bundle(
            items=[
                BundleItem(
                    upload_id=item.upload_id,
                    collection_id=album.id,
                    size=item.size,
                    blake3=item.transfer_hash(),
                    encrypted_key=wrap_key(album.key, item.file_key),
                    encrypted_metadata=seal_metadata(item.file_key, item.metadata),
                )
                for item in items
            ]
        )
        return session.api.commit_bundle(bundle, [item.chunks for item in items])

    def _send_direct(self, items: Sequence[SmallFile]) -> list[FileRecord]:
        """Straight to the store: stage, PUT, then ``POST /files/bundle/direct``."""
        api, album = self._session.api, self._album
        blobs = [StagedBlob(item.upload_id, item.chunks, md5_of(item.chunks)) for item in items]
        bundle = DirectBundle(
            items=[
                DirectBundleItem(
                    upload_id=item.upload_id,
                    collection_id=album.id,
                    size=item.size,
                    md5=blob.md5,
                    encrypted_key=wrap_key(album.key, item.file_key),
                    encrypted_metadata=seal_metadata(item.file_key, item.metadata),
                )
                for item, blob in zip(items, blobs, strict=True)
            ]
        )
        return api.send_staged(blobs, lambda: api.commit_bundle_direct(bundle))


def _pending(item: SmallFile) -> PendingUpload:
    return PendingUpload(
        path=item.path,
        size=item.stat.st_size,
        mtime_ns=item.stat.st_mtime_ns,
        hash=item.metadata.hash,
        file_key=item.file_key,
        header=item.header,
        upload_id=item.upload_id,
        part_size=BUNDLE_PART_SIZE,
        part_count=1,
    )


def resume_small(
    session: Session,
    album: Album,
    path: str,
    st: os.stat_result,
    fmt: str,
    content_hash: str,
) -> FileRecord | None:
    """Settle a bundle item a killed run left in the queue: the committed file (recommitted
    into ``album``, nothing sent) if the server has it, else ``None`` (send it afresh)."""
    queue = UploadQueue(session.db)
    pending = queue.get(path)
    if pending is None or pending.part_size != BUNDLE_PART_SIZE:
        return None
    if (pending.size, pending.mtime_ns, pending.hash) != (st.st_size, st.st_mtime_ns, content_hash):
        _forget(session, queue, path, pending.upload_id)
        return None
    try:
        status = session.api.upload_status(pending.upload_id)
    except ApiError as err:
        if err.code != "not_found":
            raise
        queue.remove(path)
        return None
    if status.state != "committed":
        _forget(session, queue, path, pending.upload_id)
        return None
    stand_in = seal_metadata(
        pending.file_key,
        FileMetadata.model_validate({"name": "", "hash": "", "size": 0, "type": "", "header": ""}),
    )
    record = session.api.commit_file(
        FileCommit(
            collection_id=album.id,
            content_upload_id=pending.upload_id,
            encrypted_key=wrap_key(album.key, pending.file_key),
            encrypted_metadata=stand_in,  # a recommit keeps the first commit's metadata
        )
    )
    metadata = FileMetadata.from_json(open_json(pending.file_key, record.encrypted_metadata))
    job = ThumbnailJob.of(record.id, path, st, fmt)
    with session.db.transaction() as conn:
        record_commit(session, conn, album, record, metadata, pending.file_key, job)
    return record


def _forget(session: Session, queue: UploadQueue, path: str, upload_id: str) -> None:
    """Drop ``path``'s queue row, aborting its session first if it is still open: a staged one
    (direct transfers) holds its size against the quota until it expires, and the file is
    sealed afresh under a new id. Gone or committed meanwhile: only the row goes."""
    try:
        session.api.abort_upload(upload_id)
    except ApiError as err:
        if err.code not in ("not_found", "conflict"):
            raise
    queue.remove(path)
