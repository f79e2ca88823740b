"""Domain rules, without HTTP: one service per area, built together by :func:`build_services`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from photoark.server.blobs.base import BlobStore
from photoark.server.blobs.replicated import ReplicatedStore
from photoark.server.config import ServerSettings
from photoark.server.services.accounts import AccountService
from photoark.server.services.bundles import BundleService
from photoark.server.services.collections import CollectionService
from photoark.server.services.direct import DirectService
from photoark.server.services.embeddings import EmbeddingService
from photoark.server.services.events import ChangeFeed
from photoark.server.services.files import FileService
from photoark.server.services.marks import MarkService
from photoark.server.services.sync import SyncService
from photoark.server.services.transfers import DirectTransfers
from photoark.server.services.trash import TrashService
from photoark.server.services.uploads import UploadService
from photoark.server.store import (
    AccountStore,
    BundleStore,
    CollectionStore,
    EmbeddingStore,
    FileStore,
    MarkStore,
    SyncStore,
    TrashStore,
    UploadStore,
)
from photoark.server.store.copies import CopyStore

__all__ = [
    "AccountService",
    "BundleService",
    "ChangeFeed",
    "CollectionService",
    "DirectService",
    "EmbeddingService",
    "FileService",
    "MarkService",
    "Services",
    "SyncService",
    "TrashService",
    "UploadService",
    "build_services",
]


@dataclass(frozen=True)
class Services:
    accounts: AccountService
    collections: CollectionService
    uploads: UploadService
    files: FileService
    bundles: BundleService
    sync: SyncService
    trash: TrashService
    marks: MarkService
    embeddings: EmbeddingService
    events: ChangeFeed
    upload_store: UploadStore
    direct: DirectService
    stores: ReplicatedStore  # the primary blob store and its replicas


def build_services(
    settings: ServerSettings,
    engine: Engine,
    blobs: BlobStore,
    clock: Callable[[], float] = time.time,
) -> Services:
    """Every service over ``engine`` and ``blobs``: a :class:`ReplicatedStore` (its primary
    an S3 store: direct transfers), or a plain store (no replicas)."""
    stores = blobs if isinstance(blobs, ReplicatedStore) else ReplicatedStore(blobs)
    replicas = list(stores.replicas)
    account_store = AccountStore(engine)
    collection_store = CollectionStore(engine)
    file_store = FileStore(engine, replicas)
    upload_store = UploadStore(engine)
    transfers = None
    if stores.direct is not None:
        transfers = DirectTransfers(stores.direct, upload_store, settings.presign_seconds, clock)
    expiry = settings.upload_expiry_seconds
    uploads = UploadService(upload_store, stores, expiry, clock, transfers)
    files = FileService(file_store, collection_store, uploads, stores)
    return Services(
        accounts=AccountService(
            account_store,
            settings.login_hash,
            settings.default_quota,
            hash_workers=settings.login_hash_workers,
            login_wait=settings.login_wait_seconds,
            token_idle_days=settings.token_idle_days,
            clock=clock,
        ),
        collections=CollectionService(collection_store),
        uploads=uploads,
        files=files,
        bundles=BundleService(
            BundleStore(engine, replicas), stores, clock, upload_store, transfers
        ),
        sync=SyncService(SyncStore(engine), file_store, account_store),
        trash=TrashService(TrashStore(engine), stores, settings.trash_days, clock),
        marks=MarkService(MarkStore(engine), clock),
        embeddings=EmbeddingService(EmbeddingStore(engine), clock),
        events=ChangeFeed(
            account_store.versions,
            poll_interval=settings.events_poll_seconds,
            heartbeat=settings.events_heartbeat_seconds,
            live_tokens=account_store.unrevoked,
        ),
        upload_store=upload_store,
        direct=DirectService(
            uploads,
            upload_store,
            files,
            file_store,
            stores,
            CopyStore(engine, clock),
            expiry,
            clock,
            health_seconds=settings.replication_health_seconds,
        ),
        stores=stores,
    )
