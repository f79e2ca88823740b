"""The free-up and trash routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from photoark.web import cleanup
from photoark.web.routes.deps import Changing, Reading

__all__ = ["router"]

router = APIRouter(prefix="/api")


class Paths(BaseModel):
    paths: list[str] = []


class Ids(BaseModel):
    ids: list[int]


@router.get("/free-up")
def freeup(ctx: Reading) -> dict[str, Any]:
    return ctx.jobs.get("freeup").as_json()


@router.post("/free-up/scan")
def freeup_scan(ctx: Changing, body: Paths) -> dict[str, Any]:
    return ctx.jobs.start(
        "freeup", lambda progress: cleanup.freeup_plan(ctx, body.paths, progress)
    ).as_json()


@router.post("/free-up/apply")
def freeup_apply(ctx: Changing, body: Paths) -> dict[str, Any]:
    return cleanup.apply_freeup(ctx, body.paths)


@router.get("/trash")
def trash(ctx: Reading) -> dict[str, Any]:
    return cleanup.trash_items(ctx)


@router.post("/trash/restore")
def restore(ctx: Changing, body: Ids) -> dict[str, Any]:
    return cleanup.trash_restore(ctx, body.ids)


@router.post("/trash/delete")
def delete(ctx: Changing, body: Ids) -> dict[str, Any]:
    return cleanup.trash_delete(ctx, body.ids)


@router.post("/trash/empty")
def empty(ctx: Changing) -> dict[str, Any]:
    return cleanup.trash_empty(ctx)
