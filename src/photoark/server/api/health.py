"""``GET /health``: liveness for load balancers and clients (no auth, no database); ``GET
/health/transfers``: whether bytes go by presigned URL (S3 mode).

``/health`` keeps the exact shape every released client parses (they refuse unknown fields):
what a newer client needs to know goes to another route.
"""

from __future__ import annotations

import time

from fastapi import APIRouter

import photoark
from photoark.protocol.models import Health, Transfers
from photoark.server.api.deps import Svc

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> Health:
    return Health(status="ok", version=photoark.__version__, time=time.time())


@router.get("/health/transfers")
def transfers(services: Svc) -> Transfers:
    return Transfers(direct=services.direct.enabled)
