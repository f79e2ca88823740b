"""Wire models of the HTTP API (pydantic), shared by server and client.

Binary values travel as standard base64 strings (type :data:`B64`). Every encrypted field is
opaque to the server. The endpoints, all JSON unless noted, with ``Authorization: Bearer TOKEN``
except the ``/auth`` ones and ``/health``:

=======  ===================================  ==========================  =======================
method   path                                 body                        answer
=======  ===================================  ==========================  =======================
GET      /health                              -                           Health
GET      /auth/params?email=E                 -                           KeyParams (also for an
                                                                          unknown email: a fake,
                                                                          stable salt)
POST     /auth/signup                         SignupRequest               LoginResponse (201)
POST     /auth/login                          LoginRequest                LoginResponse
POST     /auth/logout                         -                           204 (revokes this token)
POST     /auth/revoke-all                     -                           204 (all tokens of user)
GET      /collections                         -                           list[Collection]
POST     /collections                         CollectionCreate            Collection (201)
PATCH    /collections/{id}                    CollectionRename            Collection
POST     /collections/{id}/files              AddToCollection             Entry (201; idempotent)
POST     /collections/{id}/files/batch        AddManyToCollection         list[Entry] (201; all
                                                                          or none)
DELETE   /collections/{id}/files/{file_id}    -                           204 (leaves a tombstone)
POST     /uploads                             UploadCreate                UploadSession (201)
GET      /uploads/{id}                        -                           UploadSession
PUT      /uploads/{id}/parts/{n}              raw bytes, header           PartInfo
                                              X-Content-SHA256 (hex)
DELETE   /uploads/{id}                        -                           204 (abort)
POST     /files                               FileCommit (thumbnail       FileRecord (201;
                                              inline, or an upload id)    idempotent per upload)
POST     /files/bundle                        framed: Bundle + contents   BundleResult (201;
                                              (see protocol.frames)       idempotent per item)
POST     /files/thumbnails                    framed: ThumbnailBundle +   BundleResult
                                              the encrypted thumbnails
POST     /files/trash                         TrashFiles                  list[FileRecord] (all or
                                                                          none; idempotent)
GET      /files/{id}                          -                           FileRecord (a trashed
                                                                          one too: is_trashed)
GET      /files/{id}/content                  - (Range supported)         raw bytes
GET      /files/{id}/thumbnail                - (Range supported)         raw bytes
GET      /diff?since=V&limit=N                -                           Diff
GET      /usage                               -                           Usage
GET      /events                              -                           text/event-stream of
                                                                          ``change`` events
=======  ===================================  ==========================  =======================

Uploads: the client opens a session with the exact ciphertext size and a part size; parts are
numbered from 0, each ``part_size`` bytes except the last. ``PUT`` of a part is idempotent (a
re-sent part overwrites the same bytes). ``GET /uploads/{id}`` tells which parts the server has,
so an interrupted upload resumes by sending only the missing ones. ``POST /files`` completes
the content upload, stores the optional thumbnail, and commits the file into a collection
atomically; a repeated commit of the same upload returns the same file (and stores no second
thumbnail). The thumbnail goes inline in the commit (``FileCommit.thumbnail``, at most
``MAX_THUMBNAIL_BYTES``): a file then takes three requests (open upload, ``PUT`` its part(s),
commit). Naming a separate, completed thumbnail upload (``thumbnail_upload_id``) still works.

Bundles (the fast path for small files): ``POST /files/bundle`` uploads and commits up to
``MAX_BUNDLE_FILES`` one-part files in one request and one transaction. Each item names its own
``upload_id`` (32 hex digits, random, chosen by the client and saved before sending): it becomes
a committed upload, so a bundle re-sent after a lost answer returns the same files, and
``GET /uploads/{id}`` tells a resuming client whether an item made it. ``POST /files/thumbnails``
attaches (or replaces) encrypted thumbnails of committed files, up to ``MAX_BUNDLE_FILES`` at a
time: a backup commits originals first and sends thumbnails after. Both bodies are framed
(:mod:`photoark.protocol.frames`): a JSON header listing each blob's size and BLAKE3, then the
blobs; at most ``MAX_BUNDLE_BYTES``.

Diff sync: every change to a user's collections or album entries takes the next value of the
user's change counter. ``GET /diff?since=V`` returns the collections and entries changed after
``V``, oldest first, at most ``limit`` items; removed entries come as tombstones
(``is_deleted``). Keep calling with ``since = latest_version`` while ``has_more``.

Trash: ``POST /files/trash`` moves up to ``MAX_BUNDLE_FILES`` of the caller's files to the
trash, all or none (an unknown id, or another user's, is a 404 ``not_found`` for the whole
request; an id twice is a 400). A trashed file leaves every album: each of its live entries
becomes a tombstone with a new version, so diff sync shows the removal; the server remembers
which entries the trash removed, so a restore can bring back exactly those. Trashing a trashed
file changes nothing (the call is idempotent). A trashed file still counts against the quota,
as ``Usage.trash_bytes`` instead of ``stored_bytes``; ``GET /files/{id}`` and its downloads
still answer it (``is_trashed``), but it cannot be added to an album (404 ``not_found``, as for
a missing file) until restored; a retried commit or bundle of a file trashed since answers it
(``is_trashed``) and puts it in no album.

Change push: ``GET /events`` is a server-sent-events stream (``text/event-stream``) for the
caller's account. It sends ``event: change`` with ``data: {"version": V}`` (``V`` the user's
change counter, as ``Diff.latest_version``) at once on connect, then each time the counter moves
(from any device, on any server replica; within about a quarter of a second), and a comment
line ``: ping`` after ``EVENTS_HEARTBEAT_SECONDS`` without an event, so a client can tell a dead
link from a quiet one (read timeout a little above it). Several moves may arrive as one event
with the newest value. A client diff-syncs when ``V`` is above its own version. The server ends
the stream when it shuts down; the client reconnects.

Limits: a request body is at most 1 MiB (413 ``too_large``), except a part ``PUT``, which must
be exactly its expected size (at most ``MAX_PART_SIZE``). Within a body, wrapped keys, salts and
login keys are at most ``MAX_KEY_BYTES``, album names ``MAX_NAME_BYTES``, file metadata
``MAX_METADATA_BYTES`` and an inline thumbnail ``MAX_THUMBNAIL_BYTES`` (decoded; a commit with
the largest thumbnail and metadata is ~770 KiB of JSON); ids, sizes and ``since`` are integers
in ``0..MAX_INT``, in paths and queries too. A value outside them is a 400 ``bad_request``.
"""

