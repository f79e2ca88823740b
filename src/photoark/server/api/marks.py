"""Routes under ``/marks``: add and remove deletion marks (they reach devices via ``/diff``)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from photoark.protocol.models import DeletionMarks
from photoark.server.api.deps import CurrentUser, Svc

__all__ = ["router"]

router = APIRouter(prefix="/marks", tags=["marks"])


@router.post("", status_code=204)
def add_marks(request: DeletionMarks, auth: CurrentUser, services: Svc) -> Response:
    services.marks.add(auth.user_id, request)
    return Response(status_code=204)


@router.post("/remove", status_code=204)
def remove_marks(request: DeletionMarks, auth: CurrentUser, services: Svc) -> Response:
    services.marks.remove(auth.user_id, request)
    return Response(status_code=204)
