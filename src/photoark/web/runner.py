"""Serve the web app in the foreground (``photoark web``) or beside the daemon
(``web.enabled``).

The socket is bound before anything is printed, so the URL names the real port (``--port 0``
picks a free one) and a port in use is a clear error rather than a traceback. While it serves,
the state DB says where (:class:`~photoark.client.state.weblogins.WebLogins`), so that
``photoark web`` run again (or with the daemon serving) hands out a new login link to the app
that runs instead of starting a second one: :func:`running_app_link`.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from photoark.client.errors import ClientError, UsageError
from photoark.client.home import ClientHome
from photoark.client.session import Session
from photoark.client.state.db import StateDB
from photoark.client.state.weblogins import WebLogins
from photoark.client.status import daemon_running
from photoark.web.app import build_context, create_app
from photoark.web.security import Guard

__all__ = ["DEFAULT_PORT", "WebOptions", "bind", "running_app_link", "serve"]

DEFAULT_PORT = 8421


@dataclass(frozen=True)
class WebOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    open_browser: bool = True


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; :class:`UsageError` for a wildcard address (the
    ``Host`` check needs the address served) or a port in use."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError as err:
        raise UsageError(f"--host {host!r} is not an IP address", "use 127.0.0.1") from err
    if address.is_unspecified:
        raise UsageError(
            f"--host {host} would serve every network; give the one address to serve",
            "the default, 127.0.0.1, keeps your decrypted photos on this machine",
        )
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ClientError(
            f"cannot listen on {host}:{port}: {err.strerror}",
            "another program (or another photoark web) uses that port; pick one with --port",
        ) from err
    sock.listen(128)
    return sock


def serve(
    home: ClientHome,
    options: WebOptions,
    announce: Callable[[str], None],
    stop: threading.Event | None = None,
) -> None:
    """Serve until interrupted (or ``stop`` is set); ``announce(url)`` gets the login link once
    the socket listens."""
    sock = bind(options.host, options.port)
    port = sock.getsockname()[1]
    with Session.open(home) as session:
        logins = WebLogins(session.db)
        guard = Guard(options.host, port, issued=logins)
        ctx = build_context(session, guard)
        app = create_app(ctx)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                access_log=False,
                lifespan="on",
                # open event streams never end on their own: give them this long at a stop
                timeout_graceful_shutdown=2,
            )
        )
        if stop is not None:

            def stop_when_asked() -> None:
                stop.wait()
                server.should_exit = True

            threading.Thread(target=stop_when_asked, daemon=True).start()
        url = guard.login_url()
        announce(url)
        if options.open_browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        logins.set_served(guard.origin, os.getpid())
        try:
            server.run(sockets=[sock])
        finally:
            logins.clear_served(os.getpid())
            sock.close()


def running_app_link(db: StateDB) -> str | None:
    """A new one-time login link to the app another live process serves for this home (the
    daemon, or an earlier ``photoark web``), or ``None`` when none does."""
    logins = WebLogins(db)
    served = logins.served()
    if served is None or not daemon_running({"pid": served.get("pid", 0)}):
        return None
    if not _answers(str(served.get("url", ""))):  # stopping, or its port is another's now
        return None
    return f"{served['url']}/login?token={logins.issue()}"


def _answers(origin: str) -> bool:
    """Whether something listens at ``http://HOST:PORT``."""
    host, _, port = origin.removeprefix("http://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
            return True
    except (OSError, ValueError):
        return False
