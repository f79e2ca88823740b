"""FastAPI dependencies: the services held by the app, and bearer-token authentication."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from photoark.server.errors import Unauthorized
from photoark.server.services import Services

__all__ = ["Auth", "CurrentUser", "Svc", "authenticate", "get_services"]


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Svc = Annotated[Services, Depends(get_services)]


@dataclass(frozen=True)
class Auth:
    """The authenticated caller: user id, the token used (logout revokes that one) and that
    token's id (``/auth/sessions`` marks it current; event streams end when it is revoked)."""

    user_id: int
    token: str
    token_id: int


def authenticate(request: Request, services: Svc) -> Auth:
    """``Authorization: Bearer TOKEN`` → :class:`Auth`; missing, invalid, revoked or
    expired → 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token")
    found = services.accounts.authenticate(token)
    return Auth(found.user_id, token, found.token_id)


CurrentUser = Annotated[Auth, Depends(authenticate)]
