"""The review screens' service: exact duplicates and similar photos, shown with each photo's
facts, applied one group (or every suggestion) at a time, and undone.

The rules are the CLI's: the groups come from :func:`~photoark.optimize.duplicates.
find_duplicates` and :func:`~photoark.optimize.similar.scan_similar`; what a page sends back
is checked by the same ``plan_from_json`` as ``--plan FILE`` (live files, each once, one kept
at least) and applied by the same ``apply_*``. Undo restores what the last apply trashed and
takes the kept photo out of the albums the apply added it to.
"""

from __future__ import annotations

from typing import Any

from photoark.client.errors import ClientError
from photoark.client.library import sync
from photoark.client.library.trash import remove_from_album, restore_files
from photoark.client.session import Session
from photoark.optimize.duplicates import apply_plan, find_duplicates
from photoark.optimize.duplicates import plan_from_json as duplicates_from_json
from photoark.optimize.duplicates import plan_json as duplicates_json
from photoark.optimize.removal import CleanupResult
from photoark.optimize.similar import (
    apply_similar,
    plan_json,
    scan_similar,
    thresholds_for,
)
from photoark.optimize.similar import plan_from_json as similar_from_json
from photoark.web.context import WebContext
from photoark.web.jobs import Progress
from photoark.web.library import photo_facts

__all__ = ["apply", "duplicates", "similar_job", "similar_scan", "undo"]


def _with_facts(session: Session, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each file of a group with every fact the review compares (the plan's fields win)."""
    mirror = session.mirror
    names = {a.id: a.name for a in mirror.albums()}
    out = []
    for item in files:
        f = mirror.file(int(item["id"]))
        facts = photo_facts(mirror, f, names) if f is not None else {}
        out.append({**facts, **item})
    return out


def duplicates(ctx: WebContext) -> dict[str, Any]:
    """Every group of files with one content, the suggested copy first, with their facts."""
    session = ctx.session
    with ctx.write_lock:
        sync.pull(session)
    shown = duplicates_json(find_duplicates(session.mirror), session.mirror)
    for g in shown["groups"]:
        for f in g["files"]:
            f["keep"] = f["id"] == g["keep"]
            f["reason"] = g["why"] if f["keep"] else ""
        g["files"] = _with_facts(session, g["files"])
        g["tier"] = "exact"
        g["bytes_freed"] = sum(f.get("stored", 0) for f in g["files"] if not f["keep"])
    return shown


def similar_scan(ctx: WebContext, progress: Progress) -> dict[str, Any]:
    """Embed what is missing, group the library (both tiers), add each photo's facts."""
    session = ctx.session
    with ctx.write_lock:
        scan, report = scan_similar(
            session,
            thresholds_for("all", None),
            tier="all",
            on_total=progress.set_total,
            on_done=progress.advance,
            on_stage=progress.describe,
        )
    shown = plan_json(scan, session.mirror)
    for g in shown["groups"]:
        g["files"] = _with_facts(session, g["files"])
        g["bytes_freed"] = sum(f.get("stored", 0) for f in g["files"] if not f["keep"])
    shown["embeddings"] = report.as_json()
    shown["sync_version"] = session.mirror.sync_version()  # what the groups were made from
    return shown


def similar_job(ctx: WebContext) -> dict[str, Any]:
    """The scan job as a page sees it; a result made before the library last changed (an
    apply, an undo, another device, the CLI) is dropped, so the page scans again (the
    embeddings are cached: only the grouping runs) rather than offer trashed photos."""
    job = ctx.jobs.get("similar")
    if job.state == "done" and (job.result or {}).get("sync_version") != (
        ctx.session.mirror.sync_version()
    ):
        ctx.jobs.forget("similar")
    return ctx.jobs.get("similar").as_json()


def apply(ctx: WebContext, kind: str, document: Any) -> dict[str, Any]:
    """Apply a plan of ``kind`` (``duplicates`` or ``similar``); remembered for undo."""
    session = ctx.session
    with ctx.write_lock:
        sync.pull(session)
        if kind == "duplicates":
            result = apply_plan(session, duplicates_from_json(document, session.mirror))
        elif kind == "similar":
            result = apply_similar(session, similar_from_json(document, session.mirror))
        else:
            raise ClientError(f"nothing to apply for {kind!r}")
        if result.trashed_ids:
            ctx.applied.append(result)
    return {**result.as_json(), "trashed_ids": result.trashed_ids, "can_undo": bool(ctx.applied)}


def undo(ctx: WebContext) -> dict[str, Any]:
    """Take back the last apply: its trashed files come back (into their albums), and the
    albums a kept photo was added to lose it again."""
    session = ctx.session
    with ctx.write_lock:
        if not ctx.applied:
            raise ClientError("nothing to undo", "only an apply made on this page can be undone")
        last: CleanupResult = ctx.applied[-1]
        restored = restore_files(session, last.trashed_ids)
        sync.pull(session)
        mirror = session.mirror
        for album_id, file_id in last.adds:
            album, f = mirror.album(album_id), mirror.file(file_id)
            if album is not None and f is not None and album_id in mirror.albums_of_file(f.id):
                remove_from_album(session, album, [f])
        ctx.applied.pop()
    return {
        "restored": [t.id for t in restored],
        "albums_undone": len(last.adds),
        "can_undo": bool(ctx.applied),
    }
