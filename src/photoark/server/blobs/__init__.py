"""Blob stores: where encrypted content and thumbnails live (see :mod:`.base` for the contract)."""

from photoark.server.blobs.base import BlobStore
from photoark.server.blobs.local import LocalBlobStore
from photoark.server.blobs.memory import MemoryBlobStore

__all__ = ["BlobStore", "LocalBlobStore", "MemoryBlobStore"]
