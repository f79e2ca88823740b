"""Wire models of the HTTP API (pydantic), shared by server and client.

Binary values travel as standard base64 strings (type :data:`B64`). Every encrypted field is
opaque to the server. The endpoint table (method, path, body, answer) is in the package docstring,
:mod:`photoark.protocol`.
"""

from __future__ import annotations

from pydantic import Field

from photoark.protocol.direct import (
    DirectBundle,
    DirectBundleItem,
    DirectStage,
    DirectStageItem,
    DirectThumbnailItem,
    DirectThumbnails,
    DirectUpload,
    DownloadUrl,
    DownloadUrls,
    PartDone,
    PartUrl,
    PresignedPut,
    ReplicaState,
    ReplicationHealth,
    Transfers,
)
from photoark.protocol.fields import (
    B64,
    EVENTS_HEARTBEAT_SECONDS,
    MAX_BUNDLE_BYTES,
    MAX_BUNDLE_FILES,
    MAX_EMBEDDING_BYTES,
    MAX_EMBEDDING_QUERY,
    MAX_INT,
    MAX_KEY_BYTES,
    MAX_MARKS,
    MAX_METADATA_BYTES,
    MAX_NAME_BYTES,
    MAX_PART_SIZE,
    MAX_PART_URLS,
    MAX_THUMBNAIL_BYTES,
    MAX_TRASH_PAGE,
    MIN_PART_SIZE,
    UPLOAD_ID_PATTERN,
    B64Embedding,
    B64Key,
    B64Md5,
    B64Metadata,
    B64Name,
    B64Thumbnail,
    ClientUploadId,
    HashHex,
    Int64,
    MarkHex,
    Md5Hex,
    ModelName,
    UploadId,
    WireModel,
)

__all__ = [
    "B64",
    "EVENTS_HEARTBEAT_SECONDS",
    "MAX_BUNDLE_BYTES",
    "MAX_BUNDLE_FILES",
    "MAX_EMBEDDING_BYTES",
    "MAX_EMBEDDING_QUERY",
    "MAX_INT",
    "MAX_KEY_BYTES",
    "MAX_MARKS",
    "MAX_METADATA_BYTES",
    "MAX_NAME_BYTES",
    "MAX_PART_SIZE",
    "MAX_PART_URLS",
    "MAX_THUMBNAIL_BYTES",
    "MAX_TRASH_PAGE",
    "MIN_PART_SIZE",
    "UPLOAD_ID_PATTERN",
    "AddManyToCollection",
    "AddToCollection",
    "AuthSession",
    "AuthSessions",
    "B64Embedding",
    "B64Key",
    "B64Md5",
    "B64Metadata",
    "B64Name",
    "B64Thumbnail",
    "Bundle",
    "BundleItem",
    "BundleResult",
    "ClientUploadId",
    "Collection",
    "CollectionCreate",
    "CollectionRename",
    "DeletionMarks",
    "Diff",
    "DirectBundle",
    "DirectBundleItem",
    "DirectStage",
    "DirectStageItem",
    "DirectThumbnailItem",
    "DirectThumbnails",
    "DirectUpload",
    "DownloadUrl",
    "DownloadUrls",
    "EmbeddingItem",
    "EmbeddingList",
    "EmbeddingPut",
    "EmbeddingQuery",
    "Entry",
    "FileCommit",
    "FileIds",
    "FileRecord",
    "HashHex",
    "Health",
    "Int64",
    "KeyAttributesModel",
    "KeyParams",
    "LoginRequest",
    "LoginResponse",
    "MarkChange",
    "MarkHex",
    "Md5Hex",
    "ModelName",
    "OpenUpload",
    "PartDone",
    "PartInfo",
    "PartUrl",
    "PresignedPut",
    "Problem",
    "ReplicaState",
    "ReplicationHealth",
    "RestoredFile",
    "SignupRequest",
    "ThumbnailBundle",
    "ThumbnailItem",
    "Transfers",
    "TrashDeleted",
    "TrashEntry",
    "TrashFiles",
    "TrashItem",
    "TrashPage",
    "UploadCreate",
    "UploadId",
    "UploadSession",
    "Usage",
    "VerifiedFile",
]


_Model = WireModel


class Problem(_Model):
    code: str
    message: str
    details: dict[str, object] = Field(default_factory=dict)


class Health(_Model):
    status: str
    version: str
    time: float  # server clock, seconds since the epoch
    # never add a field: clients before 0.3 refuse unknown ones (extra="forbid"); see Transfers


class KeyParams(_Model):
    kek_salt: B64
    ops_limit: int
    mem_limit: int


class KeyAttributesModel(_Model):
    kek_salt: B64Key
    ops_limit: Int64
    mem_limit: Int64
    master_key_wrapped: B64Key
    master_key_wrapped_recovery: B64Key
    recovery_key_wrapped: B64Key


class SignupRequest(_Model):
    email: str = Field(min_length=3, max_length=320)
    login_key: B64Key
    key_attributes: KeyAttributesModel


