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

The cluster itself is :class:`tests.local_cluster.LocalCluster` (``bench/replicas_load.py``
runs its load on it too); this script is its command line: it parses the arguments, runs the
cluster in the foreground, and finds it again from another terminal through the state file
the cluster writes in D.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "src"):  # src last: first on the path, even if it was there
    if str(_path) in sys.path:  # already (behind an installed photoark)
        sys.path.remove(str(_path))
    sys.path.insert(0, str(_path))

import httpx  # noqa: E402
from bench._lb import Backend  # noqa: E402
from tests.local_cluster import STATE_FILE, LocalCluster  # noqa: E402
from tests.processes import pid_alive  # noqa: E402

__all__ = ["main"]

DEFAULT_DIR = Path("/tmp/photoark-cluster")


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
    return pid_alive(process.get("pid"), process.get("started"))


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
