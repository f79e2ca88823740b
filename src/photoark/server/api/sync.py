"""Route ``/diff``: the changes a client mirrors, paged by the user's change counter."""

from __future__ import annotations

from fastapi import APIRouter, Query

from photoark.protocol.models import Diff
from photoark.server.api.deps import CurrentUser, Svc

__all__ = ["MAX_DIFF_LIMIT", "router"]

MAX_DIFF_LIMIT = 5000

router = APIRouter(tags=["sync"])


@router.get("/diff")
def diff(
    auth: CurrentUser,
    services: Svc,
    since: int = Query(default=0, ge=0),
    limit: int = Query(default=1000, ge=1, le=MAX_DIFF_LIMIT),
) -> Diff:
    return services.sync.diff(auth.user_id, since, limit)
