"""Routes under ``/embeddings``: store and fetch the caller's files' sealed embeddings
(similar-photo search)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from photoark.protocol.models import EmbeddingList, EmbeddingPut, EmbeddingQuery
from photoark.server.api.deps import CurrentUser, Svc

__all__ = ["router"]

router = APIRouter(prefix="/embeddings", tags=["embeddings"])


@router.put("", status_code=204)
def put_embeddings(request: EmbeddingPut, auth: CurrentUser, services: Svc) -> Response:
    services.embeddings.put(auth.user_id, request)
    return Response(status_code=204)


@router.post("/query")
def query_embeddings(request: EmbeddingQuery, auth: CurrentUser, services: Svc) -> EmbeddingList:
    return services.embeddings.query(auth.user_id, request)
