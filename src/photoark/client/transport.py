"""The HTTP transport under :class:`~photoark.client.api.ApiClient`: one connection to a
server, the bearer token, retries, and problem bodies turned into :class:`ApiError`.

Retries. Transport failures (connection refused, timeouts, 502/503/504) are retried with
exponential backoff up to ``RetryPolicy.attempts``; then :class:`ServerUnreachable`. Until the
server has answered this transport once, a connection that cannot be made (refused, unknown
host, no answer to connect) fails fast instead (``RetryPolicy.first_contact_attempts``): at the
first request that is a server that is not running or a wrong address, and someone is waiting
for the answer; a server that answered and then went away (a restart mid-upload) gets the whole
backoff. :data:`PATIENT` retries the first contact like any other (for a process that may as
well wait). An address that is not an http(s) URL is refused before any request
(:func:`server_url`).

Retrying is only safe for requests the server treats as idempotent (part PUTs overwrite;
commits, bundles, album adds, trash moves and marks are idempotent on the server; album
creation and upload sessions carry a client-chosen idempotency key). A request that is not
idempotent is sent with ``retry=Retry.UNSENT``: it is retried only when it certainly never
reached the server (the connection could not be made); any other failure is raised at once.

A problem body from the server becomes an :class:`ApiError` (or a subclass chosen by its
``code``), never a raw ``httpx`` exception; ``object_damaged`` (the server's stored copy is
truncated or lost: no retry can help) becomes an :class:`IntegrityFailure`, as a copy that
fails authentication does, with the server's message naming the file.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from photoark.client.errors import (
    ApiError,
    AuthFailed,
    ClientError,
    IntegrityFailure,
    InvalidServerUrl,
    QuotaExceeded,
    ServerUnreachable,
)

__all__ = [
    "PATIENT",
    "RETRY_STATUS",
    "HttpTransport",
    "Retry",
    "RetryPolicy",
    "problem_of",
    "server_url",
]

M = TypeVar("M", bound=BaseModel)
RETRY_STATUS = frozenset({502, 503, 504})


class Retry(Enum):
    """When a failed request may be sent again."""

    ALWAYS = "always"  # idempotent on the server: any transport failure or 502/503/504
    UNSENT = "unsent"  # not idempotent: only when the connection was never made


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how patiently, a failed request is sent again.

    ``attempts`` in all, ``initial_delay`` apart, doubling up to ``max_delay`` (six attempts:
    about 8 s). ``first_contact_attempts``: the attempts, ``initial_delay`` apart, when the
    connection cannot be made before the server has answered this transport once (a connect
    timeout is not tried again: it already waited); ``None``: as ``attempts``."""

    attempts: int = 6
    initial_delay: float = 0.25
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep
    first_contact_attempts: int | None = 2


# for a process that would rather wait than fail (it has its own backoff on top)
PATIENT = RetryPolicy(first_contact_attempts=None)

# the schemes and prefixes we strip to suggest a right address: ``htp://x``, ``http:/x``
_SCHEME_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/+")


def server_url(url: str) -> str:
    """``url`` without surrounding spaces and trailing slashes, if it is an http(s) address
    with a host; else :class:`InvalidServerUrl`, whose hint gives the address as it should
    probably be (``localhost:8080`` → ``http://localhost:8080``, ``htp://x`` → ``http://x``)."""
    text = url.strip()
    try:
        parts = urllib.parse.urlsplit(text)
        _ = parts.port  # a port that is not a number raises ValueError
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if valid:
        return text.rstrip("/")
    given = _SCHEME_PREFIX.match(text)
    rest = text[given.end() :] if given else text
    # ``htps://``, ``https:/``: https was meant
    scheme = "https" if given and given.group().rstrip(":/").lower().endswith("s") else "http"
    example = f"{scheme}://{rest}" if rest else "http://127.0.0.1:8080"
    raise InvalidServerUrl(
        f"{url!r} is not a server address",
        f"a server address starts with http:// or https://, e.g. {example}",
    )


