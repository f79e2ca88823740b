"""A small versioned migration runner, applied at server start.

``schema_version`` records each applied migration. A migration is a function of a
:class:`~sqlalchemy.Connection` written with SQLAlchemy constructs (no dialect-specific SQL), so
it runs on SQLite and PostgreSQL alike. All pending migrations run in one transaction; on
PostgreSQL an advisory lock keeps two replicas starting at once from racing.

Rule for later changes: never edit a released migration; append a new one (``ALTER TABLE`` via
``sqlalchemy`` constructs, or ``op``-free DDL that both databases accept) and update
:mod:`.schema` to the resulting shape.

The one exception to "no dialect-specific SQL" is migration 11: PostgreSQL triggers that
``pg_notify`` the channel :data:`CHANGES_CHANNEL` when a user's change counter moves or one of
their tokens is revoked or deleted (payload: the user id), so every replica's change feed hears
of another replica's commit at once (:mod:`.notify`). It is guarded by the dialect: SQLite has
no NOTIFY and no other process to tell, and records migration 11 as applied without a change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Connection, Engine, func, insert, inspect, select, text, update
from sqlalchemy.schema import CreateColumn

from photoark.server.store import schema

__all__ = ["CHANGES_CHANNEL", "MIGRATIONS", "current_version", "migrate"]

Migration = Callable[[Connection], None]

_ADVISORY_LOCK_ID = 0x70686F746F61726B  # "photoark"

CHANGES_CHANNEL = "photoark_changes"  # migration 11's NOTIFY channel; the payload is a user id


def _v1_initial(conn: Connection) -> None:
    """Every table of the first release."""
    schema.metadata.create_all(
        conn,
        tables=[
            schema.server_secrets,
            schema.users,
            schema.tokens,
            schema.collections,
            schema.files,
            schema.collection_files,
            schema.uploads,
            schema.upload_parts,
        ],
    )


def _v2_usage_index(conn: Connection) -> None:
    """A covering index for the per-upload quota sum (it was a scan of the files table)."""
    index = next(i for i in schema.files.indexes if i.name == "ix_files_owner_usage")
    index.create(conn, checkfirst=True)


def _v3_trash(conn: Connection) -> None:
    """``collection_files.trashed`` (the tombstones a trash made, for restore) and an index of
    a file's entries. A fresh database has both already (:func:`_v1_initial` creates the latest
    tables), hence the checks."""
    columns = {c["name"] for c in inspect(conn).get_columns("collection_files")}
    if "trashed" not in columns:
        column = schema.collection_files.c.trashed
        ddl = CreateColumn(column).compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE collection_files ADD COLUMN {ddl}"))
    index = next(i for i in schema.collection_files.indexes if i.name == "ix_collection_files_file")
    index.create(conn, checkfirst=True)


def _v4_trash_expiry(conn: Connection) -> None:
    """An index on ``files.trashed_at`` for the expiry sweep (a range across all users)."""
    index = next(i for i in schema.files.indexes if i.name == "ix_files_trashed_at")
    index.create(conn, checkfirst=True)


def _v5_deletion_marks(conn: Connection) -> None:
    """The ``deletion_marks`` table and its ``(owner_id, version)`` index (diff sync)."""
    schema.metadata.create_all(conn, tables=[schema.deletion_marks], checkfirst=True)


def _v6_embeddings(conn: Connection) -> None:
    """The ``file_embeddings`` table (similar-photo search)."""
    schema.metadata.create_all(conn, tables=[schema.file_embeddings], checkfirst=True)


def _v7_idempotency_keys(conn: Connection) -> None:
    """The client's idempotency keys of album creation and upload sessions: the nullable
    columns ``collections.idempotency_key``, ``collections.idempotency_digest`` and
    ``uploads.idempotency_key`` (existing rows have none), each table with its partial unique
    index on ``(owner_id, idempotency_key)``. A fresh database has them already (hence the
    checks)."""
    wanted = [
        (schema.collections, ("idempotency_key", "idempotency_digest")),
        (schema.uploads, ("idempotency_key",)),
    ]
    for table, names in wanted:
        present = {c["name"] for c in inspect(conn).get_columns(table.name)}
        for name in names:
            if name not in present:
                _add_column(conn, table.name, table.c[name])
        for index in table.indexes:
            if index.name and index.name.endswith("_idempotency"):
                index.create(conn, checkfirst=True)


def _v8_token_last_use(conn: Connection) -> None:
    """``tokens.last_used_at`` (idle tokens expire; ``GET /auth/sessions`` shows it). Tokens
    made before have no record of their use: their clock starts now, so an upgrade never
    logs a device out. A fresh database has the column already (hence the check)."""
    present = {c["name"] for c in inspect(conn).get_columns("tokens")}
    if "last_used_at" not in present:
        _add_column(conn, "tokens", schema.tokens.c.last_used_at)
    conn.execute(
        update(schema.tokens)
        .where(schema.tokens.c.last_used_at.is_(None))
        .values(last_used_at=time.time())
    )


def _v9_blob_key_indexes(conn: Connection) -> None:
    """Indexes on the columns naming blobs (``files.content_object``,
    ``files.thumbnail_object``, ``uploads.object_key``): the blob sweeper asks which keys rows
    still name, a batch at a time. A fresh database has them already (hence the checks)."""
    wanted = {"ix_files_content_object", "ix_files_thumbnail_object", "ix_uploads_object_key"}
    for table in (schema.files, schema.uploads):
        for index in table.indexes:
            if index.name in wanted:
                index.create(conn, checkfirst=True)


def _v10_replication(conn: Connection) -> None:
    """S3 mode and replication: ``uploads.store_upload_id`` (an S3 multipart upload's id),
    ``upload_parts.etag`` (a confirmed part's ETag), and the tables ``object_copies`` (copies
    to replica stores to make) and ``job_leases`` (one replica at a time runs a job). A fresh
    database has the columns already (hence the checks)."""
    for table, name in ((schema.uploads, "store_upload_id"), (schema.upload_parts, "etag")):
        present = {c["name"] for c in inspect(conn).get_columns(table.name)}
        if name not in present:
            _add_column(conn, table.name, table.c[name])
    schema.metadata.create_all(
        conn, tables=[schema.object_copies, schema.job_leases], checkfirst=True
    )


# Migration 11 (PostgreSQL only). NOTIFY is sent at commit, never after a rollback, and identical
# (channel, payload) pairs of one transaction are folded into one: a request that bumps a
# counter several times tells listeners once.
_V11_NOTIFY = (
    f"""
    CREATE OR REPLACE FUNCTION photoark_notify_user() RETURNS trigger AS $$
    BEGIN
        PERFORM pg_notify('{CHANGES_CHANNEL}', NEW.id::text);
        RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    f"""
    CREATE OR REPLACE FUNCTION photoark_notify_token_user() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            PERFORM pg_notify('{CHANGES_CHANNEL}', OLD.user_id::text);
        ELSE
            PERFORM pg_notify('{CHANGES_CHANNEL}', NEW.user_id::text);
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS users_version_notify ON users",
    """
    CREATE TRIGGER users_version_notify AFTER UPDATE OF version ON users FOR EACH ROW
    WHEN (OLD.version IS DISTINCT FROM NEW.version) EXECUTE FUNCTION photoark_notify_user()
    """,
    "DROP TRIGGER IF EXISTS tokens_revoked_notify ON tokens",
    """
    CREATE TRIGGER tokens_revoked_notify AFTER UPDATE OF revoked_at ON tokens FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION photoark_notify_token_user()
    """,
    "DROP TRIGGER IF EXISTS tokens_deleted_notify ON tokens",
    """
    CREATE TRIGGER tokens_deleted_notify AFTER DELETE ON tokens FOR EACH ROW
    EXECUTE FUNCTION photoark_notify_token_user()
    """,
)


def _v11_change_notify(conn: Connection) -> None:
    """PostgreSQL: triggers that NOTIFY :data:`CHANGES_CHANNEL` with the user id when
    ``users.version`` changes, or a token is revoked (``tokens.revoked_at`` set) or deleted: a
    stream on another replica then moves, or ends, at once instead of at its feed's next poll.
    SQLite: nothing (see the module doc)."""
    if conn.dialect.name != "postgresql":
        return
    for statement in _V11_NOTIFY:
        conn.execute(text(statement))


def _add_column(conn: Connection, table_name: str, column: Column[Any]) -> None:
    """``ALTER TABLE ... ADD COLUMN`` as the latest schema declares it (both databases)."""
    ddl = CreateColumn(column).compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE {table_name} ADD COLUMN {ddl}"))


MIGRATIONS: list[tuple[int, Migration]] = [
    (1, _v1_initial),
    (2, _v2_usage_index),
    (3, _v3_trash),
    (4, _v4_trash_expiry),
    (5, _v5_deletion_marks),
    (6, _v6_embeddings),
    (7, _v7_idempotency_keys),
    (8, _v8_token_last_use),
    (9, _v9_blob_key_indexes),
    (10, _v10_replication),
    (11, _v11_change_notify),
]


def current_version(conn: Connection) -> int:
    """The highest applied migration (0 for a fresh database)."""
    version = conn.execute(select(func.max(schema.schema_version.c.version))).scalar()
    return int(version or 0)


def migrate(engine: Engine) -> int:
    """Apply every pending migration; return the resulting schema version. Idempotent."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
        schema.schema_version.create(conn, checkfirst=True)
        applied = current_version(conn)
        for version, migration in MIGRATIONS:
            if version <= applied:
                continue
            migration(conn)
            conn.execute(
                insert(schema.schema_version).values(version=version, applied_at=time.time())
            )
            applied = version
        return applied
