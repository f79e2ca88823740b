"""Creating a row at most once per client-chosen idempotency key (album creation, upload
sessions).

A table with keys has the nullable column ``idempotency_key`` and a partial unique index on
``(owner_id, idempotency_key)`` (:mod:`.schema`). :func:`create_once` looks the key up and
creates the row only when it is not there, in one write transaction that locks the owner's row
first: two requests with one key queue there, and the later one finds the first one's row. The
unique index is the guarantee behind that: should a second insert still happen, it fails with
an ``IntegrityError`` and the row that won is read again and answered. The error is told apart
by that re-read, never by the driver's message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from photoark.server.store.db import read_transaction
from photoark.server.store.versions import lock_user

__all__ = ["create_once"]

R = TypeVar("R")


def create_once(
    engine: Engine,
    owner_id: int,
    key: str | None,
    find: Callable[[Connection], R | None],
    create: Callable[[Connection], R],
) -> tuple[R, bool]:
    """The row ``find`` finds under ``key``, else the one ``create`` makes; and whether it was
    created now.

    ``find`` (only called with a key) returns what the key made, or ``None``; it may raise (a
    key reused with another body is a :class:`~photoark.server.errors.Conflict`). ``create``
    inserts the row with the key, in the same transaction, after the owner's row was locked and
    ``find`` found nothing. Without a key, ``create`` always runs. An ``IntegrityError`` after
    which no row carries the key is not a race on it and is raised as it is.
    """
    try:
        with engine.begin() as conn:
            lock_user(conn, owner_id)
            if key is not None:
                found = find(conn)
                if found is not None:
                    return found, False
            return create(conn), True
    except IntegrityError:
        if key is None:
            raise
        with read_transaction(engine) as conn:
            found = find(conn)
        if found is None:
            raise
        return found, False
