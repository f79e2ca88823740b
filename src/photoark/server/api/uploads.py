"""Routes under ``/uploads``: resumable upload sessions and their parts.

``PUT`` of a part is async so its body can be read with a bound (the part's exact expected
size, known before reading) under one of the account's body slots (:mod:`.bodies`); the checks
and the write run in the threadpool. In S3 mode it answers 409 ``direct_transfer_required`` before
reading a byte: parts go to presigned URLs and are confirmed through :mod:`.direct`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi import Path as FastApiPath
from starlette.concurrency import run_in_threadpool

from photoark.protocol.models import (
    UPLOAD_ID_PATTERN,
    OpenUpload,
    PartInfo,
    UploadCreate,
    UploadSession,
)
from photoark.server.api.bodies import large_body
from photoark.server.api.deps import CurrentUser, Svc
from photoark.server.api.limits import DbInt
from photoark.server.errors import BadRequest

__all__ = ["router"]

router = APIRouter(prefix="/uploads", tags=["uploads"])


# ``part_urls`` (direct transfers) come only when asked (``?part_urls=true``) and are left out
# when None: clients before 0.3 refuse unknown keys, and then reach the part PUT's 409
# ``direct_transfer_required``, which tells the user to upgrade
PartUrlsQuery = Annotated[bool, Query()]


@router.post("", status_code=201, response_model_exclude_none=True)
def open_upload(
    request: UploadCreate, auth: CurrentUser, services: Svc, part_urls: PartUrlsQuery = False
) -> UploadSession:
    """Open a session; a repeat with the same ``idempotency_key`` answers the same session,
    also with 201 (a retry cannot tell whether its first attempt got through)."""
    return services.uploads.open(auth.user_id, request, part_urls)


@router.get("")
def list_open_uploads(auth: CurrentUser, services: Svc) -> list[OpenUpload]:
    """The caller's open, unexpired sessions (what holds quota), so a client can abort those
    it no longer knows."""
    return services.uploads.list_open(auth.user_id)


# an upload id in a path: what the server issues, so a NUL or a slash never reaches a store
UploadIdPath = Annotated[str, FastApiPath(pattern=UPLOAD_ID_PATTERN)]


@router.get("/{upload_id}", response_model_exclude_none=True)
def get_upload(
    upload_id: UploadIdPath, auth: CurrentUser, services: Svc, part_urls: PartUrlsQuery = False
) -> UploadSession:
    return services.uploads.get(auth.user_id, upload_id, part_urls)


@router.delete("/{upload_id}", status_code=204)
def abort_upload(upload_id: UploadIdPath, auth: CurrentUser, services: Svc) -> Response:
    services.uploads.abort(auth.user_id, upload_id)
    return Response(status_code=204)


@router.put("/{upload_id}/parts/{number}")
async def put_part(
    upload_id: UploadIdPath,
    number: DbInt,
    request: Request,
    auth: CurrentUser,
    services: Svc,
    x_content_sha256: str | None = Header(default=None),
) -> PartInfo:
    if not x_content_sha256:
        raise BadRequest("missing X-Content-SHA256 header")
    limit = await run_in_threadpool(services.uploads.part_limit, auth.user_id, upload_id, number)
    async with large_body(request, auth.user_id, limit) as body:
        return await run_in_threadpool(
            services.uploads.put_part, auth.user_id, upload_id, number, body, x_content_sha256
        )
