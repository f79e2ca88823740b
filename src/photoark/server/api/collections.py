"""Routes under ``/collections``: albums and their entries."""

from __future__ import annotations

from fastapi import APIRouter, Response

from photoark.protocol.models import (
    AddManyToCollection,
    AddToCollection,
    Collection,
    CollectionCreate,
    CollectionRename,
    Entry,
)
from photoark.server.api.deps import CurrentUser, Svc
from photoark.server.api.limits import DbInt

__all__ = ["router"]

router = APIRouter(prefix="/collections", tags=["collections"])


@router.get("")
def list_collections(auth: CurrentUser, services: Svc) -> list[Collection]:
    return services.collections.list(auth.user_id)


@router.post("", status_code=201)
def create_collection(request: CollectionCreate, auth: CurrentUser, services: Svc) -> Collection:
    """Create an album; a repeat with the same ``idempotency_key`` answers the same album, also
    with 201 (a retry cannot tell whether its first attempt got through)."""
    return services.collections.create(auth.user_id, request)


@router.patch("/{collection_id}")
def rename_collection(
    collection_id: DbInt, request: CollectionRename, auth: CurrentUser, services: Svc
) -> Collection:
    return services.collections.rename(auth.user_id, collection_id, request.encrypted_name)


@router.delete("/{collection_id}", status_code=204)
def delete_collection(collection_id: DbInt, auth: CurrentUser, services: Svc) -> Response:
    """Delete an album (idempotent); its entries become tombstones, its files stay."""
    services.collections.delete(auth.user_id, collection_id)
    return Response(status_code=204)


@router.post("/{collection_id}/files", status_code=201)
def add_file(
    collection_id: DbInt, request: AddToCollection, auth: CurrentUser, services: Svc
) -> Entry:
    return services.collections.add_file(auth.user_id, collection_id, request)


@router.post("/{collection_id}/files/batch", status_code=201)
def add_files(
    collection_id: DbInt, request: AddManyToCollection, auth: CurrentUser, services: Svc
) -> list[Entry]:
    return list(services.collections.add_files(auth.user_id, collection_id, request))


@router.delete("/{collection_id}/files/{file_id}", status_code=204)
def remove_file(collection_id: DbInt, file_id: DbInt, auth: CurrentUser, services: Svc) -> Response:
    """Not in the protocol table yet: removes a file from an album, leaving a tombstone."""
    services.collections.remove_file(auth.user_id, collection_id, file_id)
    return Response(status_code=204)
