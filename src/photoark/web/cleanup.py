"""The free-up and trash screens' service, on the CLI's rules.

Free up: the plan is :func:`~photoark.optimize.freeup.plan_free_up` (content in the library,
no upload under way, server copy confirmed), shown by folder with every kept file's reason;
apply deletes, to the desktop trash, only files of the last plan shown, each re-hashed right
before (:func:`~photoark.optimize.freeup.apply_free_up`). Trash: list, restore, delete for good,
empty, as ``photoark trash``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from photoark.client.errors import ClientError
from photoark.client.library.trash import (
    delete_forever,
    empty_trash,
    list_trash,
    restore_files,
    trashed_hashes,
)
from photoark.optimize.freeup import FreeUpPlan, apply_free_up, plan_free_up
from photoark.web.context import WebContext
from photoark.web.jobs import Progress

__all__ = [
    "apply_freeup",
    "freeup_plan",
    "trash_delete",
    "trash_empty",
    "trash_items",
    "trash_restore",
]


def freeup_plan(ctx: WebContext, paths: Sequence[str], progress: Progress) -> dict[str, Any]:
    """Plan (changes nothing); the plan is kept for apply."""
    session = ctx.session
    progress.describe("checking files")
    plan = plan_free_up(
        session, list(paths), trashed_hashes=lambda: trashed_hashes(session), on_file=progress.tick
    )
    ctx.freeup_plan = plan
    return _plan_json(plan)


def _plan_json(plan: FreeUpPlan) -> dict[str, Any]:
    folders: dict[str, dict[str, Any]] = {}
    for c in plan.candidates:
        folder = folders.setdefault(
            os.path.dirname(c.path), {"path": os.path.dirname(c.path), "bytes": 0, "files": []}
        )
        folder["bytes"] += c.size
        folder["files"].append(
            {"path": c.path, "name": os.path.basename(c.path), "size": c.size, "id": c.file_id}
        )
    return {
        "folders": sorted(folders.values(), key=lambda f: (-f["bytes"], f["path"])),
        "count": len(plan.candidates),
        "bytes": plan.bytes,
        "kept": [
            {"path": k.path, "reason": k.reason.value, "text": k.reason.text} for k in plan.kept
        ],
    }


def apply_freeup(ctx: WebContext, paths: Sequence[str]) -> dict[str, Any]:
    """Move to the desktop trash the given candidates of the last plan (nothing else)."""
    plan = ctx.freeup_plan
    if plan is None:
        raise ClientError("no free-up plan to apply", "look for files to free up first")
    wanted = set(paths)
    chosen = [c for c in plan.candidates if c.path in wanted]
    unknown = sorted(wanted - {c.path for c in chosen})
    if unknown:
        raise ClientError(
            f"{len(unknown)} of these files are not candidates of the plan shown: "
            f"{', '.join(unknown[:3])}",
            "look for files to free up again",
        )
    result = apply_free_up(ctx.session, chosen, permanent=False)
    done = {c.path for c in result.deleted}
    plan.candidates = [c for c in plan.candidates if c.path not in done]
    return {
        **result.as_json(),
        "kept": [
            {"path": k.path, "reason": k.reason.value, "text": k.reason.text} for k in result.kept
        ],
    }


def trash_items(ctx: WebContext) -> dict[str, Any]:
    items = list_trash(ctx.session)
    now = time.time()
    ctx.trash_files = {t.id: t.file for t in items if t.file is not None}
    return {
        "items": [
            {
                **t.as_json(),
                "type": t.file.type if t.file else None,
                "has_thumbnail": bool(t.file and t.file.thumbnail_size > 0),
                "days_left": max(0.0, (t.expires_at - now) / 86400),
            }
            for t in items
        ],
        "bytes": sum(t.stored for t in items),
    }


def trash_restore(ctx: WebContext, ids: Sequence[int]) -> dict[str, Any]:
    with ctx.write_lock:
        restored = restore_files(ctx.session, list(ids))
    return {"restored": [t.id for t in restored]}


def trash_delete(ctx: WebContext, ids: Sequence[int]) -> dict[str, Any]:
    with ctx.write_lock:
        done = delete_forever(ctx.session, list(ids))
    return {"deleted": done.deleted, "bytes": done.bytes}


def trash_empty(ctx: WebContext) -> dict[str, Any]:
    with ctx.write_lock:
        done = empty_trash(ctx.session)
    return {"deleted": done.deleted, "bytes": done.bytes}
