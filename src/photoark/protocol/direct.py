"""Wire models of direct transfers: a server whose blobs are in S3 hands out presigned URLs and
clients move the bytes themselves (see :mod:`photoark.protocol`, "Direct transfers").

Re-exported by :mod:`.models`, the one face of the wire models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from photoark.protocol.fields import (
    MAX_BUNDLE_FILES,
    MAX_PART_SIZE,
    B64Key,
    B64Md5,
    B64Metadata,
    ClientUploadId,
    HashHex,
    Int64,
    Md5Hex,
    UploadId,
    WireModel,
)

__all__ = [
    "DirectBundle",
    "DirectBundleItem",
    "DirectStage",
    "DirectStageItem",
    "DirectThumbnailItem",
    "DirectThumbnails",
    "DirectUpload",
    "DownloadUrl",
    "DownloadUrls",
    "PartDone",
    "PartUrl",
    "PresignedPut",
    "ReplicaState",
    "ReplicationHealth",
    "Transfers",
]

_Model = WireModel


class Transfers(_Model):
    """How file bytes move (``GET /health/transfers``, no auth): ``direct`` when the server
    keeps its blobs in S3 and bytes go to and from presigned URLs. A server older than 0.3
    answers 404 there: it carries the bytes itself. (Kept out of :class:`Health`, whose exact
    shape every released client parses.)"""

    direct: bool


class PresignedPut(_Model):
    """A presigned single ``PUT`` of a whole object: send exactly the staged size with
    ``Content-Length``, ``Content-MD5`` (the staged MD5, base64) and every header in
    ``headers`` (``If-None-Match: *``: a 412 answer means the object is already there)."""

    url: str
    headers: dict[str, str]
    expires_at: float  # seconds since the epoch; a 403 "Request has expired" after it


class PartUrl(_Model):
    """A presigned ``PUT`` of part ``number`` of a multi-part session (S3 ``UploadPart``): it
    signs the part's exact size; send ``Content-Length`` and ``Content-MD5``, then confirm
    with ``POST /uploads/{id}/parts/{number}`` (:class:`PartDone`)."""

    number: int
    url: str
    expires_at: float


class PartDone(_Model):
    """``POST /uploads/{id}/parts/{n}``: the part was PUT to its presigned URL. The server
    counts it only when the store lists part ``n`` with the expected size and this MD5."""

    sha256: HashHex  # of the part's bytes, kept for resume checks (``PartInfo.sha256``)
    md5: Md5Hex  # of the part's bytes: S3's ETag of the part


class DirectStageItem(_Model):
    """One single-part object to stage: ``id`` chosen by the client (bundle items: makes the
    item idempotent) or by the server (``None``: thumbnails)."""

    id: ClientUploadId | None = None
    size: int = Field(gt=0, le=MAX_PART_SIZE)
    md5: B64Md5  # the bytes' MD5, signed into the PUT URL's Content-MD5 expectations


class DirectStage(_Model):
    """``POST /uploads/direct``: open single-part sessions and presign their PUTs."""

    items: list[DirectStageItem] = Field(min_length=1, max_length=MAX_BUNDLE_FILES)


class DirectUpload(_Model):
    """One staged session: ``put`` is ``None`` when ``state`` is ``committed`` (the id was
    committed before: recommit it, nothing to send)."""

    id: str
    put: PresignedPut | None
    state: str  # "open" | "committed"


class DirectBundleItem(_Model):
    """One small file of a direct bundle: its bytes were PUT to the staged session
    ``upload_id``; ``size`` and ``md5`` must match what the store holds."""

    upload_id: ClientUploadId
    collection_id: Int64
    size: int = Field(gt=0, le=MAX_PART_SIZE)
    md5: B64Md5
    encrypted_key: B64Key
    encrypted_metadata: B64Metadata


class DirectBundle(_Model):
    """``POST /files/bundle/direct``: commit staged small files, as ``POST /files/bundle``."""

    items: list[DirectBundleItem] = Field(min_length=1, max_length=MAX_BUNDLE_FILES)


class DirectThumbnailItem(_Model):
    """The thumbnail of committed file ``file_id``, PUT to the staged session ``upload_id``."""

    file_id: Int64
    upload_id: UploadId
    md5: B64Md5


class DirectThumbnails(_Model):
    """``POST /files/thumbnails/direct``: attach staged thumbnails, as ``/files/thumbnails``."""

    items: list[DirectThumbnailItem] = Field(min_length=1, max_length=MAX_BUNDLE_FILES)


class DownloadUrl(_Model):
    """A presigned ``GET`` of a file's content or thumbnail (``Range`` works on it)."""

    url: str
    size: int  # the object's bytes
    expires_at: float


class DownloadUrls(_Model):
    """``POST /files/urls``: download URLs of some of the caller's files."""

    kind: Literal["content", "thumbnail"] = "content"
    file_ids: list[Int64] = Field(min_length=1, max_length=MAX_BUNDLE_FILES)


class ReplicaState(_Model):
    """Copies to one replica store (``GET /health/replication``)."""

    name: str
    pending: int  # objects not copied yet (pending or being copied)
    failing: int  # of those, how many failed at least once
    oldest_pending_seconds: float  # age of the oldest pending copy (0: none pending)
    done: int  # objects copied


class ReplicationHealth(_Model):
    stores: list[ReplicaState]  # one per ``--replicate-to`` store; empty without replicas
