"""Resumable, encrypted upload of one file's content, part by part.

Content layout on the server: the secretstream chunks only (4 MiB plaintext each); the 24-byte
header travels in the encrypted metadata. A part is :data:`PART_CHUNKS` whole chunks, so part
boundaries fall on chunk boundaries and the encryptor's state can be snapshotted after each part.

Resuming: the queue row keeps the file key, the header, the number of parts this client knows
were acknowledged and the encryptor snapshot after them. On restart the uploader asks the server
which parts it has; from the snapshot it re-encrypts (locally, no network) every part the server
already holds, checks the SHA-256 the server recorded for it, and sends only the parts that are
missing. The content is hashed again while it is encrypted; if it no longer matches the hash the
dedup decision was made on (or size/mtime moved), the upload is abandoned: a torn file is never
committed.

Memory: every encrypted part alive in the process (read and encrypted, or being sent) holds
a permit of one budget (:mod:`.partbudget`), whatever the number of workers and files.

Direct transfers (a server in S3 mode): each part is hashed with MD5 too, PUT to its presigned
URL (:class:`_PartLinks`: a window of URLs per session, from the session's answer, then
``GET /uploads/{id}/urls``; a fresh one when a URL expired) and then confirmed
(``POST /uploads/{id}/parts/{n}``), which the server records only once the store lists the
part. Resuming is the same: only confirmed parts count.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from math import inf

import blake3

from photoark.client.api import ApiClient
from photoark.client.errors import ApiError, FileChangedError, UploadStopped, UrlExpired
from photoark.client.pipeline.orphans import session_key
from photoark.client.pipeline.partbudget import PARTS, PartBudget, Permit
from photoark.client.pipeline.sources import ContentSource
from photoark.client.state.queue import PendingUpload, UploadQueue
from photoark.crypto.boxes import new_key
from photoark.crypto.hashing import hash_into
from photoark.crypto.stream import (
    ABYTES,
    CHUNK_SIZE,
    CIPHER_CHUNK_SIZE,
    StreamEncryptor,
    chunk_count,
)
from photoark.protocol.models import PartUrl

__all__ = [
    "PART_CHUNKS",
    "PART_SIZE",
    "ContentUploader",
    "FileChangedError",
    "UploadResult",
    "UploadStopped",
    "content_size",
]

PART_CHUNKS = 2
PART_SIZE = PART_CHUNKS * CIPHER_CHUNK_SIZE


def content_size(plain_size: int) -> int:
    """Encrypted content size on the server (chunks only, header kept in metadata)."""
    return plain_size + chunk_count(plain_size) * ABYTES


@dataclass(frozen=True)
class UploadResult:
    pending: PendingUpload
    bytes_sent: int
    parts_sent: int
    parts_skipped: int


class ContentUploader:
    """Uploads file content. ``on_bytes`` is told every content byte sent over the network;
    ``on_plain`` every plaintext byte dealt with (sent, or found already on the server), so the
    two differ on a resumed upload. ``tag``: the home's tag (:func:`.orphans.home_tag`), put
    in every session's idempotency key so that a session a kill left unrecorded can be told
    apart from another device's and aborted. ``in_flight``: parts of one file sent at once;
    ``parts``: the budget of parts alive it shares with the process's other uploads (default
    :data:`PARTS`)."""

    def __init__(
        self,
        api: ApiClient,
        queue: UploadQueue,
        on_bytes: Callable[[int], None] = lambda n: None,
        on_plain: Callable[[int], None] = lambda n: None,
        in_flight: int = 3,
        cancel: Callable[[], bool] = lambda: False,
        tag: str | None = None,
        parts: PartBudget | None = None,
    ) -> None:
        self._parts = PARTS if parts is None else parts
        self._cancel = cancel
        self._tag = tag
        self._api = api
        self._queue = queue
        self._on_bytes = on_bytes
        self._on_plain = on_plain
        self._in_flight = max(1, in_flight)

    def _existing(self, source: ContentSource, content_hash: str) -> PendingUpload | None:
        pending = self._queue.get(source.path)
        if pending is None:
            return None
        if (pending.size, pending.mtime_ns, pending.hash) == (
            source.size,
            source.mtime_ns,
            content_hash,
        ):
            return pending
        self._drop(pending)
        return None

    def discard(self, path: str) -> None:
        """Forget an unfinished upload of ``path`` (the content turned out to be known) and
        abort its server session so it stops holding quota."""
        pending = self._queue.get(path)
        if pending is not None:
            self._drop(pending)

    def _drop(self, pending: PendingUpload) -> None:
        with contextlib.suppress(ApiError):  # an expired session is already gone
            self._api.abort_upload(pending.upload_id)
        self._queue.remove(pending.path)

    def _start(
        self, source: ContentSource, content_hash: str
    ) -> tuple[PendingUpload, list[PartUrl] | None]:
        file_key = new_key()
        encryptor = StreamEncryptor.start(file_key)
        total = content_size(source.size)
        key = None if self._tag is None else session_key(self._tag)
        session = self._api.open_upload(total, PART_SIZE, idempotency_key=key)
        pending = PendingUpload(
            path=source.path,
            size=source.size,
            mtime_ns=source.mtime_ns,
            hash=content_hash,
            file_key=file_key,
            header=encryptor.header,
            upload_id=session.id,
            part_size=PART_SIZE,
            part_count=session.part_count,
            parts_done=0,
            snapshot=encryptor.snapshot(),
        )
        self._queue.put(pending)
        return pending, session.part_urls

    def upload(self, source: ContentSource, content_hash: str) -> UploadResult:
        """Upload (or finish uploading) ``source``, whose stream's BLAKE3 is ``content_hash``.

        Returns when the server holds every part; the caller commits. Raises
        :class:`FileChangedError` if a file changed under us (nothing is committed).
        """
        path, size = source.path, source.size
        pending = self._existing(source, content_hash)
        server_parts: dict[int, str] = {}
        urls: list[PartUrl] | None = None
        if pending is not None:
            try:
                status = self._api.upload_status(pending.upload_id)
                server_parts = {p.number: p.sha256 for p in status.parts}
                urls = status.part_urls
            except ApiError as err:
                if err.code != "not_found":
                    raise
                self._queue.remove(path)
                pending = None
            else:
                if any(n not in server_parts for n in range(pending.parts_done)):
                    # the server lost a part we thought it had: start this file afresh
                    self._drop(pending)
                    pending = None
                    server_parts = {}
        if pending is None:
            pending, urls = self._start(source, content_hash)
        assert pending.snapshot is not None
        encryptor = StreamEncryptor.resume(pending.header, pending.snapshot)
        n_chunks = chunk_count(size)
        hasher = blake3.blake3()
        links = (
            _PartLinks(self._api, pending.upload_id, urls) if self._api.direct_transfers() else None
        )
        window = _Window(self, pending, self._in_flight if pending.part_count > 1 else 1, links)
        with source.open() as f, window:
            prefix = pending.parts_done * PART_CHUNKS * CHUNK_SIZE
            hash_into(hasher, f, prefix)  # the final hash must cover the whole file
            self._on_plain(min(prefix, size))
            for number in range(pending.parts_done, pending.part_count):
                if self._cancel():
                    # the parts acknowledged so far are recorded: the next run goes on from here
                    raise UploadStopped(f"{path}: upload paused after {number} parts")
                # the permit is handed to the part's send by push, else given back here
                with self._parts.take() as permit:
                    pieces = _encrypt_part(f.read, size, number, n_chunks, hasher, encryptor)
                    if pieces is None:
                        permit.release()  # before waiting on the window's sends
                        window.cancel()
                        self._drop(window.pending)
                        raise FileChangedError(f"{path} shrank while it was being uploaded")
                    part = hashlib.sha256()
                    md5 = None if links is None else hashlib.md5(usedforsecurity=False)
                    for piece in pieces:
                        part.update(piece)
                        if md5 is not None:
                            md5.update(piece)
                    digest = part.hexdigest()
                    on_server = server_parts.get(number) == digest
                    # the chunks go as they are, one after another: joining them would copy
                    # the whole part once more
                    window.push(
                        number,
                        pieces,
                        digest,
                        on_server,
                        encryptor.snapshot(),
                        permit,
                        None if md5 is None else md5.hexdigest(),
                    )
                    del pieces
            window.drain()
            trailing = f.read(1)
        pending = window.pending
        sent, parts_sent, skipped = window.sent, window.parts_sent, window.skipped
        if trailing or hasher.hexdigest() != content_hash or source.changed():
            self._drop(pending)
            raise FileChangedError(f"{path} changed while it was being uploaded")
        return UploadResult(pending, sent, parts_sent, skipped)


def _encrypt_part(
    read: Callable[[int], bytes],
    size: int,
    number: int,
    n_chunks: int,
    hasher: blake3.blake3,
    encryptor: StreamEncryptor,
) -> tuple[bytes, ...] | None:
    """Part ``number`` of a stream of ``size`` bytes, got with ``read`` (hashed into ``hasher``)
    and encrypted: its chunks, in order; ``None`` if the stream ended early (the file shrank).
    Each chunk's plaintext is gone once this returns."""
    pieces = []
    first = number * PART_CHUNKS
    for index in range(first, min(first + PART_CHUNKS, n_chunks)):
        want = min(CHUNK_SIZE, size - index * CHUNK_SIZE)
        plain = read(want)
        if len(plain) != want:
            return None
        hasher.update(plain)
        pieces.append(encryptor.push(plain, final=index == n_chunks - 1))
    return tuple(pieces)


