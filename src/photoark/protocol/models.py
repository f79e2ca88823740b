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
POST     /collections                         CollectionCreate            Collection (201; with an
                                                                          idempotency_key, a
                                                                          repeat answers the
                                                                          same album, 201)
PATCH    /collections/{id}                    CollectionRename            Collection
DELETE   /collections/{id}                    -                           204 (idempotent; its
                                                                          entries become
                                                                          tombstones)
POST     /collections/{id}/files              AddToCollection             Entry (201; idempotent)
POST     /collections/{id}/files/batch        AddManyToCollection         list[Entry] (201; all
                                                                          or none)
DELETE   /collections/{id}/files/{file_id}    -                           204 (leaves a tombstone)
POST     /uploads                             UploadCreate                UploadSession (201;
                                                                          with an
                                                                          idempotency_key, a
                                                                          repeat answers the
                                                                          same session, 201)
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
POST     /files/verify                        FileIds                     list[VerifiedFile] (in
                                                                          order; read-only)
GET      /files/{id}                          -                           FileRecord (a trashed
                                                                          one too: is_trashed)
GET      /files/{id}/content                  - (Range supported)         raw bytes
GET      /files/{id}/thumbnail                - (Range supported)         raw bytes
GET      /trash?after=ID&limit=N              -                           TrashPage
POST     /trash/restore                       FileIds                     list[RestoredFile] (all
                                                                          or none)
POST     /trash/delete                        FileIds                     TrashDeleted (all or
                                                                          none; idempotent)
POST     /trash/empty                         -                           TrashDeleted
POST     /marks                               DeletionMarks               204 (idempotent)
POST     /marks/remove                        DeletionMarks               204 (idempotent)
PUT      /embeddings                          EmbeddingPut                204 (all or none;
                                                                          replaces)
POST     /embeddings/query                    EmbeddingQuery              EmbeddingList (those
                                                                          stored, by file id)
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

Diff sync: every change to a user's collections, album entries or deletion marks takes the next
value of the user's change counter (one value per changed row, never shared). ``GET
/diff?since=V`` returns the collections, entries and marks changed after ``V``, at most
``limit`` items of the three kinds together (each list oldest first; merged by ``version`` they
are the ``limit`` oldest changes); removed entries and marks come as tombstones
(``is_deleted``), a deleted album as a collection with ``is_deleted``. A row changed twice
shows once, at its newest version. Keep calling with ``since = latest_version`` while
``has_more``.

Album delete: ``DELETE /collections/{id}`` deletes one of the caller's albums: every live entry
of it becomes a tombstone with a new version, then the collection itself takes the next version
with ``is_deleted`` (so in the diff an album's removal comes after its entries'). No file is
trashed or deleted and usage does not change: a client first moves photos that would be left in
no album elsewhere, or trashes them. Deleting a deleted album of the caller's is a 204 and
changes nothing (a retry after a lost answer succeeds); an unknown album, or another user's, is
a 404 ``not_found``. A deleted album cannot be renamed, listed or added to (commits, bundles,
adds by reference: 404 ``not_found``, as a missing album).

Deletion marks ("deleted from the backup stays deleted"): a mark is an opaque 64-digit
lowercase hex string (the client's keyed hash of a content hash; the server learns nothing
from it). ``POST /marks`` adds up to ``MAX_MARKS`` of them: each new mark, or one removed
before, takes a new version; a mark already there is left alone (no new version), and a mark
twice in one request counts once, so the call is idempotent. ``POST /marks/remove`` makes
tombstones of those present (each a new version) and ignores the others (idempotent too). A
mark that is not exactly 64 lowercase hex digits, no mark, or more than ``MAX_MARKS`` is a 400
``bad_request`` for the whole request. Every device learns the marks through ``Diff.marks``:
a :class:`MarkChange` with ``is_deleted`` false means "skip this content", true "no longer".

Embeddings (similar-photo search, computed on a client from the photo): ``PUT /embeddings``
stores up to ``MAX_BUNDLE_FILES`` of them for the caller's files under a model name (the
client's name for the model and its version, e.g. ``efficientnet-lite0-r4-v1``), each opaque to
the server (``data``: the embedding sealed with the file's key, at most
``MAX_EMBEDDING_BYTES``). It replaces what that model had for a file, so a retry is harmless.
All or none: an id that is not one of the caller's files (unknown, another user's, or deleted
for good) is a 404 ``not_found`` with ``details.file_ids``; an id twice is a 400. A trashed
file may have one (it is kept through the trash, so a restored photo needs no new one).
``POST /embeddings/query`` answers, for up to ``MAX_EMBEDDING_QUERY`` ids and one model, the
embeddings stored for those of the ids that are the caller's files (others are simply absent:
nothing is told about other users' ids), by file id. Deleting a file for good deletes its
embeddings. They do not count in usage (a few KiB per photo).

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

