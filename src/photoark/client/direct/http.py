"""Bytes straight to and from the server's object store, by presigned URL (:class:`DirectHttp`).

A server that keeps its blobs in S3 (``GET /health/transfers``) never carries content: it
signs a URL per part, per small object and per download, and the client talks to the store.
This module is that second connection: no base URL, no token (the URL carries its signature),
the client's :class:`~photoark.client.transport.RetryPolicy`, and the store's XML error answers
mapped once to the client's errors:

- 403 ``AccessDenied`` (S3's "Request has expired", also a URL signed for another host or
  clock) → :class:`UrlExpired`: ask the server for a fresh URL and try again;
- 400 ``BadDigest`` → :class:`IntegrityFailure`: the bytes that arrived are not the ones whose
  MD5 was given (nothing was stored);
- 412 ``PreconditionFailed`` on a PUT → success: a PUT signed with ``If-None-Match: *`` found
  its object already there (a retry after a lost answer, or a resumed bundle);
- 404 (``NoSuchKey``, ``NoSuchUpload``) → :class:`ApiError` ``not_found``, as the server's own
  404: the session or the object is gone;
- 500/502/503/504 and broken connections are retried with the policy's backoff (then
  :class:`StoreUnreachable`); any other 4xx is an :class:`ApiError` whose ``code`` is the
  store's (``SignatureDoesNotMatch``, …).

Every request here is idempotent: a part PUT overwrites, a single PUT is guarded by
``If-None-Match``, a GET reads; so each is retried like ``Retry.ALWAYS``. The first-contact
rule of the transport holds too: until the store has answered this client once, a connection
that cannot be made fails after ``first_contact_attempts`` (a store address the server hands
out but this computer cannot reach is a configuration error, said at once, as
:class:`StoreUnreachable`: a :class:`ServerUnreachable` whose hint is about the store's address,
not the server's).

Bodies: the pieces of a part are sent one after another, never joined, as a one-shot iterator
with an explicit ``Content-Length``. Both matter: presigned ``UploadPart`` URLs sign the length,
and httpx sends a body it cannot measure (a tuple of pieces) chunked, which S3 refuses (403).
Error messages name the URL without its query (the signature is a bearer credential).
"""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Self

import httpx

from photoark.client.errors import ApiError, IntegrityFailure, StoreUnreachable, UrlExpired
from photoark.client.transport import RetryPolicy

__all__ = ["DirectHttp", "DirectPut", "md5_of", "redacted"]

# the store's answers worth another attempt (S3 answers 500 InternalError, 503 SlowDown)
_RETRY_STATUS = frozenset({500, 502, 503, 504})
# the connection was never made: refused, unknown host, no answer to connect
_NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout)
_CODE = re.compile(rb"<Code>([^<]{1,128})</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]{0,512})</Message>")


def md5_of(pieces: Sequence[bytes]) -> bytes:
    """The MD5 digest (16 bytes) of ``pieces`` one after another (never joined)."""
    digest = hashlib.md5(usedforsecurity=False)
    for piece in pieces:
        digest.update(piece)
    return digest.digest()