class _Window:
    """Parts in flight for one file: encrypted in order, sent by up to ``size`` threads, and
    retired strictly in order, so the persisted (parts done, snapshot) always describes a
    contiguous prefix the server has acknowledged. Memory: ``size`` parts, each holding a
    permit of the uploader's :class:`PartBudget` until its send is done. ``links``: the
    session's part URLs when parts go straight to the store (else through the server)."""

    def __init__(
        self,
        uploader: ContentUploader,
        pending: PendingUpload,
        size: int,
        links: _PartLinks | None = None,
    ) -> None:
        self._up = uploader
        self.pending = pending
        self._links = links
        self._size = size
        self._pool = ThreadPoolExecutor(max_workers=size) if size > 1 else None
        self._queue: deque[tuple[int, Future[int], bytes, int]] = deque()
        self.sent = self.parts_sent = self.skipped = 0

    def __enter__(self) -> _Window:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def _send(
        self, number: int, data: tuple[bytes, ...], digest: str, size: int, md5: str | None
    ) -> int:
        if self._links is None:
            self._up._api.put_part(self.pending.upload_id, number, data, digest)
        else:
            assert md5 is not None
            self._links.send(number, data, digest, md5)
        self._up._on_bytes(size)
        return size

    def push(
        self,
        number: int,
        data: tuple[bytes, ...],
        digest: str,
        on_server: bool,
        snap: bytes,
        permit: Permit,
        md5: str | None = None,
    ) -> None:
        """Queue part ``number`` (its encrypted chunks in order; ``md5``: their MD5, hex, for
        a direct transfer) for sending. ``permit``, the part's, is handed to its send before
        anything waits; if the part never gets a send (an error here), the caller's ``with``
        gives it back."""
        size = sum(len(piece) for piece in data)
        plain = size - -(-size // CIPHER_CHUNK_SIZE) * ABYTES
        future: Future[int] = Future()
        if on_server:
            future.set_result(-1)  # the server has it already: verified by its SHA-256
        elif self._pool is None:
            future.set_result(self._send(number, data, digest, size, md5))
        else:
            future = self._pool.submit(self._send, number, data, digest, size, md5)
        permit.release_when_done(future)
        self._queue.append((number, future, snap, plain))
        while len(self._queue) >= self._size or (self._queue and self._queue[0][1].done()):
            self._retire()

    def _retire(self) -> None:
        number, future, snap, plain = self._queue.popleft()
        result = future.result()  # re-raises the part's error
        if result < 0:
            self.skipped += 1
        else:
            self.sent += result
            self.parts_sent += 1
        self.pending = self.pending.advanced(number + 1, snap)
        self._up._queue.advance(self.pending)
        self._up._on_plain(plain)

    def drain(self) -> None:
        while self._queue:
            self._retire()

    def cancel(self) -> None:
        if self._pool is not None:
            for _, future, _, _ in self._queue:
                future.cancel()
            self._pool.shutdown(wait=True)
            self._pool = None


class _PartLinks:
    """The presigned part URLs of one multi-part session (direct transfers), shared by the
    window's threads: seeded from the session's answer, then fetched ``MAX_PART_URLS`` at a
    time from the first part wanted. A URL about to expire is fetched again: ``margin``
    seconds before its ``expires_at``, or half its lifetime when the server signs for less
    than twice that (a short ``--presign-seconds``), measured on this computer's clock from
    when it was fetched. A URL whose ``expires_at`` this clock already passed at fetching (the
    clocks disagree) is used as it is. The store's refusal (:class:`UrlExpired`) is the real
    check either way: :meth:`send` then fetches a fresh URL."""

    def __init__(
        self,
        api: ApiClient,
        upload_id: str,
        urls: Sequence[PartUrl] | None,
        margin: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api = api
        self._upload_id = upload_id
        self._margin = margin
        self._clock = clock
        self._urls: dict[int, tuple[str, float]] = {}  # number → (URL, fetch it again after)
        self._keep(urls or ())
        self._lock = threading.Lock()

    def _keep(self, urls: Sequence[PartUrl]) -> None:
        now = self._clock()
        for link in urls:
            lifetime = link.expires_at - now
            stale = link.expires_at - min(self._margin, lifetime / 2) if lifetime > 0 else inf
            self._urls[link.number] = (link.url, stale)

    def url(self, number: int) -> str:
        """Part ``number``'s URL; each is handed out once (a retry gets a fresh one)."""
        with self._lock:
            kept = self._urls.pop(number, None)
            if kept is None or kept[1] < self._clock():
                self._keep(self._api.part_urls(self._upload_id, number))
                kept = self._urls.pop(number, None)
                if kept is None:
                    raise ApiError("bad_response", f"no URL for part {number} was given", 200)
            return kept[0]

    def send(self, number: int, data: Sequence[bytes], sha256: str, md5: str) -> None:
        """PUT part ``number`` to the store, then confirm it to the server. A refused URL is
        replaced, and a part the server does not find in the store (``checksum_mismatch``)
        is PUT again, within the client's retry attempts."""
        md5_b64 = base64.b64encode(bytes.fromhex(md5)).decode("ascii")
        size = sum(len(piece) for piece in data)
        attempts = self._api.retry.attempts
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            try:
                self._api.direct.put(self.url(number), data, md5_b64, size)
            except UrlExpired:
                if last:
                    raise
                continue
            try:
                self._api.part_done(self._upload_id, number, sha256, md5)
                return
            except ApiError as err:
                if err.code != "checksum_mismatch" or last:
                    raise
