"""Start, stop and find the embedded local server that ``quickstart`` set up.

The server runs as its own process (``python -m photoark.server --data D --port P``), detached
from the terminal (or, under the systemd unit, in the foreground), with its data in
``<client home>/server`` and its log in ``<client home>/logs/server.log``;
``<client home>/server/local-server.json`` records its URL and its last pid.

Its address never moves once an account uses it: the client finds its server at the URL in the
state DB, so a restart binds that same port or fails with a message naming the port (only a
home with no account yet may have its server moved to a free port). A recorded pid is trusted
only once ``/proc/PID/cmdline`` shows our server module and this data dir: after a reboot, the
pid may belong to anything. A server that answers at the address but is not ours is told apart
from ours by the account's key salt (:func:`serves_account`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from photoark.client.api import ApiClient
from photoark.client.errors import ClientError, ServerUnreachable
from photoark.client.home import ClientHome
from photoark.client.state import StateDB
from photoark.client.state.account import Account, AccountStore
from photoark.client.transport import RetryPolicy

__all__ = [
    "LocalServer",
    "LocalStart",
    "free_port",
    "is_server_process",
    "is_up",
    "known_local_server",
    "load_account",
    "local_account_server",
    "port_in_use",
    "require_local_server",
    "server_argv",
    "serves_account",
    "start_local_server",
    "stop_local_server",
    "take_over_local_server",
]

DEFAULT_PORT = 8080
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class LocalServer:
    url: str
    data_dir: Path
    log: Path
    pid: int | None  # our server process, when it runs (None: not running, or not known)

    @property
    def port(self) -> int:
        return _port_of(self.url)


@dataclass(frozen=True)
class LocalStart:
    server: LocalServer
    already_running: bool  # it was answering before: nothing was started


def _port_of(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def free_port(preferred: int = DEFAULT_PORT) -> int:
    for port in [preferred, *range(preferred + 1, preferred + 50)]:
        if not port_in_use(port):
            return int(port)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    """Whether a process listens on (or holds) ``127.0.0.1:port``. Probed as the server binds,
    with SO_REUSEADDR, so the leftovers of a server that just stopped do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def is_up(url: str) -> bool:
    try:
        with ApiClient(url, retry=RetryPolicy(attempts=1)) as api:
            return api.health().status == "ok"
    except (ServerUnreachable, ClientError, ValueError):
        return False


def serves_account(url: str, account: Account) -> bool | None:
    """Whether the server at ``url`` holds ``account``: it answers the account's own key salt
    for its email (a server that does not know the email answers a made-up salt). None when
    the server could not be asked."""
    try:
        with ApiClient(url, retry=RetryPolicy(attempts=1)) as api:
            params = api.key_params(account.email)
    except (ClientError, ValueError):
        return None
    return params.kek_salt == account.key_attributes.kek_salt


def is_server_process(pid: int | None, data_dir: Path) -> bool:
    """Whether ``pid`` is alive and is our server serving ``data_dir`` (its command line, as
    :func:`server_argv` made it). A zombie's command line is empty: it counts as gone."""
    if pid is None or pid <= 0:
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return "photoark.server" in args and str(data_dir) in args


def server_argv(data_dir: Path, port: int) -> list[str]:
    """The command that runs the local server (``python -m photoark.server``)."""
    return [sys.executable, "-m", "photoark.server", "--data", str(data_dir), "--port", str(port)]


# -- what is recorded ---------------------------------------------------------------------------


def _info_file(home: ClientHome) -> Path:
    return home.local_server_record


def _log_file(home: ClientHome) -> Path:
    return home.log_dir / "server.log"


def known_local_server(home: ClientHome) -> LocalServer | None:
    """What ``local-server.json`` records (None: this home has no local server). The data dir
    and log are the home's own, wherever the home was when the record was written."""
    try:
        info = json.loads(_info_file(home).read_text())
        url, pid = str(info["url"]), info.get("pid")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return LocalServer(url, home.server_dir, _log_file(home), pid if isinstance(pid, int) else None)


def require_local_server(home: ClientHome) -> LocalServer:
    known = known_local_server(home)
    if known is None:
        raise ClientError(
            f"this client home ({home.root}) has no local server: it was not set up with "
            "`photoark quickstart`",
            "`photoark quickstart FOLDER` sets one up; a server of your own runs with "
            "`photoark server --data DIR`",
        )
    return known


def _record(home: ClientHome, server: LocalServer) -> None:
    info: dict[str, object] = {
        "url": server.url,
        "data_dir": str(server.data_dir),
        "log": str(server.log),
        "pid": server.pid,
    }
    tmp = _info_file(home).with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(_info_file(home))


def load_account(home: ClientHome) -> Account | None:
    """The home's account, without creating a home or a state DB that is not there."""
    if not home.state_db.exists():
        return None
    db = StateDB(home.state_db)
    try:
        return AccountStore(db).load()
    finally:
        db.close()