class LoginRequest(_Model):
    email: str = Field(min_length=1, max_length=320)
    login_key: B64Key


class LoginResponse(_Model):
    token: str
    user_id: int
    key_attributes: KeyAttributesModel


class CollectionCreate(_Model):
    """Create an album (``POST /collections``).

    ``idempotency_key`` (optional, chosen by the client: 16 to 64 characters of
    ``[A-Za-z0-9_-]``, so a UUID, with or without dashes, or 32 random hex digits) makes the
    request safe to retry: the server keeps it with the album (unique per user), and a later
    request of the same user with the same key creates nothing and answers that album as it is
    now (same id; 201, as the first answer; ``is_deleted`` if it was deleted since). The same
    key with a different body (``encrypted_key`` or ``encrypted_name``) is a 409 ``conflict``
    with ``details.reason == "idempotency_key_reused"``. Keys of different users are
    independent. Without a key every request creates an album.
    """

    encrypted_key: B64Key  # collection key wrapped by the master key
    encrypted_name: B64Name  # secretbox(collection key, name)
    idempotency_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{16,64}$")


class CollectionRename(_Model):
    encrypted_name: B64Name


class Collection(_Model):
    id: int
    encrypted_key: B64
    encrypted_name: B64
    version: int
    is_deleted: bool = False


class UploadCreate(_Model):
    """Open a resumable upload session (``POST /uploads``).

    ``idempotency_key`` (optional, chosen by the client; the format of
    :attr:`CollectionCreate.idempotency_key`) makes the request safe to retry: the server keeps
    it with the session (unique per user), and a later request of the same user with the same
    key opens nothing (nor counts its size against the quota again) and answers that session as
    it is now (same id and parts; 201, as the first answer; ``state`` may be ``committed``). The
    same key with a different ``size`` or ``part_size`` is a 409 ``conflict`` with
    ``details.reason == "idempotency_key_reused"``. Once the session is gone (aborted, or
    expired) the key opens a new one. Keys of different users are independent. Without a key
    every request opens a session.
    """

    size: int = Field(gt=0, le=MAX_INT)  # exact ciphertext size
    part_size: int = Field(ge=MIN_PART_SIZE, le=MAX_PART_SIZE)
    idempotency_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{16,64}$")


class PartInfo(_Model):
    number: int
    size: int
    sha256: str


class UploadSession(_Model):
    id: str
    size: int
    part_size: int
    part_count: int
    parts: list[PartInfo]  # the parts the server has, by number
    state: str  # "open" | "committed"
    expires_at: float
    # direct transfers only (``GET /health/transfers``): URLs of the first parts not yet
    # recorded (at most ``MAX_PART_URLS``); more with ``GET /uploads/{id}/urls``
    part_urls: list[PartUrl] | None = None


class FileCommit(_Model):
    """Commit an uploaded content blob as a file in a collection.

    The thumbnail, if any, comes EITHER inline as ``thumbnail`` (the encrypted thumbnail bytes,
    at most ``MAX_THUMBNAIL_BYTES`` decoded; preferred: it saves opening and filling an upload
    session) OR, for older clients, as ``thumbnail_upload_id`` (a completed upload session);
    both at once is a 400 ``bad_request``. Either way it counts in ``thumbnail_size`` and usage.
    """

    collection_id: Int64
    content_upload_id: UploadId
    thumbnail_upload_id: UploadId | None = None  # compatibility; prefer ``thumbnail``
    thumbnail: B64Thumbnail | None = None  # encrypted thumbnail bytes, inline
    encrypted_key: B64Key  # file key wrapped by the collection key
    encrypted_metadata: B64Metadata  # secretbox(file key, metadata JSON)


class FileRecord(_Model):
    id: int
    content_size: int
    thumbnail_size: int
    encrypted_metadata: B64
    created_at: float
    is_trashed: bool = False


class AddToCollection(_Model):
    file_id: Int64
    encrypted_key: B64Key  # file key wrapped by the target collection's key


class AddManyToCollection(_Model):
    items: list[AddToCollection] = Field(min_length=1, max_length=MAX_BUNDLE_FILES)


class FileIds(_Model):
    """Some of the caller's files (distinct ids; the same id twice is a 400)."""

    file_ids: list[Int64] = Field(min_length=1, max_length=MAX_BUNDLE_FILES)


class TrashFiles(FileIds):
    """``POST /files/trash``: the files to move to the trash."""


class Entry(_Model):
    collection_id: int
    file_id: int
    encrypted_key: B64
    version: int
    is_deleted: bool = False
    file: FileRecord | None = None  # omitted for tombstones


class DeletionMarks(_Model):
    """``POST /marks`` and ``POST /marks/remove``: 1 to ``MAX_MARKS`` deletion marks."""

    marks: list[MarkHex] = Field(min_length=1, max_length=MAX_MARKS)


class EmbeddingItem(_Model):
    file_id: Int64
    data: B64Embedding  # secretbox(file key, encoded embedding): opaque to the server


