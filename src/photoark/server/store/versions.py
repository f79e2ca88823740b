"""The per-user change counter that diff sync pages by.

Each changed collection or album entry takes the NEXT value of ``users.version``, incremented in
the changing transaction with ``UPDATE ... RETURNING``: the row lock serialises concurrent
changes of one user on PostgreSQL (``BEGIN IMMEDIATE`` does it on SQLite), so each value is used
once and values commit in order.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from photoark.server.errors import NotFound
from photoark.server.store.schema import users

__all__ = ["current_version", "lock_user", "next_version", "next_versions"]


def next_version(conn: Connection, user_id: int) -> int:
    """Increment the user's counter inside the caller's transaction and return the new value."""
    value = conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(version=users.c.version + 1)
        .returning(users.c.version)
    ).scalar_one_or_none()
    if value is None:
        raise NotFound("no such user")
    return int(value)


def next_versions(conn: Connection, user_id: int, count: int) -> range:
    """``count`` consecutive next values of the user's counter, in one statement."""
    if count <= 0:
        return range(0)
    value = conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(version=users.c.version + count)
        .returning(users.c.version)
    ).scalar_one_or_none()
    if value is None:
        raise NotFound("no such user")
    return range(int(value) - count + 1, int(value) + 1)


def current_version(conn: Connection, user_id: int) -> int:
    """The user's counter as committed now (the newest version any of their rows can carry)."""
    return int(conn.execute(select(users.c.version).where(users.c.id == user_id)).scalar_one())


def lock_user(conn: Connection, user_id: int) -> None:
    """Serialise this transaction with the user's other changes (read-then-write rules)."""
    conn.execute(select(users.c.id).where(users.c.id == user_id).with_for_update())