from __future__ import annotations

import base64
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

__all__ = [
    "B64",
    "EVENTS_HEARTBEAT_SECONDS",
    "MAX_BUNDLE_BYTES",
    "MAX_BUNDLE_FILES",
    "AddManyToCollection",
    "AddToCollection",
    "Bundle",
    "BundleItem",
    "BundleResult",
    "Collection",
    "CollectionCreate",
    "CollectionRename",
    "Diff",
    "Entry",
    "FileCommit",
    "FileRecord",
    "Health",
    "KeyAttributesModel",
    "KeyParams",
    "LoginRequest",
    "LoginResponse",
    "PartInfo",
    "Problem",
    "SignupRequest",
    "ThumbnailBundle",
    "ThumbnailItem",
    "TrashFiles",
    "UploadCreate",
    "UploadSession",
    "Usage",
]


def _b64decode(value: object) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError) as err:
            raise ValueError("invalid base64") from err
    raise ValueError("expected a base64 string")


B64 = Annotated[
    bytes,
    BeforeValidator(_b64decode),
    PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), return_type=str),
]

MAX_PART_SIZE = 64 * 1024 * 1024
MIN_PART_SIZE = 64 * 1024

# Field limits (decoded bytes for B64 fields): larger values are refused with 400 bad_request.
MAX_KEY_BYTES = 1024  # wrapped keys, salts, login keys
MAX_NAME_BYTES = 4 * 1024  # encrypted album names
MAX_METADATA_BYTES = 64 * 1024  # encrypted file metadata
MAX_THUMBNAIL_BYTES = 512 * 1024  # an inline encrypted thumbnail (FileCommit.thumbnail)
MAX_INT = 2**63 - 1  # ids, sizes and counters: a signed 64-bit integer in both databases
MAX_BUNDLE_FILES = 256  # items in one bundle or thumbnail bundle
MAX_BUNDLE_BYTES = 64 * 1024 * 1024  # a framed bundle body, header included
EVENTS_HEARTBEAT_SECONDS = 15.0  # GET /events: longest silence before a ": ping" comment

B64Key = Annotated[B64, Field(max_length=MAX_KEY_BYTES)]
B64Name = Annotated[B64, Field(max_length=MAX_NAME_BYTES)]
B64Metadata = Annotated[B64, Field(max_length=MAX_METADATA_BYTES)]
B64Thumbnail = Annotated[B64, Field(min_length=1, max_length=MAX_THUMBNAIL_BYTES)]
Int64 = Annotated[int, Field(ge=0, le=MAX_INT)]
UploadId = Annotated[str, Field(min_length=1, max_length=64)]
ClientUploadId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
HashHex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Problem(_Model):
    code: str
    message: str
    details: dict[str, object] = Field(default_factory=dict)


class Health(_Model):
    status: str
    version: str
    time: float  # server clock, seconds since the epoch


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
    encrypted_key: B64Key  # collection key wrapped by the master key
    encrypted_name: B64Name  # secretbox(collection key, name)


class CollectionRename(_Model):
    encrypted_name: B64Name


class Collection(_Model):
    id: int
    encrypted_key: B64
    encrypted_name: B64
    version: int
    is_deleted: bool = False


class UploadCreate(_Model):
    size: int = Field(gt=0, le=MAX_INT)  # exact ciphertext size
    part_size: int = Field(ge=MIN_PART_SIZE, le=MAX_PART_SIZE)


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


class TrashFiles(_Model):
    file_ids: list[Int64] = Field(min_length=1, max_length=MAX_BUNDLE_FILES)


class Entry(_Model):
    collection_id: int
    file_id: int
    encrypted_key: B64
    version: int
    is_deleted: bool = False
    file: FileRecord | None = None  # omitted for tombstones


class Diff(_Model):
    collections: list[Collection]
    entries: list[Entry]
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