class EmbeddingPut(_Model):
    """``PUT /embeddings``: store (replace) embeddings of one model for some of the caller's
    files (distinct ids)."""

    model: ModelName
    items: list[EmbeddingItem] = Field(min_length=1, max_length=MAX_BUNDLE_FILES)


class EmbeddingQuery(_Model):
    """``POST /embeddings/query``: which of these files have an embedding of ``model``."""

    model: ModelName
    file_ids: list[Int64] = Field(min_length=1, max_length=MAX_EMBEDDING_QUERY)


class EmbeddingList(_Model):
    items: list[EmbeddingItem]  # by file id; a file without one is absent


class MarkChange(_Model):
    """A deletion mark added (``is_deleted`` false) or removed (true) at ``version``."""

    mark: str
    is_deleted: bool
    version: int


class Diff(_Model):
    collections: list[Collection]
    entries: list[Entry]
    marks: list[MarkChange] = Field(default_factory=list)  # always sent by the server
    latest_version: int
    has_more: bool


class Usage(_Model):
    files: int
    stored_bytes: int  # each unique file once (content + thumbnail), however many albums
    trash_bytes: int
    quota_bytes: int
    logical_bytes: int = 0  # summed over album entries: what dedup saves is the difference


class BundleItem(_Model):
    """One small file of a bundle: its content is the next ``size`` bytes after the header."""

    upload_id: ClientUploadId  # chosen by the client; makes the item idempotent
    collection_id: Int64
    size: int = Field(gt=0, le=MAX_PART_SIZE)  # encrypted content bytes
    blake3: HashHex  # BLAKE3 of those bytes (a transfer check; 6x cheaper than SHA-256 here)
    encrypted_key: B64Key  # file key wrapped by the collection key
    encrypted_metadata: B64Metadata  # secretbox(file key, metadata JSON)


class Bundle(_Model):
    items: list[BundleItem] = Field(min_length=1, max_length=MAX_BUNDLE_FILES)


class ThumbnailItem(_Model):
    """The encrypted thumbnail of a committed file: the next ``size`` bytes after the header."""

    file_id: Int64
    size: int = Field(gt=0, le=MAX_THUMBNAIL_BYTES)
    blake3: HashHex  # BLAKE3 of those bytes


class ThumbnailBundle(_Model):
    items: list[ThumbnailItem] = Field(min_length=1, max_length=MAX_BUNDLE_FILES)


class BundleResult(_Model):
    files: list[FileRecord]  # one per item, in order


class TrashEntry(_Model):
    """An album entry the trash removed: the file key wrapped by that album's key."""

    collection_id: int
    encrypted_key: B64
    # the album's own key wrapped by the master key: the file key can be unwrapped even when
    # the album was deleted since (its entries' keys stay valid)
    collection_key: B64


class TrashItem(_Model):
    """A file in the trash (``GET /trash``). ``entries`` may be empty or name albums deleted
    since: a client without one of those albums' keys cannot decrypt the metadata."""

    file: FileRecord  # is_trashed
    entries: list[TrashEntry]
    trashed_at: float  # seconds since the epoch
    expires_at: float  # when the server deletes it for good


class TrashPage(_Model):
    items: list[TrashItem]  # by file id
    has_more: bool  # ask again with ``after`` = the last item's file id


class RestoredFile(_Model):
    """A file back from the trash and the albums it is back in (possibly none)."""

    file: FileRecord
    collection_ids: list[int]


class TrashDeleted(_Model):
    """What ``POST /trash/delete`` or ``/trash/empty`` deleted for good."""

    deleted: int  # files
    bytes: int  # content + thumbnail bytes that no longer count against the quota


class VerifiedFile(_Model):
    """``POST /files/verify``: a file's content size as committed, and the size of its content
    object in the blob store now (``None``: the object is missing)."""

    id: int
    content_size: int
    object_size: int | None
    trashed: bool = False


class AuthSession(_Model):
    """One login of the account (``GET /auth/sessions``). ``id`` names it for
    ``DELETE /auth/sessions/{id}`` and is not the token. ``last_used_at`` is updated at most
    once an hour; ``expires_at`` is when the token stops working if unused until then
    (``None``: the server never expires idle tokens). ``current``: the token of this request."""

    id: int
    created_at: float
    last_used_at: float
    expires_at: float | None
    current: bool


class AuthSessions(_Model):
    """``GET /auth/sessions``: the account's live logins, oldest first."""

    sessions: list[AuthSession]
    token_idle_days: float  # a token unused this long stops working (0: never)


class OpenUpload(_Model):
    """One of the caller's open upload sessions (``GET /uploads`` lists them, oldest first):
    sessions not committed, aborted or expired, each still counting ``size`` bytes towards the
    quota. ``parts`` and ``bytes`` are what it has received so far; ``idempotency_key`` is the
    one it was opened with (``None`` without), so a client can tell its own sessions (it
    chooses its keys) from another device's. At ``expires_at`` the session is gone (it stops
    counting at once; the server deletes it and its parts later)."""

    id: str
    created: float  # Unix seconds
    expires_at: float
    size: int
    parts: int
    bytes: int
    idempotency_key: str | None = None
