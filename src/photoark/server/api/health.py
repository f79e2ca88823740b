"""``GET /health``: liveness for load balancers and clients (no auth, no database)."""

from __future__ import annotations

import time

from fastapi import APIRouter

import photoark
from photoark.protocol.models import Health

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> Health:
    return Health(status="ok", version=photoark.__version__, time=time.time())
