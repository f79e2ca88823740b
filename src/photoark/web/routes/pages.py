"""The pages (HTML shells filled in by their script), the login link and the static files."""

from __future__ import annotations

import html
from importlib import resources
from string import Template
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from photoark.web.routes.deps import Ctx

__all__ = ["router"]

router = APIRouter()

# page -> its title
PAGES: Final = {
    "timeline": "Photos",
    "photo": "Photo",
    "albums": "Albums",
    "similar": "Similar photos",
    "duplicates": "Duplicates",
    "freeup": "Free up space",
    "trash": "Trash",
    "status": "Status",
}
SCRIPTS: Final = {"similar": "review", "duplicates": "review"}  # page -> its script
NAV: Final = (
    ("/", "Photos", "timeline"),
    ("/albums", "Albums", "albums"),
    ("/duplicates", "Duplicates", "duplicates"),
    ("/similar", "Similar", "similar"),
    ("/free-up-space", "Free up space", "freeup"),
    ("/trash", "Trash", "trash"),
    ("/status", "Status", "status"),
)


def _template() -> Template:
    return Template(resources.files("photoark.web").joinpath("page.html").read_text("utf-8"))


def _page(ctx: Ctx, request: Request, page: str) -> Response:
    csrf = ctx.guard.csrf_of(request.cookies.get(ctx.guard.cookie_name))
    if csrf is None:
        return HTMLResponse(_signed_out(), status_code=401)
    nav = "".join(
        f'<a href="{href}"{" aria-current=page" if key == page else ""}>{html.escape(label)}</a>'
        for href, label, key in NAV
    )
    body = _template().substitute(
        title=html.escape(PAGES[page]),
        page=page,
        script=SCRIPTS.get(page, page),
        csrf=html.escape(csrf),
        nav=nav,
    )
    return HTMLResponse(body)


def _signed_out() -> str:
    return (
        "<!doctype html><meta charset=utf-8><title>photoark</title>"
        '<link rel="stylesheet" href="/static/app.css">'
        '<main class="signed-out"><h1>photoark</h1><p>This page needs the link that '
        "<code>photoark web</code> printed when it started. A link works once: run "
        "<code>photoark web</code> again for a new one.</p></main>"
    )


@router.get("/login")
def login(ctx: Ctx, token: str = "") -> Response:
    session = ctx.guard.spend(token)
    if session is None:
        return HTMLResponse(_signed_out(), status_code=403)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(ctx.guard.cookie_name, session, httponly=True, samesite="strict", path="/")
    return response


@router.get("/")
def timeline_page(ctx: Ctx, request: Request) -> Response:
    return _page(ctx, request, "timeline")


@router.get("/albums")
def albums_page(ctx: Ctx, request: Request) -> Response:
    return _page(ctx, request, "albums")


@router.get("/albums/{album_id}")
def album_page(ctx: Ctx, request: Request, album_id: int) -> Response:
    return _page(ctx, request, "timeline")


@router.get("/photos/{file_id}")
def photo_page(ctx: Ctx, request: Request, file_id: int) -> Response:
    return _page(ctx, request, "photo")


@router.get("/similar")
def similar_page(ctx: Ctx, request: Request) -> Response:
    return _page(ctx, request, "similar")


@router.get("/duplicates")
def duplicates_page(ctx: Ctx, request: Request) -> Response:
    return _page(ctx, request, "duplicates")


@router.get("/free-up-space")
def freeup_page(ctx: Ctx, request: Request) -> Response:
    return _page(ctx, request, "freeup")


@router.get("/trash")
def trash_page(ctx: Ctx, request: Request) -> Response:
    return _page(ctx, request, "trash")


@router.get("/status")
def status_page(ctx: Ctx, request: Request) -> Response:
    return _page(ctx, request, "status")