class HttpTransport:
    """A connection to one server, optionally authenticated with a token."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.base_url = server_url(base_url)
        self.token = token
        self.retry = retry or RetryPolicy()
        self._answered = False  # the server has answered once: it exists, be patient
        self._http = httpx.Client(
            base_url=self.base_url,
            # plain http (a server on this machine or LAN) needs no TLS context; building one
            # loads the CA bundle, a tenth of a second on every command
            verify=not self.base_url.startswith("http://"),
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport,
            headers={"User-Agent": "photoark-client"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | Sequence[bytes] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        retry: Retry = Retry.ALWAYS,
    ) -> httpx.Response:
        delay = self.retry.initial_delay
        last: Exception | None = None
        for attempt in range(self.retry.attempts):
            request_headers = self._headers(headers)
            body: Iterator[bytes] | None = None
            if content is not None:
                # httpx keeps the request (and its body) in reference cycles until the cycle
                # collector runs; a one-shot iterator hands the bytes over and then lets go,
                # so sent 8 MiB parts are freed at once (bounded memory for huge files). A
                # sequence of pieces (a framed bundle) is sent as it is, never joined.
                pieces = (content,) if isinstance(content, bytes) else tuple(content)
                request_headers["Content-Length"] = str(sum(len(p) for p in pieces))
                body = iter(pieces)
            try:
                response = self._http.request(
                    method,
                    path,
                    json=json,
                    content=body,
                    params=params,
                    headers=request_headers,
                )
            except httpx.TransportError as err:
                last = err
                if self._fails_fast(err, attempt):
                    raise self._unreachable(err) from err
                if retry is Retry.UNSENT and not isinstance(err, httpx.ConnectError):
                    raise _unknown_outcome(self.base_url, path, err) from err
            else:
                self._answered = True
                if response.status_code not in RETRY_STATUS or retry is Retry.UNSENT:
                    if response.status_code >= 400:
                        raise problem_of(response)
                    return response
                last = problem_of(response)
            if attempt + 1 < self.retry.attempts:
                self.retry.sleep(delay)
                delay = min(delay * 2, self.retry.max_delay)
        attempts = self.retry.attempts
        raise ServerUnreachable(
            f"cannot reach the photoark server at {self.base_url} "
            f"after {attempts} attempt{'' if attempts == 1 else 's'}: {last}",
            url=self.base_url,
        ) from last

    def _fails_fast(self, err: httpx.TransportError, attempt: int) -> bool:
        """Whether ``err`` on ``attempt`` (from 0) ends the request now: a connection that
        could not be made before the server ever answered, once the first-contact attempts
        are spent (a connect timeout at once: it already waited)."""
        if self._answered or not isinstance(err, _NOT_CONNECTED):
            return False
        first = self.retry.first_contact_attempts
        return isinstance(err, httpx.ConnectTimeout) or (
            first is not None and attempt + 1 >= min(first, self.retry.attempts)
        )

    def _unreachable(self, err: httpx.TransportError) -> ServerUnreachable:
        """The connection could not be made at the first contact."""
        if isinstance(err, httpx.ConnectTimeout):
            timeout = self._http.timeout.connect
            why = f"no answer within {timeout:g} s" if timeout else "no answer"
        else:
            why = str(err) or type(err).__name__
        return ServerUnreachable(
            f"cannot reach the photoark server at {self.base_url} ({why})", url=self.base_url
        )

    def _model(self, model: type[M], method: str, path: str, **kw: Any) -> M:
        response = self._send(method, path, **kw)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as err:
            raise ApiError(
                "bad_response",
                f"{self.base_url}{path} did not answer like a photoark server",
                response.status_code,
            ) from err

    @staticmethod
    def _body(model: BaseModel) -> Any:
        return model.model_dump(mode="json")


def problem_of(response: httpx.Response) -> ClientError:
    """The error a problem answer means: an :class:`ApiError` (:class:`AuthFailed`,
    :class:`QuotaExceeded` by code), or :class:`IntegrityFailure` for ``object_damaged``."""
    try:
        body = response.json()
        code = str(body.get("code", "http_error"))
        message = str(body.get("message", response.reason_phrase))
        details = body.get("details") or {}
    except (ValueError, AttributeError):
        code, message, details = "http_error", f"HTTP {response.status_code}", {}
    if code == "object_damaged":
        # the message names the file; what to do goes with it (export lists it per file)
        return IntegrityFailure(
            f"{message} ({code}): keep your original and report it to the server's admin"
        )
    cls: type[ApiError] = ApiError
    if code in ("invalid_credentials", "unauthorized"):
        cls = AuthFailed
    elif code == "quota_exceeded":
        cls = QuotaExceeded
    return cls(code, message, response.status_code, details if isinstance(details, dict) else {})


# the connection was never made: refused, unknown host, no answer to connect
_NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout)


def _unknown_outcome(base_url: str, path: str, err: Exception) -> ServerUnreachable:
    return ServerUnreachable(
        f"the connection to {base_url} failed during {path} ({err}); it may or may not have"
        " been done on the server, so it was not sent again",
        url=base_url,
    )
