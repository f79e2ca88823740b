"""The metadata database's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

This is the *latest* schema. Migrations in :mod:`.migrations` bring an existing database to it;
a change here needs a new migration there. Every change to a user's collections, album entries
or deletion marks carries a ``version`` taken from ``users.version`` (the user's change
counter), which diff sync pages by. File embeddings are not synced that way: a client asks for
them by file id.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    false,
    text,
)

__all__ = [
    "collection_files",
    "collections",
    "deletion_marks",
    "file_embeddings",
    "files",
    "job_leases",
    "metadata",
    "object_copies",
    "schema_version",
    "server_secrets",
    "tokens",
    "upload_parts",
    "uploads",
    "users",
]

metadata = MetaData()

# Integer primary keys: SQLite makes them rowid aliases; PostgreSQL an identity column.
_Id = BigInteger().with_variant(Integer(), "sqlite")


def _idempotency_index(name: str) -> Index:
    """A partial unique index on ``(owner_id, idempotency_key)`` of the rows that have a key:
    one row per key and user, whatever the races (the store re-reads on its violation)."""
    where = text("idempotency_key IS NOT NULL")
    return Index(
        name,
        "owner_id",
        "idempotency_key",
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", Float, nullable=False),
)

server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("kek_salt", LargeBinary, nullable=False),
    Column("ops_limit", BigInteger, nullable=False),
    Column("mem_limit", BigInteger, nullable=False),
    Column("master_key_wrapped", LargeBinary, nullable=False),
    Column("master_key_wrapped_recovery", LargeBinary, nullable=False),
    Column("recovery_key_wrapped", LargeBinary, nullable=False),
    Column("login_hash", String(256), nullable=False),
    Column("quota_bytes", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", _Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    # When the token last authenticated a request, updated at most once an hour (a token unused
    # for the server's ``token_idle_days`` stops working); migration 8 set old rows to its time.
    Column("last_used_at", Float, nullable=True),
    Index("ix_tokens_user", "user_id"),
)

collections = Table(
    "collections",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("owner_id", _Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("encrypted_key", LargeBinary, nullable=False),
    Column("encrypted_name", LargeBinary, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("is_deleted", Boolean, nullable=False, default=False),
    # The client's idempotency key of the creating request (``CollectionCreate``) and the
    # SHA-256 of that request's body, so a repeat with another body is told apart (migration 7).
    Column("idempotency_key", String(64), nullable=True),
    Column("idempotency_digest", String(64), nullable=True),
    Index("ix_collections_owner_version", "owner_id", "version"),
    _idempotency_index("ix_collections_owner_idempotency"),
)

files = Table(
    "files",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("owner_id", _Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("content_object", String(64), nullable=False),
    Column("content_size", BigInteger, nullable=False),
    Column("thumbnail_object", String(64), nullable=True),
    Column("thumbnail_size", BigInteger, nullable=False, default=0),
    Column("encrypted_metadata", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("trashed_at", Float, nullable=True),
    Column("is_deleted", Boolean, nullable=False, default=False),
    Index("ix_files_owner", "owner_id"),
    # covering index: the quota check and usage sum sizes from the index alone, not the table
    # (whose rows carry the encrypted metadata), at every upload session that opens
    Index(
        "ix_files_owner_usage",
        "owner_id",
        "is_deleted",
        "trashed_at",
        "content_size",
        "thumbnail_size",
    ),
    # the expiry sweep's range across users (deleting a file for good clears trashed_at, so
    # only the trash is in the range)
    Index("ix_files_trashed_at", "trashed_at"),
    # the blob sweeper asks which object keys rows still name (migration 9)
    Index("ix_files_content_object", "content_object"),
    Index("ix_files_thumbnail_object", "thumbnail_object"),
)

collection_files = Table(
    "collection_files",
    metadata,
    Column(
        "collection_id",
        _Id,
        ForeignKey("collections.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column(
        "file_id",
        _Id,
        ForeignKey("files.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    # The collection's owner, repeated here so diff can page a user's entries by version.
    Column("owner_id", _Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("encrypted_key", LargeBinary, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("is_deleted", Boolean, nullable=False, default=False),
    # True on a tombstone the trash made (the file's trashing removed this entry): a restore
    # revives exactly these. Cleared whenever the entry is revived.
    Column("trashed", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_collection_files_owner_version", "owner_id", "version"),
    # A file's entries in every album (trash, thumbnails): the primary key leads by album.
    Index("ix_collection_files_file", "file_id"),
)

# "Deleted from the backup stays deleted": opaque marks (the client's keyed hash of a content
# hash, 64 hex digits) of content a user deleted, so no device uploads it again. Removing a mark
# leaves a tombstone (``is_deleted``) for diff sync, as album entries do.
deletion_marks = Table(
    "deletion_marks",
    metadata,
    Column(
        "owner_id",
        _Id,
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("mark", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("is_deleted", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),  # when last added (a revival renews it)
    Index("ix_deletion_marks_owner_version", "owner_id", "version"),
)

# Similar-photo search: a client's embedding of a file's photo under a model name (the client's
# name for the model and its version), sealed with the file's key, so opaque here. One per file
# and model, replaced by a new put; deleting the file for good deletes them. The primary key
# leads with the file (every lookup is by file ids and a model); ``owner_id`` is repeated so a
# query checks ownership without joining ``files``.
file_embeddings = Table(
    "file_embeddings",
    metadata,
    Column(
        "file_id",
        _Id,
        ForeignKey("files.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("model", String(64), primary_key=True),
    Column("owner_id", _Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("updated_at", Float, nullable=False),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", _Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("part_size", BigInteger, nullable=False),
    Column("part_count", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # "open" | "committed"
    Column("object_key", String(64), nullable=False),
    Column("file_id", _Id, ForeignKey("files.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    # The client's idempotency key of the opening request (``UploadCreate``; migration 7).
    Column("idempotency_key", String(64), nullable=True),
    # The S3 multipart upload's ``UploadId`` of a multi-part session in S3 mode (migration 10),
    # kept so a session survives a client that was killed; NULL elsewhere.
    Column("store_upload_id", String(256), nullable=True),
    Index("ix_uploads_owner_state", "owner_id", "state"),
    Index("ix_uploads_state_expires", "state", "expires_at"),
    _idempotency_index("ix_uploads_owner_idempotency"),
    Index("ix_uploads_object_key", "object_key"),  # the blob sweeper's look-ups (migration 9)
)

upload_parts = Table(
    "upload_parts",
    metadata,
    Column(
        "upload_id",
        String(32),
        ForeignKey("uploads.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("put_count", Integer, nullable=False, default=0),
    # The part's ETag as the S3 store listed it when the part was confirmed (migration 10): the
    # ETags Complete is given; NULL for parts written through the server.
    Column("etag", String(64), nullable=True),
)

# Replication: one row per (object, replica store) still to copy or copied (migration 10).
# ``state`` is "pending" | "copying" | "done". A worker claims rows: "copying", ``lease_until``
# and ``worker`` set, ``attempts`` counted; a lease that runs out makes the row claimable again.
# A failure puts it back to "pending" with ``next_attempt_at`` backed off. ``object_key`` names
# a blob but does not keep it alive (``store.sweep.NON_REFERENCE_KEY_COLUMNS``).
object_copies = Table(
    "object_copies",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("object_key", String(64), nullable=False),
    Column("store", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("size", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_until", Float, nullable=True),
    Column("worker", String(64), nullable=True),
    Column("last_error", String(512), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("copied_at", Float, nullable=True),
    UniqueConstraint("object_key", "store", name="uq_object_copies_key_store"),
    Index("ix_object_copies_claim", "store", "state", "next_attempt_at"),
)

# Background jobs that one replica at a time runs (the sweeper, trash expiry, a backfill): the
# row's holder runs the job until ``expires_at`` (a time.time()), renewing as it goes
# (migration 10; ``store.leases.LeaseStore``).
job_leases = Table(
    "job_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),
)
