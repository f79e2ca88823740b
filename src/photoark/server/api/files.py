"""Routes under ``/files``: commit, trash, verify, metadata, and ranged downloads of content and
thumbnail.

In S3 mode (direct transfers) the framed bundle routes answer 409 ``direct_transfer_required``
before reading their body, and a download answers 307 to a presigned URL of the object (the
client re-sends its ``Range`` there); the direct routes are in :mod:`.direct`.
"""

from __future__ import annotations

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from photoark.protocol.models import (
    MAX_BUNDLE_BYTES,
    BundleResult,
    FileCommit,
    FileIds,
    FileRecord,
    TrashFiles,
    VerifiedFile,
)
from photoark.server.api.bodies import large_body
from photoark.server.api.deps import CurrentUser, Svc
from photoark.server.api.limits import DbInt
from photoark.server.api.ranges import parse_range
from photoark.server.services import Services
from photoark.server.services.files import BlobKind

__all__ = ["router"]

router = APIRouter(prefix="/files", tags=["files"])

_BUNDLE_LIMIT = "a bundle is at most"


@router.post("", status_code=201)
def commit_file(request: FileCommit, auth: CurrentUser, services: Svc) -> FileRecord:
    return services.files.commit(auth.user_id, request)


@router.post("/bundle", status_code=201)
async def commit_bundle(request: Request, auth: CurrentUser, services: Svc) -> BundleResult:
    services.bundles.accept_bodies()
    async with large_body(request, auth.user_id, MAX_BUNDLE_BYTES, _BUNDLE_LIMIT) as body:
        files = await run_in_threadpool(services.bundles.commit, auth.user_id, body)
    return BundleResult(files=files)


@router.post("/thumbnails")
async def set_thumbnails(request: Request, auth: CurrentUser, services: Svc) -> BundleResult:
    services.bundles.accept_bodies()
    async with large_body(request, auth.user_id, MAX_BUNDLE_BYTES, _BUNDLE_LIMIT) as body:
        files = await run_in_threadpool(services.bundles.set_thumbnails, auth.user_id, body)
    return BundleResult(files=files)


@router.post("/trash")
def trash_files(request: TrashFiles, auth: CurrentUser, services: Svc) -> list[FileRecord]:
    return services.trash.trash(auth.user_id, request)


@router.post("/verify")
def verify_files(request: FileIds, auth: CurrentUser, services: Svc) -> list[VerifiedFile]:
    return services.files.verify(auth.user_id, request)


@router.get("/{file_id}")
def get_file(file_id: DbInt, auth: CurrentUser, services: Svc) -> FileRecord:
    return services.files.get(auth.user_id, file_id)


@router.get("/{file_id}/content", response_model=None)
def get_content(
    file_id: DbInt, auth: CurrentUser, services: Svc, range: str | None = Header(default=None)
) -> Response:
    return _download(services, auth.user_id, file_id, "content", range)


@router.get("/{file_id}/thumbnail", response_model=None)
def get_thumbnail(
    file_id: DbInt, auth: CurrentUser, services: Svc, range: str | None = Header(default=None)
) -> Response:
    return _download(services, auth.user_id, file_id, "thumbnail", range)


def _download(
    services: Services, user_id: int, file_id: int, kind: BlobKind, range_header: str | None
) -> Response:
    if services.direct.enabled:  # S3: the bytes come from the store, by a presigned URL
        signed = services.direct.download_url(user_id, file_id, kind)
        parse_range(range_header, signed.size)  # a 416 of ours, not the store's XML
        return RedirectResponse(signed.url, status_code=307)
    target = services.files.download(user_id, file_id, kind)
    byte_range = parse_range(range_header, target.size)
    start, end = byte_range if byte_range is not None else (0, target.size - 1)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(end - start + 1)}
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{target.size}"
    return StreamingResponse(
        services.files.read(target, start, end),
        status_code=206 if byte_range is not None else 200,
        media_type="application/octet-stream",
        headers=headers,
    )
