"""The wire contract between client and server: models (:mod:`.models`), framed bundle bodies
(:mod:`.frames`) and error codes (:mod:`.errors`). Imports nothing else of ours.

Binary values travel as standard base64 strings. The endpoints, all JSON unless noted, with
``Authorization: Bearer TOKEN`` except the ``/auth`` ones and ``/health``:

=======  ===================================  ==========================  =======================
method   path                                 body                        answer
=======  ===================================  ==========================  =======================
GET      /health                              -                           Health
GET      /health/transfers                    -                           Transfers (404 before
                                                                          0.3)
GET      /auth/params?email=E                 -                           KeyParams (also for an
                                                                          unknown email: a fake,
                                                                          stable salt)
POST     /auth/signup                         SignupRequest               LoginResponse (201)
POST     /auth/login                          LoginRequest                LoginResponse
POST     /auth/logout                         -                           204 (revokes this token)
POST     /auth/revoke-all                     -                           204 (all tokens of user)
GET      /auth/sessions                       -                           AuthSessions (the
                                                                          account's logins)
DELETE   /auth/sessions/{id}                  -                           204 (revokes that one)
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
GET      /uploads                             -                           list[OpenUpload] (open,
                                                                          unexpired; oldest
                                                                          first)
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
re-sent part overwrites the same bytes). A session not committed by its ``expires_at`` (the
server's upload expiry, a day by default) is gone: it stops counting towards the quota at once,
and ``GET /uploads`` lists the ones still open, so a client can abort those it lost track of.
``GET /uploads/{id}`` tells which parts the server has, so an interrupted upload resumes by
sending only the missing ones. ``POST /files`` completes the content upload, stores the optional
thumbnail, and commits the file into a collection atomically; a repeated commit of the same
upload returns the same file (and stores no second thumbnail). The thumbnail goes inline in the
commit (``FileCommit.thumbnail``, at most ``MAX_THUMBNAIL_BYTES``): a file then takes three
requests (open upload, ``PUT`` its part(s), commit). Naming a separate, completed thumbnail
upload (``thumbnail_upload_id``) still works.

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

Direct transfers (a server whose blobs are in S3: ``GET /health/transfers`` answers
:class:`Transfers` with ``direct`` true; a server before 0.3 answers 404 there, and ``Health`` never
gains a field, since released clients refuse unknown ones). File bytes never pass through the
server: ``PUT /uploads/{id}/parts/{n}``, the framed ``POST /files/bundle`` and ``/files/thumbnails``
and an inline ``FileCommit.thumbnail`` answer 409 ``direct_transfer_required``, and ``GET
/files/{id}/content|thumbnail`` answers 307 to a presigned URL. Instead (each answers 409
``conflict`` with ``details.reason == "direct_transfers_off"`` on a server on its own disk):

- a multi-part session (``POST /uploads``; parts of at least 5 MiB but the last, at most 10,000)
  asked with ``?part_urls=true`` (also ``GET /uploads/{id}``) carries ``UploadSession.part_urls``,
  the URLs of its first missing parts (a client before 0.3 does not ask, parses the answer, and
  meets the part PUT's 409 ``direct_transfer_required``, which says to upgrade; more with ``GET
  /uploads/{id}/urls?first=N&count=C``, ``list[PartUrl]``, also to refresh an expired one). The
  client PUTs part ``n`` there with ``Content-Length`` and ``Content-MD5``, then confirms it with
  ``POST /uploads/{id}/parts/{n}`` (:class:`PartDone`, answer :class:`PartInfo`): recorded only
  when the store lists that part with the expected size and MD5 (else 400 ``checksum_mismatch``,
  ``details.reason`` ``missing``, ``size`` or ``md5``). ``POST /files`` completes the upload and
  checks the object (size, ETag) before it commits;
- small files and thumbnails are staged: ``POST /uploads/direct`` (:class:`DirectStage`, answer
  ``list[DirectUpload]``, 201) opens single-part sessions (idempotent per client id, quota
  admitted once) and presigns a PUT for each (:class:`PresignedPut`: send its headers, a 412
  means "already there"); ``POST /files/bundle/direct`` (:class:`DirectBundle`, 201) and ``POST
  /files/thumbnails/direct`` (:class:`DirectThumbnails`) commit them once HEAD shows each object
  with its size and MD5 (answers as ``/files/bundle`` and ``/files/thumbnails``);
- ``GET /files/{id}/url?kind=content|thumbnail`` (:class:`DownloadUrl`: the first store holding
  the recorded size, a replica if the primary copy is bad; 410 ``object_damaged`` when none) and
  ``POST /files/urls`` (:class:`DownloadUrls`, ``list[DownloadUrl | None]``, no checks) give GET
  URLs that serve ``Range``.

``GET /health/replication`` (no auth) answers :class:`ReplicationHealth`: per replica store
(``--replicate-to``), the copies pending, failing and done, and the age of the oldest pending.
"""

from photoark.protocol.errors import HTTP_STATUS, ErrorCode

__all__ = ["HTTP_STATUS", "ErrorCode"]
