"""The photoark API as typed methods: one per endpoint (:class:`ApiClient`).

The HTTP plumbing (token, retries, problem bodies → :class:`ApiError`) is
:mod:`~photoark.client.transport`. Each method's docstring says whether the request is
idempotent; the few that are not (signup, login) are sent with ``Retry.UNSENT``, and album
creation and upload sessions carry an idempotency key chosen by the caller, so a retry after
a lost answer returns the first result instead of making a second album or session.

Direct transfers. A server that keeps its blobs in S3 says so in ``/health``
(:meth:`ApiClient.direct_transfers`, asked once per client): bytes then go to and from the store
by presigned URL (:mod:`photoark.client.direct`), never through the server.
The pipeline calls the direct endpoints itself (parts, staged small objects); downloads switch
inside :meth:`ApiClient.iter_content` and :meth:`ApiClient.thumbnail`, so their callers (export,
the web app, the embedder) do not know which mode the server is in.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence

import httpx
from pydantic import BaseModel, ValidationError

from photoark.client.direct import DirectEndpoints
from photoark.client.errors import (
    ApiError,
    IntegrityFailure,
    ServerUnreachable,
)
from photoark.client.transport import RETRY_STATUS, Retry, problem_of
from photoark.protocol.frames import encode_frames
from photoark.protocol.models import (
    EVENTS_HEARTBEAT_SECONDS,
    MAX_MARKS,
    AddManyToCollection,
    AddToCollection,
    AuthSessions,
    Bundle,
    BundleResult,
    Collection,
    CollectionCreate,
    CollectionRename,
    DeletionMarks,
    Diff,
    EmbeddingItem,
    EmbeddingList,
    EmbeddingPut,
    EmbeddingQuery,
    Entry,
    FileCommit,
    FileIds,
    FileRecord,
    Health,
    KeyParams,
    LoginRequest,
    LoginResponse,
    OpenUpload,
    PartInfo,
    RestoredFile,
    SignupRequest,
    ThumbnailBundle,
    TrashDeleted,
    TrashFiles,
    TrashPage,
    UploadCreate,
    UploadSession,
    Usage,
    VerifiedFile,
)

__all__ = ["ApiClient"]

EVENTS_READ_TIMEOUT = 3 * EVENTS_HEARTBEAT_SECONDS  # 45 s: a heartbeat may be late, not lost
# asked of every server: one in S3 mode then adds the URLs of the first parts to a session (one
# before 0.3 ignores the query)
_PART_URLS = {"part_urls": "true"}


class ApiClient(DirectEndpoints):
    """One typed method per endpoint of the photoark API (those of direct transfers in
    :class:`~photoark.client.direct.DirectEndpoints`)."""

    # -- endpoints --------------------------------------------------------------------------

    def health(self) -> Health:
        return self._model(Health, "GET", "/health")

    def key_params(self, email: str) -> KeyParams:
        return self._model(KeyParams, "GET", "/auth/params", params={"email": email})

    def signup(self, request: SignupRequest) -> LoginResponse:
        """Create an account (``POST /auth/signup``). Not idempotent (a second signup of the
        email is a 409 ``conflict``): retried only when the request was never sent."""
        return self._model(
            LoginResponse, "POST", "/auth/signup", json=self._body(request), retry=Retry.UNSENT
        )

    def login(self, request: LoginRequest) -> LoginResponse:
        """Log in (``POST /auth/login``): each call issues a new token, so it is retried only
        when the request was never sent."""
        return self._model(
            LoginResponse, "POST", "/auth/login", json=self._body(request), retry=Retry.UNSENT
        )

    def logout(self) -> None:
        self._send("POST", "/auth/logout")

    def collections(self) -> list[Collection]:
        response = self._send("GET", "/collections")
        try:
            return [Collection.model_validate(c) for c in response.json()]
        except (ValidationError, ValueError, TypeError) as err:
            raise ApiError("bad_response", "bad answer to /collections", 200) from err

    def create_collection(
        self, request: CollectionCreate, idempotency_key: str | None = None
    ) -> Collection:
        """Create an album (``POST /collections``). Idempotent through its idempotency key:
        ``idempotency_key``, else the request's, else a fresh random one, shared by every
        retry of this call, so a retry after a lost answer gets the same album. A caller that
        may repeat the call later (after a crash) passes a key it saved with the request."""
        key = _idempotency_key(idempotency_key, request.idempotency_key)
        body = CollectionCreate(
            encrypted_key=request.encrypted_key,
            encrypted_name=request.encrypted_name,
            idempotency_key=key,
        )
        return self._model(Collection, "POST", "/collections", json=self._body(body))

    def rename_collection(self, collection_id: int, request: CollectionRename) -> Collection:
        return self._model(
            Collection, "PATCH", f"/collections/{collection_id}", json=self._body(request)
        )

    def add_many_to_collection(
        self, collection_id: int, request: AddManyToCollection
    ) -> list[Entry]:
        """Add many files by reference in one request and one transaction (all or none)."""
        response = self._send(
            "POST", f"/collections/{collection_id}/files/batch", json=self._body(request)
        )
        try:
            entries = [Entry.model_validate(e) for e in response.json()]
        except (ValidationError, ValueError, TypeError) as err:
            raise ApiError("bad_response", "bad answer to /collections/…/files/batch", 200) from err
        if len(entries) != len(request.items):
            raise ApiError("bad_response", "the batch add answered a different count", 200)
        return entries

    def add_to_collection(self, collection_id: int, request: AddToCollection) -> Entry:
        return self._model(
            Entry, "POST", f"/collections/{collection_id}/files", json=self._body(request)
        )

    def remove_from_collection(self, collection_id: int, file_id: int) -> None:
        """Take a file out of an album (the server leaves a tombstone). Idempotent."""
        self._send("DELETE", f"/collections/{collection_id}/files/{file_id}")

    def delete_collection(self, collection_id: int) -> None:
        """Delete an album (``DELETE /collections/{id}``): its entries become tombstones and
        the album is deleted (diff sync shows both). Its files are NOT trashed: move the ones
        that would be left in no album first, or trash them. Idempotent (an album of ours
        deleted already succeeds); another user's or an unknown album is a 404
        :class:`ApiError` ``not_found``."""
        self._send("DELETE", f"/collections/{collection_id}")

    def add_marks(self, marks: Sequence[str]) -> None:
        """Add deletion marks (``POST /marks``; each 64 lowercase hex digits), in requests of
        at most ``MAX_MARKS``: each chunk is its own transaction, and the call is idempotent,
        so retry it whole after a failure. A mark already there changes nothing. A malformed
        mark raises pydantic's ``ValidationError`` (a ``ValueError``) before its chunk is
        sent."""
        for start in range(0, len(marks), MAX_MARKS):
            chunk = DeletionMarks(marks=list(marks[start : start + MAX_MARKS]))
            self._send("POST", "/marks", json=self._body(chunk))

    def remove_marks(self, marks: Sequence[str]) -> None:
        """Remove deletion marks (``POST /marks/remove``), in requests of at most
        ``MAX_MARKS``; unknown marks are ignored. Idempotent, as :meth:`add_marks`."""
        for start in range(0, len(marks), MAX_MARKS):
            chunk = DeletionMarks(marks=list(marks[start : start + MAX_MARKS]))
            self._send("POST", "/marks/remove", json=self._body(chunk))

    def put_embeddings(self, model: str, items: Sequence[EmbeddingItem]) -> None:
        """Store (replace) the sealed embeddings of ``model`` for the caller's files
        (``PUT /embeddings``; distinct ids, at most ``MAX_BUNDLE_FILES``: the caller batches).
        All or none: an id that is not the caller's file (e.g. deleted for good) is a 404
        ``not_found``, ``details["file_ids"]`` naming those. Idempotent. A bad model name or
        an oversized item raises pydantic's ``ValidationError`` before anything is sent."""
        body = self._body(EmbeddingPut(model=model, items=list(items)))
        self._send("PUT", "/embeddings", json=body)

    def query_embeddings(self, model: str, file_ids: Sequence[int]) -> list[EmbeddingItem]:
        """The embeddings of ``model`` stored for those of ``file_ids`` that are the caller's
        files (``POST /embeddings/query``, at most ``MAX_EMBEDDING_QUERY`` ids: the caller
        batches), by file id; a file without one is absent."""
        body = self._body(EmbeddingQuery(model=model, file_ids=list(file_ids)))
        items = self._model(EmbeddingList, "POST", "/embeddings/query", json=body).items
        answered = [item.file_id for item in items]
        if answered != sorted(set(answered)) or not set(answered) <= set(file_ids):
            raise ApiError("bad_response", "/embeddings/query answered other files", 200)
        return items

    def open_upload(
        self, size: int, part_size: int, idempotency_key: str | None = None
    ) -> UploadSession:
        """Open an upload session (``POST /uploads``). Idempotent through its idempotency
        key: ``idempotency_key``, else a fresh random one, shared by every retry of this call,
        so a retry after a lost answer gets the same session (not a second one holding quota).
        """
        request = UploadCreate(
            size=size, part_size=part_size, idempotency_key=_idempotency_key(idempotency_key)
        )
        return self._model(
            UploadSession, "POST", "/uploads", json=self._body(request), params=_PART_URLS
        )

    def upload_status(self, upload_id: str) -> UploadSession:
        return self._model(UploadSession, "GET", f"/uploads/{upload_id}", params=_PART_URLS)

    def put_part(
        self, upload_id: str, number: int, data: bytes | Sequence[bytes], sha256_hex: str
    ) -> PartInfo:
        """Send one part (its bytes, or its pieces in order: never joined here)."""
        return self._model(
            PartInfo,
            "PUT",
            f"/uploads/{upload_id}/parts/{number}",
            content=data,
            headers={"X-Content-SHA256": sha256_hex, "Content-Type": "application/octet-stream"},
        )

    def abort_upload(self, upload_id: str) -> None:
        self._send("DELETE", f"/uploads/{upload_id}")

    def commit_file(self, request: FileCommit) -> FileRecord:
        return self._model(FileRecord, "POST", "/files", json=self._body(request))

    def commit_bundle(
        self, bundle: Bundle, contents: Sequence[bytes | Sequence[bytes]]
    ) -> list[FileRecord]:
        """Upload and commit small files in one request (``POST /files/bundle``); each item's
        content is its bytes, or its pieces in order (sent one after another, never joined)."""
        return self._framed("/files/bundle", bundle, contents)

    def set_thumbnails(self, bundle: ThumbnailBundle, blobs: Sequence[bytes]) -> list[FileRecord]:
        """Attach encrypted thumbnails to committed files (``POST /files/thumbnails``)."""
        return self._framed("/files/thumbnails", bundle, blobs)

    def _framed(
        self, path: str, header: BaseModel, blobs: Sequence[bytes | Sequence[bytes]]
    ) -> list[FileRecord]:
        pieces = [
            piece
            for blob in blobs
            for piece in ((blob,) if isinstance(blob, bytes | bytearray) else blob)
        ]
        result = self._model(
            BundleResult,
            "POST",
            path,
            content=encode_frames(header, pieces),
            headers={"Content-Type": "application/octet-stream"},
        )
        if len(result.files) != len(blobs):
            raise ApiError("bad_response", f"{path} answered {len(result.files)} files", 200)
        return result.files

    def trash_files(self, file_ids: Sequence[int]) -> list[FileRecord]:
        """Move files to the trash (``POST /files/trash``, at most ``MAX_BUNDLE_FILES``): all or
        none, idempotent; each comes back ``is_trashed``, in order."""
        response = self._send(
            "POST", "/files/trash", json=self._body(TrashFiles(file_ids=list(file_ids)))
        )
        try:
            records = [FileRecord.model_validate(r) for r in response.json()]
        except (ValidationError, ValueError, TypeError) as err:
            raise ApiError("bad_response", "bad answer to /files/trash", 200) from err
        if [r.id for r in records] != list(file_ids):
            raise ApiError("bad_response", "/files/trash answered other files", 200)
        return records

    def trash_page(self, after: int = 0, limit: int = 500) -> TrashPage:
        """One page of the trash (``GET /trash``), by file id after ``after``: go on with
        ``after`` = the last item's file id while ``has_more``."""
        return self._model(TrashPage, "GET", "/trash", params={"after": after, "limit": limit})

    def restore_files(self, file_ids: Sequence[int]) -> list[RestoredFile]:
        """Take files out of the trash (``POST /trash/restore``, at most ``MAX_BUNDLE_FILES``),
        all or none, back into the albums they left (``collection_ids``, possibly none); in
        order. A file not in the trash is an :class:`ApiError` 409 ``conflict`` with
        ``details["reason"] == "not_in_trash"`` and ``details["file_ids"]`` (as a retry after a
        lost answer gets: those are back already)."""
        response = self._send(
            "POST", "/trash/restore", json=self._body(FileIds(file_ids=list(file_ids)))
        )
        try:
            restored = [RestoredFile.model_validate(r) for r in response.json()]
        except (ValidationError, ValueError, TypeError) as err:
            raise ApiError("bad_response", "bad answer to /trash/restore", 200) from err
        if [r.file.id for r in restored] != list(file_ids):
            raise ApiError("bad_response", "/trash/restore answered other files", 200)
        return restored

    def delete_forever(self, file_ids: Sequence[int]) -> TrashDeleted:
        """Delete trashed files for good (``POST /trash/delete``, at most
        ``MAX_BUNDLE_FILES``), all or none; a live file is a 409 ``not_in_trash``. Idempotent
        (a file already deleted counts as done, not in ``deleted``)."""
        body = self._body(FileIds(file_ids=list(file_ids)))
        return self._model(TrashDeleted, "POST", "/trash/delete", json=body)

    def empty_trash(self) -> TrashDeleted:
        """Delete every file in the trash for good (``POST /trash/empty``)."""
        return self._model(TrashDeleted, "POST", "/trash/empty")

    def verify_files(self, file_ids: Sequence[int]) -> list[VerifiedFile]:
        """The size of each file's content object in the server's blob store now
        (``object_size``, ``None`` if missing) beside its ``content_size``, trashed files
        flagged (``POST /files/verify``, at most ``MAX_BUNDLE_FILES``); in order. One id that is
        not the caller's file (e.g. deleted for good) is a 404 ``not_found`` for the whole call,
        ``details["file_ids"]`` naming those."""
        response = self._send(
            "POST", "/files/verify", json=self._body(FileIds(file_ids=list(file_ids)))
        )
        try:
            verified = [VerifiedFile.model_validate(v) for v in response.json()]
        except (ValidationError, ValueError, TypeError) as err:
            raise ApiError("bad_response", "bad answer to /files/verify", 200) from err
        if [v.id for v in verified] != list(file_ids):
            raise ApiError("bad_response", "/files/verify answered other files", 200)
        return verified

    def file(self, file_id: int) -> FileRecord:
        return self._model(FileRecord, "GET", f"/files/{file_id}")

    def diff(self, since: int, limit: int = 1000) -> Diff:
        return self._model(Diff, "GET", "/diff", params={"since": since, "limit": limit})

    def usage(self) -> Usage:
        return self._model(Usage, "GET", "/usage")

    def events(self, read_timeout: float = EVENTS_READ_TIMEOUT) -> Iterator[int]:
        """The account's change counter, pushed (``GET /events``): the current value at once,
        then each new one (a device syncs when it is above its own version).

        One attempt, no retries (the caller reconnects with its own backoff): a refused
        token is :class:`AuthFailed` (another problem :class:`ApiError`); a server that cannot
        be reached, or a link that breaks or stays silent past ``read_timeout`` (the server
        sends a heartbeat every ``EVENTS_HEARTBEAT_SECONDS``), is :class:`ServerUnreachable`;
        the iterator simply ends when the server closes the stream (it is shutting down).
        Closing the generator closes the connection.
        """
        base = self._http.timeout
        timeout = httpx.Timeout(
            connect=base.connect, read=read_timeout, write=base.write, pool=base.pool
        )
        try:
            with self._http.stream(
                "GET",
                "/events",
                headers=self._headers({"Accept": "text/event-stream"}),
                timeout=timeout,
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    if response.status_code in RETRY_STATUS:  # busy or restarting
                        raise ServerUnreachable(
                            f"the event stream: {problem_of(response)}", url=self.base_url
                        )
                    raise problem_of(response)
                yield from _change_versions(response.iter_lines())
        except httpx.TransportError as err:
            raise ServerUnreachable(
                f"the event stream from {self.base_url}: {err}", url=self.base_url
            ) from err

    def thumbnail(self, file_id: int) -> bytes:
        """A file's encrypted thumbnail (``GET /files/{id}/thumbnail``, or its presigned URL
        in S3 mode); 404 ``not_found`` when it has none."""
        if self.direct_transfers():
            return b"".join(self.iter_direct(file_id, "thumbnail", 0, 1 << 20))
        return self._send("GET", f"/files/{file_id}/thumbnail").content

    def iter_content(
        self, file_id: int, start: int = 0, piece_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """Stream a file's encrypted content from byte ``start``; reconnects on a broken stream
        and continues with a Range request from where it stopped. In S3 mode the bytes come
        from the store by presigned URL (:meth:`download_url`), a fresh one when it expires.

        A server that cannot be reached raises :class:`ServerUnreachable`; one that answers but
        keeps breaking off at the same byte holds a damaged copy: :class:`IntegrityFailure`."""
        if self.direct_transfers():
            yield from self.iter_direct(file_id, "content", start, piece_size)
            return
        offset = furthest = start
        delay = self.retry.initial_delay
        failures = 0
        answered = False
        while True:
            headers = self._headers({"Range": f"bytes={offset}-"} if offset else None)
            try:
                with self._http.stream(
                    "GET", f"/files/{file_id}/content", headers=headers
                ) as response:
                    self._answered = True
                    if response.status_code >= 400:
                        response.read()
                        if response.status_code in RETRY_STATUS:
                            raise httpx.TransportError(f"server answered {response.status_code}")
                        raise problem_of(response)
                    if offset and response.status_code != 206:
                        raise ApiError("bad_response", "the server ignored a range request", 200)
                    answered = True
                    for piece in response.iter_bytes(piece_size):
                        offset += len(piece)
                        if offset > furthest:  # new ground resets the transient-failure budget
                            furthest, failures = offset, 0
                        yield piece
                    return
            except httpx.TransportError as err:
                if self._fails_fast(err, failures):
                    raise self._unreachable(err) from err
                failures += 1
                if failures >= self.retry.attempts:
                    if answered:
                        raise IntegrityFailure(
                            f"the server's copy of file {file_id} breaks off at byte {offset}"
                            f" on every attempt ({err})"
                        ) from err
                    raise ServerUnreachable(
                        f"download from {self.base_url} kept failing: {err}", url=self.base_url
                    ) from err
                self.retry.sleep(delay)
                delay = min(delay * 2, self.retry.max_delay)

    def sessions(self) -> AuthSessions:
        """The account's live logins (``GET /auth/sessions``), the caller's own marked
        ``current``. Read-only."""
        return self._model(AuthSessions, "GET", "/auth/sessions")

    def revoke_session(self, session_id: int) -> None:
        """Revoke one login of the account (``DELETE /auth/sessions/{id}``): its token stops
        working and its event streams end. Idempotent; an id that is not one of the account's
        logins is a 404 :class:`ApiError` ``not_found``."""
        self._send("DELETE", f"/auth/sessions/{session_id}")

    def open_uploads(self) -> list[OpenUpload]:
        """The account's open, unexpired upload sessions (``GET /uploads``), oldest first: what
        holds quota besides stored files. Read-only."""
        response = self._send("GET", "/uploads")
        try:
            return [OpenUpload.model_validate(u) for u in response.json()]
        except (ValidationError, ValueError, TypeError) as err:
            raise ApiError("bad_response", "bad answer to /uploads", 200) from err


def _idempotency_key(*given: str | None) -> str:
    """The first key given (all those given must agree), else a fresh random one (128 bits)."""
    keys = {key for key in given if key is not None}
    if len(keys) > 1:
        raise ValueError("two different idempotency keys were given for one request")
    return keys.pop() if keys else secrets.token_hex(16)


def _change_versions(lines: Iterator[str]) -> Iterator[int]:
    """The versions of the ``change`` events of a server-sent-events stream (comments such
    as the heartbeat, other events and unknown fields are skipped)."""
    event = "message"
    data: list[str] = []
    for line in lines:
        if line == "":  # blank line: dispatch
            if event == "change" and data:
                try:
                    version = json.loads("\n".join(data))["version"]
                except (ValueError, TypeError, KeyError) as err:
                    raise ApiError("bad_response", "a malformed change event", 200) from err
                if not isinstance(version, int) or isinstance(version, bool):
                    raise ApiError("bad_response", "a change event without a version", 200)
                yield version
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
