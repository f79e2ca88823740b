"""Routes under ``/auth``: key parameters, signup, login, logout, revoke-all, sessions.

Login is throttled per account and per client address: the address is the connection's peer
as uvicorn reports it (behind a reverse proxy on this machine, uvicorn takes it from
``X-Forwarded-For``: its ``--forwarded-allow-ips`` default trusts 127.0.0.1 only). Signup and
login are ``async`` so that waiting for a password-hash worker holds no thread.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from photoark.protocol.models import (
    AuthSessions,
    KeyParams,
    LoginRequest,
    LoginResponse,
    SignupRequest,
)
from photoark.server.api.deps import CurrentUser, Svc
from photoark.server.api.limits import DbInt
from photoark.server.services.accounts import TokenAuth

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/params")
def key_params(services: Svc, email: str = Query(min_length=1, max_length=320)) -> KeyParams:
    return services.accounts.key_params(email)


@router.post("/signup", status_code=201)
async def signup(body: SignupRequest, services: Svc) -> LoginResponse:
    return await services.accounts.signup(body)


@router.post("/login")
async def login(body: LoginRequest, request: Request, services: Svc) -> LoginResponse:
    return await services.accounts.login(body, client_address(request))


@router.post("/logout", status_code=204)
def logout(auth: CurrentUser, services: Svc) -> Response:
    services.accounts.logout(auth.token)
    return Response(status_code=204)


@router.post("/revoke-all", status_code=204)
def revoke_all(auth: CurrentUser, services: Svc) -> Response:
    services.accounts.revoke_all(auth.user_id)
    return Response(status_code=204)


@router.get("/sessions")
def sessions(auth: CurrentUser, services: Svc) -> AuthSessions:
    return services.accounts.sessions(TokenAuth(auth.user_id, auth.token_id))


@router.delete("/sessions/{session_id}", status_code=204)
def revoke_session(session_id: DbInt, auth: CurrentUser, services: Svc) -> Response:
    services.accounts.revoke_session(auth.user_id, session_id)
    return Response(status_code=204)
