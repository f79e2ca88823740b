"""Domain rules, without HTTP: one service per area, built together by :func:`build_services`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from photoark.server.blobs.base import BlobStore
from photoark.server.config import ServerSettings
from photoark.server.services.accounts import AccountService
from photoark.server.services.bundles import BundleService
from photoark.server.services.collections import CollectionService
from photoark.server.services.files import FileService
from photoark.server.services.sync import SyncService
from photoark.server.services.uploads import UploadService
from photoark.server.store import (
    AccountStore,
    BundleStore,
    CollectionStore,
    FileStore,
    SyncStore,
    UploadStore,
)

__all__ = [
    "AccountService",
    "BundleService",
    "CollectionService",
    "FileService",
    "Services",
    "SyncService",
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
    upload_store: UploadStore


def build_services(
    settings: ServerSettings,
    engine: Engine,
    blobs: BlobStore,
    clock: Callable[[], float] = time.time,
) -> Services:
    account_store = AccountStore(engine)
    collection_store = CollectionStore(engine)
    file_store = FileStore(engine)
    upload_store = UploadStore(engine)
    uploads = UploadService(upload_store, blobs, settings.upload_expiry_seconds, clock)
    return Services(
        accounts=AccountService(account_store, settings.login_hash, settings.default_quota),
        collections=CollectionService(collection_store),
        uploads=uploads,
        files=FileService(file_store, collection_store, uploads, blobs),
        bundles=BundleService(BundleStore(engine), blobs, clock),
        sync=SyncService(SyncStore(engine), file_store, account_store),
        upload_store=upload_store,
    )
