"""Route ``/usage``: storage used against the quota (each unique file counted once)."""

from __future__ import annotations

from fastapi import APIRouter

from photoark.protocol.models import Usage
from photoark.server.api.deps import CurrentUser, Svc

__all__ = ["router"]

router = APIRouter(tags=["usage"])


@router.get("/usage")
def usage(auth: CurrentUser, services: Svc) -> Usage:
    return services.sync.usage(auth.user_id)
