"""Metadata storage: SQLAlchemy Core tables and one store class per domain.

Each store method is one transaction for one business operation; services compose them.
"""

from photoark.server.store.accounts import AccountStore
from photoark.server.store.bundles import BundleStore
from photoark.server.store.collections import CollectionStore
from photoark.server.store.db import create_db_engine
from photoark.server.store.embeddings import EmbeddingStore
from photoark.server.store.files import FileStore
from photoark.server.store.marks import MarkStore
from photoark.server.store.migrations import migrate
from photoark.server.store.sync import SyncStore
from photoark.server.store.trash import TrashStore
from photoark.server.store.uploads import UploadStore

__all__ = [
    "AccountStore",
    "BundleStore",
    "CollectionStore",
    "EmbeddingStore",
    "FileStore",
    "MarkStore",
    "SyncStore",
    "TrashStore",
    "UploadStore",
    "create_db_engine",
    "migrate",
]
