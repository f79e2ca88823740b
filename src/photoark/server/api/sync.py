"""Route ``/diff``: the changes a client mirrors, paged by the user's change counter."""

from __future__ import annotations

from fastapi import APIRouter, Query

from photoark.protocol.models import Diff
from photoark.server.api.deps import CurrentUser, Svc
from photoark.server.api.limits import MAX_DB_INT

__all__ = ["MAX_DIFF_LIMIT", "router"]

MAX_DIFF_LIMIT = 5000

router = APIRouter(tags=["sync"])


@router.get("/diff")
def diff(
    auth: CurrentUser,
    services: Svc,
    since: int = Query(default=0, ge=0, le=MAX_DB_INT),
    limit: int = Query(default=1000, ge=1, le=MAX_DIFF_LIMIT),
) -> Diff:
    return services.sync.diff(auth.user_id, since, limit)
