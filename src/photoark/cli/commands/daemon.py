"""``photoark daemon``: continuous backup of the watched folders, in the foreground."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, home_of
from photoark.cli.output import console, handle_errors
from photoark.client.daemon.daemon import Daemon, DaemonTiming
from photoark.client.daemon.policy import FileProbe, Probe, SystemProbe
from photoark.client.daemon.service import ServicesInstall, install_user_services
from photoark.client.errors import ClientError
from photoark.client.home import ClientHome
from photoark.client.session import Session
from photoark.client.settings import Settings
from photoark.optimize.devicefree import free_summary
from photoark.tuning import limit_arenas

__all__ = ["daemon_command"]


def daemon_command(
    install_user_service: Annotated[
        bool,
        typer.Option(
            "--install-user-service",
            help="Write a systemd user unit that runs the daemon at login, then exit (with the "
            "local server quickstart set up: its unit too, enabled and started).",
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
        with handle_errors():
            installed = install_user_services(client_home)
        _print_install(installed)
        return
    logging.getLogger("photoark").setLevel(logging.INFO)
    limit_arenas()  # before any thread: a long-running process keeps what its arenas hold
    probe: Probe = FileProbe(probe_file) if probe_file is not None else SystemProbe()
    with handle_errors(), Session.open(client_home) as session:
        daemon = Daemon(
            session, probe, DaemonTiming(policy_every=policy_every), device_freer=free_summary
        )
        web_stop = threading.Event()

        def stop(signum: int, frame: FrameType | None) -> None:
            web_stop.set()
            daemon.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        settings = Settings(session.db)
        if settings.get("web.enabled"):
            _serve_web(client_home, int(settings.get("web.port")), web_stop)
        try:
            daemon.run()
        finally:
            web_stop.set()


def _print_install(installed: ServicesInstall) -> None:
    if installed.server_unit is not None:
        console.print(f"wrote {installed.server_unit} (the local server)", highlight=False)
        if installed.server_not_enabled is None:
            console.print("enabled and started it: the local server now starts at every login")
        else:
            console.print(
                f"could not enable it: {installed.server_not_enabled}\n"
                "start the local server yourself after each reboot: photoark local start "
                "(e.g. from your desktop session's autostart)",
                highlight=False,
                markup=False,
            )
    console.print(
        f"wrote {installed.daemon_unit}\nstart it now and at every login with:\n"
        "  systemctl --user daemon-reload && systemctl --user enable --now photoark",
        highlight=False,
    )


def _serve_web(home: ClientHome, port: int, stop: threading.Event) -> None:
    """The web app beside the daemon, in a thread (``web.enabled``); `photoark web` prints a
    login link to it. A web app that cannot start is logged; the backup goes on."""
    from photoark.web.runner import WebOptions, serve

    log = logging.getLogger("photoark.web")

    def run() -> None:
        try:
            serve(
                home,
                WebOptions(port=port, open_browser=False),
                lambda url: log.info(
                    "web app on %s (`photoark web` prints a login link)", url.split("/login")[0]
                ),
                stop,
            )
        except ClientError as err:
            log.error("the web app did not start: %s (%s)", err, err.hint)

    threading.Thread(target=run, name="web", daemon=True).start()
