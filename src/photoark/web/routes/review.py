"""The review routes: exact duplicates, the similar-photo scan (a background job), apply,
undo."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from photoark.web import review
from photoark.web.routes.deps import Changing, Reading

__all__ = ["router"]

router = APIRouter(prefix="/api")


@router.get("/duplicates")
def duplicates(ctx: Reading) -> dict[str, Any]:
    return review.duplicates(ctx)


@router.get("/similar")
def similar(ctx: Reading) -> dict[str, Any]:
    """The scan job: its state, progress, and result when done (and still current)."""
    return review.similar_job(ctx)


@router.post("/similar/scan")
def similar_scan(ctx: Changing) -> dict[str, Any]:
    return ctx.jobs.start("similar", lambda progress: review.similar_scan(ctx, progress)).as_json()


@router.post("/duplicates/apply")
def apply_duplicates(ctx: Changing, plan: dict[str, Any] = Body(...)) -> dict[str, Any]:
    return review.apply(ctx, "duplicates", plan)


@router.post("/similar/apply")
def apply_similar(ctx: Changing, plan: dict[str, Any] = Body(...)) -> dict[str, Any]:
    return review.apply(ctx, "similar", plan)


@router.post("/undo")
def undo(ctx: Changing) -> dict[str, Any]:
    return review.undo(ctx)


@router.get("/undo")
def can_undo(ctx: Reading) -> dict[str, Any]:
    return {"can_undo": bool(ctx.applied)}