``GET /trash?after=ID&limit=N`` pages through the caller's trash by file id (``after`` the last
id of the previous page, ``limit`` at most ``MAX_TRASH_PAGE``; go on while ``has_more``). Each
:class:`TrashItem` carries the file record (its encrypted metadata), the album entries the trash
removed (``entries``: the album and the file key wrapped by that album's key, so the client can
unwrap the key and decrypt the metadata), and when the file was trashed and will be deleted for
good (``expires_at``: the server deletes it then by itself). An entry may belong to an album
deleted since, and a file trashed while it was in no album has no entry: a client without such an
album's key cannot decrypt that item's metadata (it can still restore or delete it).

``POST /trash/restore`` takes up to ``MAX_BUNDLE_FILES`` ids, all or none: an id that is not the
caller's file (unknown, another user's, or deleted for good) is a 404 ``not_found`` with
``details.file_ids`` naming them, a file not in the trash a 409 ``conflict`` with
``details.reason == "not_in_trash"`` and ``details.file_ids`` (so a retry after a lost answer
is told which are back already); an id twice is a 400. It puts each file back in exactly the
albums the trash took it out of (those entries come back with new versions: diff sync shows
them), except albums deleted since; :class:`RestoredFile` says which (``collection_ids`` may be
empty: the client then adds the file to an album itself).

``POST /trash/delete`` deletes trashed files for good, all or none (404 and 409
``not_in_trash`` as for a restore: a live file is never deleted this way); a file already deleted
for good counts as done (a retry after a lost answer succeeds), so the call is idempotent.
``POST /trash/empty`` deletes every file in the caller's trash. Both answer
:class:`TrashDeleted`: how many files this call deleted and the bytes (content + thumbnail) that
no longer count against the quota. A deleted file's bytes leave the server; its album tombstones
stay (diff sync needs them) and ``GET /files/{id}`` answers 404.

``POST /files/verify`` asks, for up to ``MAX_BUNDLE_FILES`` of the caller's files (404 for the
whole request if one is not the caller's file, ``details.file_ids`` listing which), how large the
content object is in the server's blob store right now: :class:`VerifiedFile.object_size` is
``None`` when the object is missing. A client frees local space only for a file with
``object_size == content_size`` that is not ``trashed`` (a trashed file is reported, not refused).

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
    "MAX_EMBEDDING_BYTES",
    "MAX_EMBEDDING_QUERY",
    "MAX_MARKS",
    "MAX_TRASH_PAGE",
    "AddManyToCollection",
    "AddToCollection",
    "Bundle",
    "BundleItem",
    "BundleResult",
    "Collection",
    "CollectionCreate",
    "CollectionRename",
    "DeletionMarks",
    "Diff",
    "EmbeddingItem",
    "EmbeddingList",
    "EmbeddingPut",
    "EmbeddingQuery",
    "Entry",
    "FileCommit",
    "FileIds",
    "FileRecord",
    "Health",
    "KeyAttributesModel",
    "KeyParams",
    "LoginRequest",
    "LoginResponse",
    "MarkChange",
    "PartInfo",
    "Problem",
    "RestoredFile",
    "SignupRequest",
    "ThumbnailBundle",
    "ThumbnailItem",
    "TrashDeleted",
    "TrashEntry",
    "TrashFiles",
    "TrashItem",
    "TrashPage",
    "UploadCreate",
    "UploadSession",
    "Usage",
    "VerifiedFile",
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
MAX_TRASH_PAGE = 1000  # GET /trash: items in one page
MAX_MARKS = 1000  # deletion marks in one POST /marks or /marks/remove
MAX_EMBEDDING_BYTES = 16 * 1024  # one sealed embedding (1280 float16 + header + box: ~2.6 KiB)
MAX_EMBEDDING_QUERY = 1000  # file ids in one POST /embeddings/query

B64Key = Annotated[B64, Field(max_length=MAX_KEY_BYTES)]
B64Name = Annotated[B64, Field(max_length=MAX_NAME_BYTES)]
B64Metadata = Annotated[B64, Field(max_length=MAX_METADATA_BYTES)]
B64Thumbnail = Annotated[B64, Field(min_length=1, max_length=MAX_THUMBNAIL_BYTES)]
Int64 = Annotated[int, Field(ge=0, le=MAX_INT)]
UploadId = Annotated[str, Field(min_length=1, max_length=64)]
ClientUploadId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
HashHex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
MarkHex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]  # a deletion mark: 32 bytes, hex
ModelName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$")]  # an embedding model
B64Embedding = Annotated[B64, Field(min_length=1, max_length=MAX_EMBEDDING_BYTES)]


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
