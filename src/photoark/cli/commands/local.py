"""``photoark local start|stop|status``: the local server quickstart set up.

It keeps its address (the account's) and its data (``<home>/server``) whichever way it is
started; the logic is in :mod:`photoark.client.local.control`.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, emit_json, handle_errors
from photoark.client.local.control import (
    foreground_command,
    install_server_service,
    local_status,
    start_local,
    stop_local,
)

__all__ = ["local_app"]

local_app = typer.Typer(
    help="Start, stop and show the local server quickstart set up.", no_args_is_help=True
)

_SERVICE = "photoark local start --install-user-service"
_SERVICE_HINT = (
    f"to start it at every login: {_SERVICE} (or photoark daemon --install-user-service)"
)


@local_app.command("start")
def start_command(
    foreground: Annotated[
        bool,
        typer.Option(
            "--foreground",
            help="Run the server in this process (what its systemd unit runs); a copy "
            "running detached is stopped first.",
        ),
    ] = False,
    install_user_service: Annotated[
        bool,
        typer.Option(
            "--install-user-service",
            help="Write a systemd user unit that runs the server at login, enable and start it.",
        ),
    ] = False,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Start the local server (detached) at the address this client's account uses."""
    client_home = home_of(home)
    if foreground:
        with handle_errors():
            argv = foreground_command(client_home)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(argv[0], argv)  # the server takes this process's place (and pid)
    extra: dict[str, object] = {}
    if install_user_service:
        with handle_errors():
            installed = install_server_service(client_home)
        extra = {"service_enabled": installed.not_enabled is None}
        if not json_output:
            console.print(
                f"wrote {installed.unit}; "
                + (
                    "enabled: the server starts at every login"
                    if installed.not_enabled is None
                    else f"could not enable it: {installed.not_enabled}. Start the server after"
                    " each reboot with `photoark local start` (e.g. from your desktop"
                    " session's autostart) instead"
                ),
                highlight=False,
                markup=False,
            )
    with handle_errors():
        started = start_local(client_home)
        status = local_status(client_home)
    if json_output:
        emit_json({**status.as_json(), "already_running": started.already_running, **extra})
        return
    server = status.server
    if started.already_running:
        pid = f"pid {server.pid}" if server.pid else "served by another process"
        console.print(f"the local server is already running on {server.url} ({pid})")
    else:
        console.print(
            f"started the local server on {server.url} (pid {server.pid})\n"
            f"data: {server.data_dir}\nlog:  {server.log}",
            highlight=False,
            markup=False,
        )
    if not status.service_enabled:
        console.print(_SERVICE_HINT, highlight=False, markup=False)


@local_app.command("stop")
def stop_command(home: HomeOption = None, json_output: JsonOption = False) -> None:
    """Stop the local server (if it was started by quickstart or `photoark local start`)."""
    client_home = home_of(home)
    with handle_errors():
        pid = stop_local(client_home)
        status = local_status(client_home)
    if json_output:
        emit_json({**status.as_json(), "stopped_pid": pid})
    elif pid is None:
        console.print(f"the local server was not running ({status.server.url})")
    else:
        console.print(f"stopped the local server (pid {pid}) on {status.server.url}")


@local_app.command("status")
def status_command(home: HomeOption = None, json_output: JsonOption = False) -> None:
    """Show the local server's address, data, log, process and service."""
    with handle_errors():
        status = local_status(home_of(home))
    if json_output:
        emit_json(status.as_json())
        return
    server = status.server
    if status.running:
        state = f"running (pid {server.pid})" if server.pid else "running (another process)"
    elif status.port_taken:
        state = f"not running: port {server.port} is taken by another program or server"
    else:
        state = "stopped (start it: photoark local start)"
    if status.service is None:
        service = f"not installed ({_SERVICE})"
    else:
        enabled = "enabled" if status.service_enabled else "not enabled"
        service = f"{status.service} ({enabled})"
    lines = [
        f"url:     {server.url}",
        f"state:   {state}",
        f"data:    {server.data_dir}",
        f"log:     {server.log}",
        f"service: {service}",
    ]
    if not status.account_here:
        lines.append("(this client's account is not on it)")
    console.print("\n".join(lines), highlight=False, markup=False)
