"""The server's side of direct transfers (:class:`DirectEndpoints`, a base of
:class:`~photoark.client.api.ApiClient`): the endpoints of S3 mode, and the flows built on
them that every caller shares.

- Multi-part sessions: :meth:`~DirectEndpoints.part_urls` (a window of presigned part URLs,
  or fresh ones) and :meth:`~DirectEndpoints.part_done` (the server checks the store's listing
  before it records the part). The uploader drives them (:mod:`~photoark.client.pipeline.uploader`).
- Small objects: :meth:`~DirectEndpoints.send_staged` stages single-part sessions under ids
  the client chose (idempotent), PUTs their bytes ``in_flight`` at a time, then runs the
  caller's commit (:meth:`~DirectEndpoints.commit_bundle_direct` or
  :meth:`~DirectEndpoints.set_thumbnails_direct`); an expired URL stages again, an object the
  commit finds missing is PUT again (once), and sessions left by a failure are aborted
  (:meth:`~DirectEndpoints.discard_uploads`: staged sessions hold quota until they expire).
- Downloads: :meth:`~DirectEndpoints.iter_direct` reads by presigned URL, a fresh one when a
  URL expires or the store lost the object (the server's next URL may name a replica).

Whether the server is in S3 mode is asked once per client (``/health/transfers``,
:meth:`~DirectEndpoints.direct_transfers`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import ValidationError

from photoark.client.direct.http import DirectHttp, DirectPut
from photoark.client.errors import (
    ApiError,
    IntegrityFailure,
    ServerUnreachable,
    StoreUnreachable,
    UrlExpired,
)
from photoark.client.transport import HttpTransport, RetryPolicy
from photoark.protocol.models import (
    MAX_PART_URLS,
    BundleResult,
    DirectBundle,
    DirectStage,
    DirectStageItem,
    DirectThumbnails,
    DirectUpload,
    DownloadUrl,
    DownloadUrls,
    FileRecord,
    PartDone,
    PartInfo,
    PartUrl,
    Transfers,
)

__all__ = ["DIRECT_IN_FLIGHT", "DirectEndpoints", "DownloadKind", "StagedBlob"]

log = logging.getLogger(__name__)

DIRECT_IN_FLIGHT = 4  # staged PUTs in flight per bundle (two bundles in flight: 8 at most)

DownloadKind = Literal["content", "thumbnail"]


@dataclass(frozen=True)
class StagedBlob:
    """One single-part object for :meth:`ApiClient.put_staged`: the session id the client
    chose (32 hex digits: staging it again is idempotent), the bytes as pieces in order (never
    joined) and their MD5 (16 bytes, :func:`~photoark.client.direct.md5_of`)."""

    id: str
    pieces: Sequence[bytes]
    md5: bytes

    @property
    def size(self) -> int:
        return sum(len(piece) for piece in self.pieces)


class DirectEndpoints(HttpTransport):
    """The direct-transfer endpoints and flows (see the module doc). ``direct``: the
    connection to the object store (by default made at the first direct transfer, with this
    client's retry policy)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
        direct: DirectHttp | None = None,
    ) -> None:
        super().__init__(base_url, token, retry, transport, timeout)
        self._direct = direct
        self._direct_mode: bool | None = None
        self._lazy = threading.Lock()

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
        super().close()

    @property
    def direct(self) -> DirectHttp:
        """The connection to the server's object store (presigned URLs), made on first use."""
        with self._lazy:
            if self._direct is None:
                self._direct = DirectHttp(self.retry)
            return self._direct

    def direct_transfers(self) -> bool:
        """Whether the server keeps its blobs in S3, so that bytes go by presigned URL
        (``GET /health/transfers``; a server before 0.3 has no such route and no S3 mode):
        asked once, then remembered by this client."""
        if self._direct_mode is None:
            try:
                self._direct_mode = self._model(Transfers, "GET", "/health/transfers").direct
            except ApiError as err:
                if err.status != 404:
                    raise
                self._direct_mode = False
        return self._direct_mode

    def part_urls(
        self, upload_id: str, first: int = 0, count: int = MAX_PART_URLS
    ) -> list[PartUrl]:
        """Presigned PUT URLs of parts ``first`` … ``first + count - 1`` of a multi-part
        session (``GET /uploads/{id}/urls``; at most ``MAX_PART_URLS``), recorded or not: the
        next window, or fresh ones after :class:`UrlExpired`. Read-only."""
        response = self._send(
            "GET", f"/uploads/{upload_id}/urls", params={"first": first, "count": count}
        )
        try:
            return [PartUrl.model_validate(u) for u in response.json()]
        except (ValidationError, ValueError, TypeError) as err:
            raise ApiError("bad_response", "bad answer to /uploads/…/urls", 200) from err

    def part_done(self, upload_id: str, number: int, sha256_hex: str, md5_hex: str) -> PartInfo:
        """Confirm part ``number`` was PUT to its URL (``POST /uploads/{id}/parts/{n}``): the
        server records it only if the store lists it with the session's size and this MD5
        (else 400 ``checksum_mismatch``, ``details["reason"]`` ``missing``/``size``/``md5``:
        PUT it again). Idempotent."""
        body = self._body(PartDone(sha256=sha256_hex, md5=md5_hex))
        return self._model(PartInfo, "POST", f"/uploads/{upload_id}/parts/{number}", json=body)

    def stage_uploads(self, items: Sequence[DirectStageItem]) -> list[DirectUpload]:
        """Open single-part sessions and presign their PUTs (``POST /uploads/direct``, at most
        ``MAX_BUNDLE_FILES``), one answer per item in order; quota is admitted once for the
        new ones. Idempotent for items with a client-chosen ``id`` (an open one gets a fresh
        URL, a committed one ``state == "committed"`` and no URL); an item without an id opens
        a new session at every call."""
        response = self._send(
            "POST", "/uploads/direct", json=self._body(DirectStage(items=list(items)))
        )
        try:
            staged = [DirectUpload.model_validate(u) for u in response.json()]
        except (ValidationError, ValueError, TypeError) as err:
            raise ApiError("bad_response", "bad answer to /uploads/direct", 200) from err
        if len(staged) != len(items) or any(
            item.id is not None and item.id != up.id for item, up in zip(items, staged, strict=True)
        ):
            raise ApiError("bad_response", "/uploads/direct answered other sessions", 200)
        return staged

    def put_staged(
        self,
        blobs: Sequence[StagedBlob],
        in_flight: int = DIRECT_IN_FLIGHT,
        opened: set[str] | None = None,
    ) -> None:
        """Stage ``blobs`` (:meth:`stage_uploads`, with their ids) and PUT the bytes of those
        not committed yet, ``in_flight`` at a time. An expired URL stages the blobs again
        (fresh URLs; a PUT already done answers 412, counted as sent), at most
        ``retry.attempts`` times. Idempotent. ``opened`` is given the ids the server answered
        as open (each holds quota until committed, aborted or expired), even if this fails."""
        if not blobs:
            return
        expired: UrlExpired | None = None
        for _ in range(self.retry.attempts):
            staged = self.stage_uploads(
                [DirectStageItem(id=b.id, size=b.size, md5=b.md5) for b in blobs]
            )
            if opened is not None:
                opened.update(up.id for up in staged if up.state != "committed")
            puts = [
                DirectPut(up.put.url, blob.pieces, blob.md5, up.put.headers)
                for blob, up in zip(blobs, staged, strict=True)
                if up.put is not None
            ]
            try:
                self.direct.put_all(puts, in_flight)
                return
            except UrlExpired as err:
                expired = err
        assert expired is not None
        raise expired

    def send_staged(
        self,
        blobs: Sequence[StagedBlob],
        commit: Callable[[], list[FileRecord]],
        in_flight: int = DIRECT_IN_FLIGHT,
    ) -> list[FileRecord]:
        """:meth:`put_staged` then ``commit()`` (a direct bundle or thumbnails commit). When
        the commit finds some objects missing or not as staged (400 ``checksum_mismatch``
        naming ``details["upload_ids"]``), those are PUT again and the commit repeated, once.

        Staged sessions hold quota until committed, aborted or expired (a day): when this
        fails, those it opened are aborted (:meth:`discard_uploads`) before the error is
        raised, unless the server itself is unreachable (a small file's session is then
        aborted by the run that settles its queue row: ``smallfiles.resume_small``)."""
        opened: set[str] = set()
        try:
            self.put_staged(blobs, in_flight, opened)
            try:
                return commit()
            except ApiError as err:
                named = err.details.get("upload_ids") if err.code == "checksum_mismatch" else None
                again = [b for b in blobs if isinstance(named, list) and b.id in named]
                if not again:
                    raise
            self.put_staged(again, in_flight)
            return commit()
        except Exception as err:
            server_gone = isinstance(err, ServerUnreachable) and not isinstance(
                err, StoreUnreachable
            )
            if opened and not server_gone:  # never masks ``err``: discard_uploads never raises
                self.discard_uploads([blob.id for blob in blobs if blob.id in opened])
            raise

    def discard_uploads(self, upload_ids: Sequence[str]) -> list[str]:
        """Abort those of ``upload_ids`` that are still open (``DELETE /uploads/{id}``), so
        they stop holding quota; return the ids aborted. Best effort, never raises: a session
        committed or gone already is skipped, any other failure is logged and the rest left
        to expire (the caller is reporting an error of its own)."""
        aborted: list[str] = []
        for upload_id in upload_ids:
            try:
                self._send("DELETE", f"/uploads/{upload_id}")
            except ApiError as err:
                if err.code not in ("not_found", "conflict"):  # gone, or committed
                    log.warning("could not abort the upload session %s: %s", upload_id, err)
                continue
            except Exception as err:  # the server is gone meanwhile: let the rest expire
                log.warning("could not abort %d upload sessions: %s", len(upload_ids), err)
                break
            aborted.append(upload_id)
        return aborted

    def commit_bundle_direct(self, bundle: DirectBundle) -> list[FileRecord]:
        """Commit small files whose bytes were PUT to staged sessions (``POST
        /files/bundle/direct``): all or none, as :meth:`commit_bundle`. Idempotent (a committed
        item answers its file again)."""
        result = self._model(BundleResult, "POST", "/files/bundle/direct", json=self._body(bundle))
        if len(result.files) != len(bundle.items):
            raise ApiError("bad_response", "/files/bundle/direct answered other files", 200)
        return result.files

    def set_thumbnails_direct(self, request: DirectThumbnails) -> list[FileRecord]:
        """Attach thumbnails PUT to staged sessions to committed files (``POST
        /files/thumbnails/direct``), as :meth:`set_thumbnails`. Idempotent."""
        result = self._model(
            BundleResult, "POST", "/files/thumbnails/direct", json=self._body(request)
        )
        if len(result.files) != len(request.items):
            raise ApiError("bad_response", "/files/thumbnails/direct answered other files", 200)
        return result.files

    def download_url(self, file_id: int, kind: DownloadKind = "content") -> DownloadUrl:
        """A presigned GET of a file's content or thumbnail (``GET /files/{id}/url``), from the
        first store that holds the recorded size (the primary, else a replica). 404
        ``not_found`` (not the caller's file, no thumbnail); :class:`IntegrityFailure` when no
        store holds it (410 ``object_damaged``). Read-only."""
        return self._model(DownloadUrl, "GET", f"/files/{file_id}/url", params={"kind": kind})

    def download_urls(
        self, file_ids: Sequence[int], kind: DownloadKind = "content"
    ) -> list[DownloadUrl | None]:
        """Presigned GETs of many files at once (``POST /files/urls``, at most
        ``MAX_BUNDLE_FILES``), in order; ``None`` for a file that is not the caller's or has no
        thumbnail. Signed on the primary without a check: a 404 from the store means ask
        :meth:`download_url`. Read-only."""
        body = self._body(DownloadUrls(kind=kind, file_ids=list(file_ids)))
        response = self._send("POST", "/files/urls", json=body)
        try:
            urls = [None if u is None else DownloadUrl.model_validate(u) for u in response.json()]
        except (ValidationError, ValueError, TypeError) as err:
            raise ApiError("bad_response", "bad answer to /files/urls", 200) from err
        if len(urls) != len(file_ids):
            raise ApiError("bad_response", "/files/urls answered other files", 200)
        return urls

    def iter_direct(
        self, file_id: int, kind: DownloadKind, start: int, piece_size: int
    ) -> Iterator[bytes]:
        """Stream ``kind`` of ``file_id`` from byte ``start`` by presigned URL. A URL that
        expired, or an object the store no longer has (404: the server's next URL may name a
        replica), costs a new URL, at most ``retry.attempts`` times without progress. Then,
        when the store refused every one of those URLs (403: the server's clock or its store
        credentials, never this copy), that :class:`UrlExpired`; else
        :class:`IntegrityFailure`. A stream that ends short of the size is one too."""
        offset = start
        refused = 0
        expired_only = True  # every failure since the last progress was a refused URL
        while True:
            link = self.download_url(file_id, kind)
            if offset >= link.size:
                break
            before = offset
            try:
                for piece in self.direct.iter_get(link.url, offset, piece_size):
                    offset += len(piece)
                    yield piece
                break
            except (UrlExpired, ApiError) as err:
                if isinstance(err, ApiError) and err.status != 404:
                    raise
                if offset > before:
                    refused, expired_only = 0, True
                refused += 1
                expired_only = expired_only and isinstance(err, UrlExpired)
                if refused < self.retry.attempts:
                    continue
                if expired_only:
                    raise UrlExpired(
                        f"the object store refused {refused} fresh addresses of the {kind} of "
                        f"file {file_id} ({err})"
                    ) from err
                raise IntegrityFailure(
                    f"the {kind} of file {file_id} could not be read from the object store"
                    f" with {refused} fresh addresses ({err})"
                ) from err
        if offset != link.size:
            raise IntegrityFailure(
                f"the stored {kind} of file {file_id} has {offset} bytes, not {link.size}"
            )