def redacted(url: str) -> str:
    """``url`` without its query: a presigned URL's query is its signature."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass(frozen=True)
class DirectPut:
    """One object to PUT: its pieces in order (never joined), their MD5 (raw 16 bytes) and the
    headers the presigned URL requires besides ``Content-Length`` and ``Content-MD5``."""

    url: str
    pieces: Sequence[bytes]
    md5: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(piece) for piece in self.pieces)


class DirectHttp:
    """A connection pool to object stores, for presigned URLs (see the module doc)."""

    def __init__(
        self,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._answered = False  # the store has answered once: be patient from now on
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport,
            headers={"User-Agent": "photoark-client"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- uploads ----------------------------------------------------------------------------

    def put(
        self,
        url: str,
        pieces: Sequence[bytes],
        md5_b64: str,
        size: int,
        headers: Mapping[str, str] | None = None,
    ) -> bool:
        """PUT ``pieces`` (``size`` bytes in all) to the presigned ``url`` with ``Content-MD5``
        ``md5_b64`` and ``headers``. True: stored; False: a 412 said the object is there
        already (only a PUT sent with ``If-None-Match: *`` gets one). Idempotent; retried.
        Raises :class:`UrlExpired`, :class:`IntegrityFailure` (``BadDigest``),
        :class:`ApiError` (404 ``not_found``: the upload is gone; another refusal) or
        :class:`StoreUnreachable`."""
        if sum(len(piece) for piece in pieces) != size:
            raise ValueError("the pieces do not add up to the size given")
        sent = httpx.Headers(headers or {})  # the signed ones (If-None-Match), then ours:
        sent["Content-Length"] = str(size)  # (replacing any spelling of the same name)
        sent["Content-MD5"] = md5_b64
        delay = self.retry.initial_delay
        last: Exception | None = None
        for attempt in range(self.retry.attempts):
            try:
                # a fresh one-shot iterator per attempt: httpx lets go of each piece once sent
                response = self._http.put(url, content=iter(tuple(pieces)), headers=sent)
            except httpx.TransportError as err:
                if self._fails_fast(err, attempt):
                    raise _unreachable(url, err) from err
                last = err
            else:
                self._answered = True
                if response.status_code == 412:
                    return False
                if response.status_code < 300:
                    return True
                last = _refusal(url, response)
                if not isinstance(last, _Busy):
                    raise last
            if attempt + 1 < self.retry.attempts:
                self.retry.sleep(delay)
                delay = min(delay * 2, self.retry.max_delay)
        raise _gave_up(url, self.retry.attempts, last)

    def put_all(self, puts: Sequence[DirectPut], in_flight: int = 6) -> list[bool]:
        """:meth:`put` each of ``puts``, ``in_flight`` at a time; the answers in order. The
        first error is raised once the PUTs already started have ended (the rest are not
        started)."""
        if not puts:
            return []
        if len(puts) == 1 or in_flight <= 1:
            return [self._put_one(p) for p in puts]
        with ThreadPoolExecutor(min(in_flight, len(puts)), "direct-put") as pool:
            futures: list[Future[bool]] = [pool.submit(self._put_one, p) for p in puts]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def _put_one(self, job: DirectPut) -> bool:
        md5 = base64.b64encode(job.md5).decode("ascii")
        return self.put(job.url, job.pieces, md5, job.size, job.headers)

    # -- downloads --------------------------------------------------------------------------

    def iter_get(self, url: str, start: int = 0, piece_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream the object at the presigned ``url`` from byte ``start`` (a ``Range``
        request); a broken stream is resumed from where it stopped. Raises
        :class:`UrlExpired` (also when a resume finds the URL expired: the caller knows how
        far it got), :class:`ApiError` (404 ``not_found``; a store that ignores ``Range``),
        :class:`StoreUnreachable`, or :class:`IntegrityFailure` when the stream keeps
        breaking off at the same byte."""
        offset = furthest = start
        delay = self.retry.initial_delay
        failures = 0
        answered = False
        while True:
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                with self._http.stream("GET", url, headers=headers) as response:
                    self._answered = True
                    if response.status_code >= 300:
                        response.read()
                        if response.status_code in _RETRY_STATUS:
                            raise httpx.TransportError(f"the store answered {response.status_code}")
                        raise _refusal(url, response)
                    if offset and response.status_code != 206:
                        raise ApiError("bad_response", "the store ignored a range request", 200)
                    answered = True
                    for piece in response.iter_bytes(piece_size):
                        offset += len(piece)
                        if offset > furthest:  # new ground resets the transient-failure budget
                            furthest, failures = offset, 0
                        yield piece
                    return
            except httpx.TransportError as err:
                if self._fails_fast(err, failures):
                    raise _unreachable(url, err) from err
                failures += 1
                if failures >= self.retry.attempts:
                    if answered:
                        raise IntegrityFailure(
                            f"the stored copy at {redacted(url)} breaks off at byte {offset}"
                            f" on every attempt ({err})"
                        ) from err
                    raise _gave_up(url, self.retry.attempts, err) from err
                self.retry.sleep(delay)
                delay = min(delay * 2, self.retry.max_delay)

    # -- plumbing ---------------------------------------------------------------------------

    def _fails_fast(self, err: Exception, attempt: int) -> bool:
        """As the transport's rule: a connection that could not be made before the store ever
        answered ends the request once the first-contact attempts are spent (a connect
        timeout at once: it already waited)."""
        if self._answered or not isinstance(err, _NOT_CONNECTED):
            return False
        first = self.retry.first_contact_attempts
        return isinstance(err, httpx.ConnectTimeout) or (
            first is not None and attempt + 1 >= min(first, self.retry.attempts)
        )


class _Busy(Exception):
    """The store answered 500/502/503/504: worth another attempt."""

    def __init__(self, response: httpx.Response) -> None:
        code, message = _error_of(response)
        super().__init__(f"{response.status_code} {code}: {message}".strip())


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """The store's error ``Code`` and ``Message`` (S3's XML body), or the HTTP reason."""
    body = response.content[:65536]
    code = _CODE.search(body)
    message = _MESSAGE.search(body)
    return (
        code.group(1).decode("utf-8", "replace") if code else f"HTTP{response.status_code}",
        message.group(1).decode("utf-8", "replace") if message else response.reason_phrase,
    )


def _refusal(url: str, response: httpx.Response) -> Exception:
    """What a store's answer ≥ 300 means (see the module doc); a busy store is retried."""
    status = response.status_code
    if status in _RETRY_STATUS:
        return _Busy(response)
    code, message = _error_of(response)
    where = redacted(url)
    if status == 403 and code == "AccessDenied":
        return UrlExpired(f"the object store refused the signed address {where}: {message}")
    if status == 400 and code == "BadDigest":
        return IntegrityFailure(
            f"the object store got other bytes than were sent to {where} ({code}: {message})",
            "the data was damaged on its way (memory, network); run the backup again",
        )
    if status == 404:
        return ApiError("not_found", f"{where}: {code}: {message}", status, {"store_code": code})
    return ApiError(code, f"the object store refused {where}: {code}: {message}", status)


def _origin(url: str) -> str:
    where = urllib.parse.urlsplit(url)
    return f"{where.scheme}://{where.netloc}"


def _unreachable(url: str, err: Exception) -> StoreUnreachable:
    """The store was never reached: its address is wrong or not reachable from here."""
    origin = _origin(url)
    return StoreUnreachable(
        f"cannot reach the object store at {origin} ({str(err) or type(err).__name__})",
        url=origin,
    )


def _gave_up(url: str, attempts: int, last: Exception | None) -> StoreUnreachable:
    """Every attempt failed: broken connections (the default hint) or a busy store."""
    origin = _origin(url)
    why = (str(last) or type(last).__name__) if last is not None else "no answer"
    hint = (
        "the object store answers but keeps failing: try again later, or ask the server's "
        "admin to look at it"
        if isinstance(last, _Busy)
        else None
    )
    return StoreUnreachable(
        f"the object store at {origin} kept failing after {attempts} "
        f"attempt{'' if attempts == 1 else 's'}: {why}",
        hint,
        url=origin,
    )
