"""What routes ask of each request: the app's context, a session, a CSRF token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from photoark.web.context import WebContext

__all__ = ["Changing", "Ctx", "Reading", "context", "csrf_checked", "signed_in"]


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


def signed_in(request: Request) -> WebContext:
    """The context, for a request with a live session (401 otherwise)."""
    ctx = context(request)
    if ctx.guard.csrf_of(request.cookies.get(ctx.guard.cookie_name)) is None:
        raise HTTPException(401, "open the link that `photoark web` printed")
    return ctx


def csrf_checked(request: Request) -> WebContext:
    """The context, for a change with a live session and its CSRF token (403 otherwise)."""
    ctx = signed_in(request)
    session = request.cookies.get(ctx.guard.cookie_name)
    if not ctx.guard.check_csrf(session, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page")
    return ctx


Ctx = Annotated[WebContext, Depends(context)]
Reading = Annotated[WebContext, Depends(signed_in)]
Changing = Annotated[WebContext, Depends(csrf_checked)]
