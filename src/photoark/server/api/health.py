"""``GET /health``: liveness for load balancers and clients (no auth, no database).

``direct_transfers`` (S3 mode) is sent only when true, so a server on its own disk answers as
it always did (older clients parse it).
"""

from __future__ import annotations

import time

from fastapi import APIRouter

import photoark
from photoark.protocol.models import Health
from photoark.server.api.deps import Svc

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", response_model_exclude_defaults=True)
def health(services: Svc) -> Health:
    return Health(
        status="ok",
        version=photoark.__version__,
        time=time.time(),
        direct_transfers=services.direct.enabled,
    )
