"""Routes under ``/trash``: list, restore, delete for good, empty (moving files in is
``POST /files/trash``)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from photoark.protocol.models import MAX_TRASH_PAGE, FileIds, RestoredFile, TrashDeleted, TrashPage
from photoark.server.api.deps import CurrentUser, Svc
from photoark.server.api.limits import MAX_DB_INT

__all__ = ["router"]

router = APIRouter(prefix="/trash", tags=["trash"])


@router.get("")
def list_trash(
    auth: CurrentUser,
    services: Svc,
    after: int = Query(default=0, ge=0, le=MAX_DB_INT),
    limit: int = Query(default=500, ge=1, le=MAX_TRASH_PAGE),
) -> TrashPage:
    return services.trash.page(auth.user_id, after, limit)


@router.post("/restore")
def restore(request: FileIds, auth: CurrentUser, services: Svc) -> list[RestoredFile]:
    return services.trash.restore(auth.user_id, request)


@router.post("/delete")
def delete_for_good(request: FileIds, auth: CurrentUser, services: Svc) -> TrashDeleted:
    return services.trash.delete(auth.user_id, request)


@router.post("/empty")
def empty(auth: CurrentUser, services: Svc) -> TrashDeleted:
    return services.trash.empty(auth.user_id)