def local_account_server(home: ClientHome, account: Account | None) -> LocalServer | None:
    """The home's local server, with its pid only if that process runs; None when the home has
    none or its account is on another server (not this machine's address and port)."""
    known = known_local_server(home)
    if known is None:
        return None
    if account is not None:
        parts = urlsplit(account.server)
        if parts.hostname not in _LOOPBACK or _port_of(account.server) != known.port:
            return None
    return known if is_server_process(known.pid, known.data_dir) else replace(known, pid=None)


# -- start and stop -----------------------------------------------------------------------------


def _port_taken(port: int, url: str, what: str) -> ClientError:
    return ClientError(
        f"port {port} is taken by {what}; the local server must listen there, as this "
        f"account's address is {url}",
        f"stop what listens on port {port} (`ss -ltnp 'sport = :{port}'` shows it), then run "
        "`photoark local start`",
    )


def _foreign_server(server: LocalServer) -> ClientError:
    return _port_taken(
        server.port,
        server.url,
        f"another server, one that does not hold this account (not the local server, whose "
        f"data is in {server.data_dir})",
    )


def start_local_server(
    home: ClientHome, account: Account | None = None, timeout: float = 30.0
) -> LocalStart:
    """Start the home's local server detached, or find it running, and wait until it answers.

    ``account``: the home's account, when it is on the local server (see
    :func:`local_account_server`): the server must then answer at the account's address, and a
    port taken by something else is a :class:`ClientError` naming it. With no account, a taken
    port moves the server to a free one. Idempotent: a running server is left as it is.
    """
    known = known_local_server(home)
    port = known.port if known else None
    log = _log_file(home)
    if known is not None and is_up(known.url):
        if is_server_process(known.pid, known.data_dir):
            return LocalStart(known, already_running=True)
        if account is not None:
            if serves_account(known.url, account) is not False:  # our data, another process
                return LocalStart(replace(known, pid=None), already_running=True)
            raise _foreign_server(known)
        port = None  # no account yet: leave the port to whatever answers there
    if port is None:
        port = free_port(DEFAULT_PORT if known is None else known.port + 1)
    elif port_in_use(port):
        if account is not None:
            raise _port_taken(port, known.url if known else "", "another program")
        port = free_port(port)
    home.server_dir.mkdir(parents=True, exist_ok=True)
    home.log_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        started = _spawn(home, port, timeout)
        if isinstance(started, LocalServer):
            _record(home, started)
            return LocalStart(started, already_running=False)
        # it could not start: was the port taken meanwhile (another process choosing a free port
        # too)? Without an account, try the next free one
        if not port_in_use(port):
            break
        if account is not None:
            raise _port_taken(port, f"http://127.0.0.1:{port}", "another program")
        port = free_port(port + 1)
    raise ClientError(f"the local server exited at start (code {started})", f"see its log: {log}")


def _spawn(home: ClientHome, port: int, timeout: float) -> LocalServer | int:
    """Run the server detached on ``port``; once it answers, the server, or the exit code
    with which it stopped before that."""
    log = _log_file(home)
    url = f"http://127.0.0.1:{port}"
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            server_argv(home.server_dir, port),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return process.returncode
        if is_up(url) and process.poll() is None:
            return LocalServer(url, home.server_dir, log, process.pid)
        time.sleep(0.2)
    process.kill()
    raise ServerUnreachable(f"the local server did not answer within {timeout:.0f} s", f"see {log}")


def stop_local_server(home: ClientHome, timeout: float = 15.0) -> int | None:
    """Stop the home's local server (SIGTERM, then SIGKILL past ``timeout``); the pid stopped,
    or None when it was not running. A server answering at its address that is not our process
    (``photoark server`` in a terminal, another program) is not touched: a ClientError says
    so."""
    known = require_local_server(home)
    if not is_server_process(known.pid, known.data_dir):
        if is_up(known.url):
            raise ClientError(
                f"the server answering on {known.url} was not started by `photoark local "
                "start` (or quickstart): its process is not known here",
                "stop it where it runs (Ctrl-C in the terminal of `photoark server`)",
            )
        return None
    assert known.pid is not None
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(known.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while is_server_process(known.pid, known.data_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not is_server_process(known.pid, known.data_dir):
            break
    else:
        raise ClientError(f"the local server (pid {known.pid}) did not stop")
    _record(home, replace(known, pid=None))
    return known.pid


def take_over_local_server(home: ClientHome, account: Account | None) -> list[str]:
    """Make ready to run the local server in this process (``local start --foreground``, the
    systemd unit): stop a detached copy of it, check its port, record this pid. Returns the
    command line to ``exec`` in place of this process (the pid stays the one recorded)."""
    known = require_local_server(home)
    if is_server_process(known.pid, known.data_dir):
        stop_local_server(home)  # a detached one (quickstart's, `local start`'s): ours now
    if port_in_use(known.port):
        if account is not None and is_up(known.url) and serves_account(known.url, account):
            raise ClientError(
                f"the local server's data is already served on {known.url} by another process",
                "stop it where it runs (Ctrl-C in the terminal of `photoark server`)",
            )
        raise _port_taken(known.port, known.url, "another program")
    home.server_dir.mkdir(parents=True, exist_ok=True)
    _record(home, replace(known, pid=os.getpid()))
    return server_argv(home.server_dir, known.port)
