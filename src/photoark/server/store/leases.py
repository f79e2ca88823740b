"""SQL for job leases: one replica at a time runs a background job.

A ``job_leases`` row names a job (``sweeper``, ``trash``, ``backfill:<store>``), its holder (a
random id per process, :func:`new_holder_id`) and when the lease runs out. Contract:

- :meth:`LeaseStore.acquire` takes the lease when it is free, expired, or already held by the
  caller (then it is renewed to ``now + ttl``), and answers ``True``; otherwise ``False`` and
  nothing changes. One transaction: an ``UPDATE ... WHERE expires_at < now OR holder = me``,
  then, when no row moved, an ``INSERT ... ON CONFLICT DO NOTHING`` for a lease never taken.
  Two callers racing get one ``True``: on PostgreSQL the loser's UPDATE waits on the row lock
  and re-checks its condition against the winner's row, and its INSERT meets the winner's row;
  on SQLite ``BEGIN IMMEDIATE`` serialises them.
- :meth:`LeaseStore.release` gives it up early (shutdown), only if the caller holds it.
  Idempotent.
- A lease is advice for efficiency, not a lock for correctness: a holder that runs longer than
  its ttl may overlap with the next one, so the jobs run under it must stay correct if run
  twice (the sweeper and trash expiry are).

Times are ``time.time()`` values of each process (the ``clock``): replicas' clocks are assumed
to agree to well within a ttl.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from photoark.server.store.db import read_transaction
from photoark.server.store.schema import job_leases

__all__ = ["Lease", "LeaseStore", "new_holder_id"]

_HOLDER_CHARS = 64  # job_leases.holder's width


def new_holder_id() -> str:
    """A fresh holder id: host, process and 8 random hex digits (the host and pid are only
    there for people reading the table)."""
    host = socket.gethostname()[:32]
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"[-_HOLDER_CHARS:]


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    expires_at: float


class LeaseStore:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def acquire(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the lease ``name`` for ``ttl`` seconds; ``False`` while another holder's
        lease runs (see the module doc)."""
        now = self._clock()
        expires_at = now + ttl
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(job_leases)
                .where(
                    job_leases.c.name == name,
                    or_(job_leases.c.expires_at < now, job_leases.c.holder == holder),
                )
                .values(holder=holder, expires_at=expires_at)
                .returning(job_leases.c.name)
            ).first()
            if moved is not None:
                return True
            dialect_insert = (
                postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            )
            inserted = conn.execute(
                dialect_insert(job_leases)
                .values(name=name, holder=holder, expires_at=expires_at)
                .on_conflict_do_nothing(index_elements=[job_leases.c.name])
                .returning(job_leases.c.name)
            ).first()
            return inserted is not None

    def release(self, name: str, holder: str) -> None:
        """Give the lease up if ``holder`` holds it (another holder's is left alone)."""
        with self._engine.begin() as conn:
            conn.execute(
                delete(job_leases).where(job_leases.c.name == name, job_leases.c.holder == holder)
            )

    def current(self, name: str) -> Lease | None:
        """The lease ``name`` as recorded (perhaps expired), or ``None``."""
        with read_transaction(self._engine) as conn:
            row = conn.execute(select(job_leases).where(job_leases.c.name == name)).first()
        return None if row is None else Lease(row.name, row.holder, float(row.expires_at))
