"""Blob stores: where encrypted content and thumbnails live (see :mod:`.base` for the contract).

The local directory (:class:`LocalBlobStore`, the default), memory (tests), and S3
(:class:`S3BlobStore`, which also hands clients presigned URLs: :class:`DirectStore`);
:class:`ReplicatedStore` adds replicas to a primary, and :func:`open_replicated` builds it from
the command line's store URLs (:mod:`.factory`).
"""

from photoark.server.blobs.base import (
    BlobStore,
    BlobStoreError,
    DirectStore,
    ObjectInfo,
    Presigned,
    multipart_etag,
)
from photoark.server.blobs.factory import (
    open_blob_store,
    open_replicated,
    parse_store_url,
    store_name,
)
from photoark.server.blobs.local import LocalBlobStore
from photoark.server.blobs.memory import MemoryBlobStore
from photoark.server.blobs.replicated import ReplicatedStore, copy_object
from photoark.server.blobs.s3 import S3BlobStore

__all__ = [
    "BlobStore",
    "BlobStoreError",
    "DirectStore",
    "LocalBlobStore",
    "MemoryBlobStore",
    "ObjectInfo",
    "Presigned",
    "ReplicatedStore",
    "S3BlobStore",
    "copy_object",
    "multipart_etag",
    "open_blob_store",
    "open_replicated",
    "parse_store_url",
    "store_name",
]
