"""Routes of direct transfers (S3 mode): presigned URLs, part confirmations, staged bundles
and thumbnails, download URLs; and the replication backlog.

Each route parses, authenticates and calls one service function
(:class:`~photoark.server.services.direct.DirectService`, or the bundle service for staged
commits). On a server without S3 they answer 409 ``conflict`` (``details.reason ==
"direct_transfers_off"``), except ``GET /health/replication``. The protocol is described in
:mod:`photoark.protocol` (its "Direct transfers" part).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from photoark.protocol.models import (
    MAX_PART_URLS,
    BundleResult,
    DirectBundle,
    DirectStage,
    DirectThumbnails,
    DirectUpload,
    DownloadUrl,
    DownloadUrls,
    PartDone,
    PartInfo,
    PartUrl,
    ReplicationHealth,
)
from photoark.server.api.deps import CurrentUser, Svc
from photoark.server.api.limits import MAX_DB_INT, DbInt
from photoark.server.api.uploads import UploadIdPath

__all__ = ["router"]

router = APIRouter(tags=["direct"])


@router.post("/uploads/direct", status_code=201)
def stage_uploads(request: DirectStage, auth: CurrentUser, services: Svc) -> list[DirectUpload]:
    """Open single-part sessions and presign their PUTs (idempotent per client id)."""
    return services.direct.stage(auth.user_id, request)


@router.get("/uploads/{upload_id}/urls")
def part_urls(
    upload_id: UploadIdPath,
    auth: CurrentUser,
    services: Svc,
    first: int = Query(default=0, ge=0, le=MAX_DB_INT),
    count: int = Query(default=MAX_PART_URLS, ge=1, le=MAX_PART_URLS),
) -> list[PartUrl]:
    return services.direct.part_urls(auth.user_id, upload_id, first, count)


@router.post("/uploads/{upload_id}/parts/{number}")
def part_done(
    upload_id: UploadIdPath, number: DbInt, request: PartDone, auth: CurrentUser, services: Svc
) -> PartInfo:
    """The part was PUT to its URL: recorded once the store shows it (size and MD5)."""
    return services.direct.part_done(auth.user_id, upload_id, number, request)


@router.post("/files/bundle/direct", status_code=201)
def commit_bundle_direct(request: DirectBundle, auth: CurrentUser, services: Svc) -> BundleResult:
    return BundleResult(files=services.bundles.commit_staged(auth.user_id, request))


@router.post("/files/thumbnails/direct")
def set_thumbnails_direct(
    request: DirectThumbnails, auth: CurrentUser, services: Svc
) -> BundleResult:
    return BundleResult(files=services.bundles.set_thumbnails_staged(auth.user_id, request))


@router.get("/files/{file_id}/url")
def download_url(
    file_id: DbInt,
    auth: CurrentUser,
    services: Svc,
    kind: Literal["content", "thumbnail"] = "content",
) -> DownloadUrl:
    return services.direct.download_url(auth.user_id, file_id, kind)


@router.post("/files/urls")
def download_urls(
    request: DownloadUrls, auth: CurrentUser, services: Svc
) -> list[DownloadUrl | None]:
    return services.direct.download_urls(auth.user_id, request)


@router.get("/health/replication")
def replication(services: Svc) -> ReplicationHealth:
    """Each replica store's backlog of copies (no auth: counts only, for operators)."""
    return services.direct.replication()
