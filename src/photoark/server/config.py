"""Server settings, in one frozen value passed to :func:`photoark.server.app.create_app`.

``photoark server`` and ``python -m photoark.server`` both build a :class:`ServerSettings` from
the one option table in :mod:`photoark.server.options`; nothing in the server reads the
environment or global state. :func:`parse_size` turns ``"10GiB"`` into bytes for
the quota options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from photoark.protocol.models import EVENTS_HEARTBEAT_SECONDS

__all__ = ["JOBS", "LoginHashLevel", "ServerSettings", "parse_jobs", "parse_size"]

LoginHashLevel = Literal["interactive", "min"]

# The background jobs a server process may run (``--jobs``): the blob sweeper, the expiry of
# trashed files, the copies to ``--replicate-to`` stores.
JOBS = ("sweeper", "trash", "replication")

_UNITS: dict[str, int] = {
    "": 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
    "TIB": 1024**4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_size(text: str) -> int:
    """``"10GiB"`` → 10737418240. Units: B, KB/MB/GB/TB (1000), KiB/MiB/GiB/TiB (1024).

    Raises :class:`ValueError` naming the accepted forms when ``text`` is not a size.
    """
    match = _SIZE_RE.match(text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"invalid size {text!r}: expected a number with an optional unit "
            "(B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. '10GiB'"
        )
    return int(float(match.group(1)) * _UNITS[unit])


def parse_jobs(text: str) -> tuple[str, ...]:
    """``"all"`` → every job of :data:`JOBS`, ``"none"`` → none, else a comma-separated list
    of them (``"sweeper,trash"``). Raises :class:`ValueError` naming the accepted values."""
    value = text.strip().lower()
    if value == "all":
        return JOBS
    if value == "none":
        return ()
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in JOBS]
    if unknown or not names:
        raise ValueError(
            f"invalid jobs {text!r}: expected all, none, or a comma-separated list of "
            f"{', '.join(JOBS)}"
        )
    return tuple(n for n in JOBS if n in names)


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server needs to start. Only ``data_dir`` is required."""

    data_dir: Path
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    default_quota: int = 10 * 2**30
    login_hash: LoginHashLevel = "interactive"
    upload_expiry_seconds: int = 86400  # an unfinished upload session left this long is gone
    gc_interval_seconds: float = 3600  # how often expired sessions and leftovers are swept
    sweep_grace_seconds: float = 3600  # a leftover younger than this is never swept (in flight)
    body_idle_seconds: float = 30.0  # a request body silent this long is a 408
    bodies_per_account: int = 4  # large bodies (parts, bundles) one account may send at once
    login_hash_workers: int = 2  # Argon2 hashes computed at once (64 MiB each)
    login_wait_seconds: float = 2.0  # how long a login waits for a hash worker before a 503
    token_idle_days: float = 90.0  # a token unused this long stops working (0: never)
    trash_days: float = 30.0  # a trashed file is deleted for good this long after trashing
    trash_sweep_seconds: float = 3600  # how often expired trash is looked for
    events_poll_seconds: float = 0.25  # GET /events: how often the users' counters are read
    events_heartbeat_seconds: float = EVENTS_HEARTBEAT_SECONDS  # silence before ": ping"
    # GET /health/replication (no login; each reading counts object_copies): answered from
    # one reading this long
    replication_health_seconds: float = 2.0
    # where blobs live: None = the data directory; ``s3://BUCKET[/PREFIX]?endpoint=URL&...``
    # puts them in S3, and clients then move bytes with presigned URLs (direct transfers)
    blobs_url: str | None = None
    replicate_to: tuple[str, ...] = ()  # stores every committed object is copied to
    presign_seconds: float = 3600.0  # how long a presigned URL works
    replication_workers: int = 4  # copies made at once by this process
    # a copy claimed by a worker that died is taken up again after this long
    replication_lease_seconds: float = 300.0
    jobs: tuple[str, ...] = JOBS  # the background jobs this process runs (see JOBS)

    def __post_init__(self) -> None:
        if self.trash_days < 0 or self.trash_sweep_seconds <= 0:
            raise ValueError("trash_days must be >= 0 and trash_sweep_seconds > 0")
        if self.bodies_per_account < 1 or self.login_hash_workers < 1:
            raise ValueError("bodies_per_account and login_hash_workers must be >= 1")
        if self.presign_seconds <= 0 or self.replication_workers < 1:
            raise ValueError("presign_seconds must be > 0 and replication_workers >= 1")
        if self.replication_lease_seconds <= 0:
            raise ValueError("replication_lease_seconds must be > 0")
        if unknown := [j for j in self.jobs if j not in JOBS]:
            raise ValueError(f"unknown jobs {unknown}: expected some of {', '.join(JOBS)}")
        if self.token_idle_days < 0 or self.sweep_grace_seconds < 0:
            raise ValueError("token_idle_days and sweep_grace_seconds must be >= 0")
        if self.database_url is None:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir}/photoark.db")

    @property
    def db_url(self) -> str:
        """The database URL in use (``database_url`` after defaulting), typed as ``str``."""
        return self.database_url or f"sqlite:///{self.data_dir}/photoark.db"
