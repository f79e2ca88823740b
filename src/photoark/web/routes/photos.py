"""The library's routes: timeline, albums, one photo, its thumbnail, original and display."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response

from photoark.web import library
from photoark.web.routes.deps import Reading

__all__ = ["router"]

router = APIRouter(prefix="/api")


@router.get("/timeline")
def timeline(ctx: Reading, album: int | None = None) -> Response:
    """The timeline's JSON as made once per mirror version (see :func:`library.timeline`)."""
    made = ctx.timelines.get(ctx.session.mirror, album)
    return Response(made.body, media_type="application/json")


@router.get("/albums")
def albums(ctx: Reading) -> list[dict[str, Any]]:
    return library.albums(ctx.session.mirror)


@router.get("/photos/{file_id}")
def photo(ctx: Reading, file_id: int, album: int | None = None) -> dict[str, Any]:
    return library.photo_details(ctx.session.mirror, file_id, album, ctx.timelines)


@router.get("/photos/{file_id}/thumbnail")
def thumbnail(ctx: Reading, file_id: int) -> Response:
    f = ctx.session.mirror.file(file_id) or ctx.trash_files.get(file_id)
    if f is None:
        raise library.NotFound(f"no photo {file_id}")
    return Response(ctx.thumbnails.get(ctx.session, f), media_type="image/jpeg")


@router.get("/photos/{file_id}/original")
async def original(ctx: Reading, file_id: int, part: int = 0) -> Response:
    """The decrypted original (a Live Photo's video with ``part=1``), with Range support."""
    f = library.file_or_404(ctx.session.mirror, file_id)
    path = await run_in_threadpool(ctx.originals.part, ctx.session, f, part)
    mime = f.metadata.mime if part == 0 else None
    if f.type == "live" and part == 1:
        mime = "video/quicktime" if path.suffix.lower() == ".mov" else "video/mp4"
    return FileResponse(path, media_type=mime or "application/octet-stream")


@router.get("/photos/{file_id}/display")
async def display(ctx: Reading, file_id: int) -> Response:
    """What the photo view shows: the original, or a JPEG of a format browsers lack."""
    f = library.file_or_404(ctx.session.mirror, file_id)
    shown = await run_in_threadpool(library.display, ctx.session, ctx.originals, f)
    if shown.path is not None:
        return FileResponse(shown.path, media_type=shown.mime)
    return Response(shown.data, media_type=shown.mime)
