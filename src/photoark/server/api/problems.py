"""The one place where errors become HTTP responses: JSON problem bodies with stable codes.

Domain errors map through :data:`photoark.protocol.errors.HTTP_STATUS`; request validation
failures become ``bad_request``; Starlette's own HTTP errors (unknown route, wrong method) keep
their status with the nearest code; anything else, and a domain error whose code is
``internal`` (a blob store failing mid-request), is logged and answered ``internal`` with a
message that names nothing of the server's setup.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from photoark.protocol.errors import HTTP_STATUS, ErrorCode
from photoark.protocol.models import Problem
from photoark.server.errors import RangeNotSatisfiable, RetryLater, ServerError

__all__ = ["install_problem_handlers", "problem_response"]

log = logging.getLogger(__name__)

_INTERNAL_MESSAGE = "internal server error (the server's log says what failed)"
_STATUS_CODES = {401: ErrorCode.UNAUTHORIZED, 404: ErrorCode.NOT_FOUND, 409: ErrorCode.CONFLICT}


def problem_response(
    code: ErrorCode,
    message: str,
    details: dict[str, object] | None = None,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(code=code.value, message=message, details=details or {})
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status or HTTP_STATUS[code],
        headers=headers,
    )


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServerError)
    if exc.code is ErrorCode.INTERNAL:
        # the operator's message (a store's address, a bucket, which credentials) goes to the
        # log, never to the client: e.g. a BlobStoreError while S3 is down mid-request
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
        return problem_response(ErrorCode.INTERNAL, _INTERNAL_MESSAGE)
    headers = None
    if isinstance(exc, RangeNotSatisfiable):
        headers = {"Content-Range": f"bytes */{exc.size}"}
    elif isinstance(exc, RetryLater):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem_response(exc.code, exc.message, exc.details, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    return problem_response(ErrorCode.BAD_REQUEST, "invalid request", {"errors": errors})


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, ErrorCode.BAD_REQUEST)
    return problem_response(code, str(exc.detail), status=exc.status_code)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(ErrorCode.INTERNAL, _INTERNAL_MESSAGE)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServerError, _server_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
