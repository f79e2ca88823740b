"""``photoark daemon``: continuous backup of the watched folders, in the foreground."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, home_of
from photoark.cli.output import console, handle_errors
from photoark.client.daemon.daemon import Daemon, DaemonTiming
from photoark.client.daemon.policy import FileProbe, Probe, SystemProbe
from photoark.client.daemon.service import write_user_unit
from photoark.client.session import Session
from photoark.tuning import limit_arenas

__all__ = ["daemon_command"]


def daemon_command(
    install_user_service: Annotated[
        bool,
        typer.Option(
            "--install-user-service",
            help="Write a systemd user unit that runs the daemon at login, then exit.",
        ),
    ] = False,
    probe_file: Annotated[
        Path | None,
        typer.Option(
            "--probe-file",
            hidden=True,
            help="Read battery/network conditions from this JSON file (tests).",
        ),
    ] = None,
    policy_every: Annotated[float, typer.Option("--policy-every", hidden=True, min=0.05)] = 5.0,
    home: HomeOption = None,
) -> None:
    """Back up the watched folders continuously (see `photoark watch add`)."""
    client_home = home_of(home)
    if install_user_service:
        unit = write_user_unit(client_home.root)
        console.print(
            f"wrote {unit}\nstart it now and at every login with:\n"
            "  systemctl --user daemon-reload && systemctl --user enable --now photoark",
            highlight=False,
        )
        return
    logging.getLogger("photoark").setLevel(logging.INFO)
    limit_arenas()  # before any thread: a long-running process keeps what its arenas hold
    probe: Probe = FileProbe(probe_file) if probe_file is not None else SystemProbe()
    with handle_errors(), Session.open(client_home) as session:
        daemon = Daemon(session, probe, DaemonTiming(policy_every=policy_every))

        def stop(signum: int, frame: FrameType | None) -> None:
            daemon.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        daemon.run()
