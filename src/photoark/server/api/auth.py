"""Routes under ``/auth``: key parameters, signup, login, logout, revoke-all."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from photoark.protocol.models import KeyParams, LoginRequest, LoginResponse, SignupRequest
from photoark.server.api.deps import CurrentUser, Svc

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])


@router.get("/params")
def key_params(services: Svc, email: str = Query(min_length=1, max_length=320)) -> KeyParams:
    return services.accounts.key_params(email)


@router.post("/signup", status_code=201)
def signup(request: SignupRequest, services: Svc) -> LoginResponse:
    return services.accounts.signup(request)


@router.post("/login")
def login(request: LoginRequest, services: Svc) -> LoginResponse:
    return services.accounts.login(request)


@router.post("/logout", status_code=204)
def logout(auth: CurrentUser, services: Svc) -> Response:
    services.accounts.logout(auth.token)
    return Response(status_code=204)


@router.post("/revoke-all", status_code=204)
def revoke_all(auth: CurrentUser, services: Svc) -> Response:
    services.accounts.revoke_all(auth.user_id)
    return Response(status_code=204)
