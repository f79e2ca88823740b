"""The HTTP transport under :class:`~photoark.client.api.ApiClient`: one connection to a
server, the bearer token, retries, and problem bodies turned into :class:`ApiError`.

Retries. Transport failures (connection refused, timeouts, 502/503/504) are retried with
exponential backoff up to ``RetryPolicy.attempts``; then :class:`ServerUnreachable`. That is
only safe for requests the server treats as idempotent (part PUTs overwrite; commits, bundles,
album adds, trash moves and marks are idempotent on the server; album creation and upload
sessions carry a client-chosen idempotency key). A request that is not idempotent is sent with
``retry=Retry.UNSENT``: it is retried only when it certainly never reached the server (the
connection could not be made); any other failure is raised at once.

A problem body from the server becomes an :class:`ApiError` (or a subclass chosen by its
``code``), never a raw ``httpx`` exception; ``object_damaged`` (the server's stored copy is
truncated or lost: no retry can help) becomes an :class:`IntegrityFailure`, as a copy that
fails authentication does, with the server's message naming the file.
"""

from __future__ import annotations

import time
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
    QuotaExceeded,
    ServerUnreachable,
)

__all__ = ["RETRY_STATUS", "HttpTransport", "Retry", "RetryPolicy", "problem_of"]

M = TypeVar("M", bound=BaseModel)
RETRY_STATUS = frozenset({502, 503, 504})


class Retry(Enum):
    """When a failed request may be sent again."""

    ALWAYS = "always"  # idempotent on the server: any transport failure or 502/503/504
    UNSENT = "unsent"  # not idempotent: only when the connection was never made


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    initial_delay: float = 0.25
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep


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
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retry = retry or RetryPolicy()
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
                if retry is Retry.UNSENT and not isinstance(err, httpx.ConnectError):
                    raise _unknown_outcome(self.base_url, path, err) from err
            else:
                if response.status_code not in RETRY_STATUS or retry is Retry.UNSENT:
                    if response.status_code >= 400:
                        raise problem_of(response)
                    return response
                last = problem_of(response)
            if attempt + 1 < self.retry.attempts:
                self.retry.sleep(delay)
                delay = min(delay * 2, self.retry.max_delay)
        raise ServerUnreachable(
            f"cannot reach the photoark server at {self.base_url} "
            f"after {self.retry.attempts} attempts: {last}"
        ) from last

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


def _unknown_outcome(base_url: str, path: str, err: Exception) -> ServerUnreachable:
    return ServerUnreachable(
        f"the connection to {base_url} failed during {path} ({err}); it may or may not have"
        " been done on the server, so it was not sent again"
    )
