"""PostgresServer: a throw-away PostgreSQL cluster for a script or a bench, run as ``postgres``
when we are root, with its CPU time counted.

It wraps the test suite's :class:`tests.server.conftest.PgCluster` (initdb with trust auth, then
``pg_ctl start`` with fsync off, Debian's binaries from :func:`tests.server.conftest.
find_pg_bindir`) and adds what a long-lived cluster outside pytest needs: a directory the
``postgres`` user can reach, a database made at start, the postmaster's pid and CPU. Used by
:class:`tests.local_cluster.LocalCluster` (``scripts/cluster.py``, ``bench/replicas_load.py``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

from tests.builders import free_port
from tests.processes import child_pids, proc_cpu_seconds

with warnings.catch_warnings():  # the conftest imports starlette's TestClient, which warns
    warnings.simplefilter("ignore")
    from tests.server.conftest import PgCluster, find_pg_bindir

__all__ = ["PostgresServer"]


class PostgresServer:
    """A throw-away PostgreSQL cluster under ``base`` (tests.server.conftest.PgCluster: initdb
    with trust auth, then pg_ctl start with fsync off), run as ``postgres`` when we are root.

    As root, when the ``postgres`` user cannot reach ``base`` (a directory under a private
    one: ``/root``, pytest's tmp dirs), the cluster goes in a fresh directory under the system
    temp dir instead (:attr:`outside`); :meth:`stop` removes it unless told to keep it."""

    def __init__(self, base: Path) -> None:
        bindir = find_pg_bindir()
        if bindir is None:
            raise FileNotFoundError(
                "PostgreSQL's initdb and pg_ctl not found (apt-get install postgresql)"
            )
        run_as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            run_as = ["runuser", "-u", "postgres", "--"]
        self.outside: Path | None = None
        self.cluster = PgCluster(bindir, base, free_port(), run_as)

    def _make_base(self) -> None:
        """Create the cluster's directory, owned by ``postgres`` when we are root, somewhere
        that user can reach."""
        base = self.cluster.base
        base.mkdir(parents=True, exist_ok=True)
        if not self.cluster.run_as:
            return
        pg = pwd.getpwnam("postgres")
        os.chown(base, pg.pw_uid, pg.pw_gid)
        reach = subprocess.run([*self.cluster.run_as, "test", "-w", str(base)], check=False)
        if reach.returncode != 0:
            base.rmdir()
            self.outside = Path(tempfile.mkdtemp(prefix="photoark-cluster-pg-"))
            os.chown(self.outside, pg.pw_uid, pg.pw_gid)
            self.cluster.base = self.outside

    @property
    def port(self) -> int:
        return self.cluster.port

    def url(self, dbname: str = "photoark") -> str:
        return self.cluster.url(dbname)

    def start(self, dbname: str = "photoark") -> None:
        self._make_base()
        try:
            self.cluster.start()
        except subprocess.CalledProcessError as err:
            said = (err.stderr or b"").decode(errors="replace").strip()
            tool = Path(str(err.cmd[len(self.cluster.run_as)])).name  # initdb or pg_ctl
            raise RuntimeError(f"PostgreSQL did not start ({tool} failed): {said}") from err
        self.cluster.admin(f"CREATE DATABASE {dbname}")

    def stop(self, keep: bool = False) -> None:
        """Stop it (immediate mode); remove its directory if it is :attr:`outside` the
        cluster's, unless ``keep``."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.cluster.stop()
        if self.outside is not None and not keep:
            shutil.rmtree(self.outside, ignore_errors=True)

    @property
    def log(self) -> Path:
        return self.cluster.base / "log"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid (first line of postmaster.pid)."""
        with contextlib.suppress(OSError, ValueError):
            return int((self.cluster.data / "postmaster.pid").read_text().split()[0])
        return None

    def cpu_seconds(self) -> float:
        """CPU of the postmaster and every backend, live or ended."""
        pid = self.pid
        if pid is None:
            return 0.0
        return proc_cpu_seconds(pid, children=True) + sum(
            proc_cpu_seconds(child) for child in child_pids(pid)
        )
