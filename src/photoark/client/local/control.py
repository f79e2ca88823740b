"""What ``photoark local start|stop|status`` do, for one client home: each finds the home's
account (the local server must keep answering at the account's address), then acts through
:mod:`.server` and :mod:`.service`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from photoark.client.home import ClientHome
from photoark.client.local.server import (
    LocalServer,
    LocalStart,
    is_up,
    load_account,
    local_account_server,
    port_in_use,
    require_local_server,
    serves_account,
    start_local_server,
    stop_local_server,
    take_over_local_server,
)
from photoark.client.local.service import (
    SERVER_UNIT_NAME,
    enable_user_units,
    installed_server_unit,
    unit_enabled,
    write_server_unit,
)
from photoark.client.state.account import Account

__all__ = [
    "LocalStatus",
    "ServiceInstall",
    "foreground_command",
    "install_server_service",
    "local_status",
    "start_local",
    "stop_local",
]


@dataclass(frozen=True)
class LocalStatus:
    server: LocalServer  # pid: our server process, when it runs
    running: bool  # the local server answers at its address
    port_taken: bool  # not running, and something else holds its port
    account_here: bool  # this home's account is on it
    service: Path | None  # its systemd user unit, if written
    service_enabled: bool  # and enabled: it starts at every login

    def as_json(self) -> dict[str, object]:
        return {
            "url": self.server.url,
            "data_dir": str(self.server.data_dir),
            "log": str(self.server.log),
            "pid": self.server.pid,
            "running": self.running,
            "port_taken": self.port_taken,
            "account_here": self.account_here,
            "service": {
                "unit": SERVER_UNIT_NAME,
                "path": str(self.service) if self.service else None,
                "installed": self.service is not None,
                "enabled": self.service_enabled,
            },
        }


@dataclass(frozen=True)
class ServiceInstall:
    unit: Path
    not_enabled: str | None  # why systemctl could not enable it (None: enabled and started)


def _account_on_local(home: ClientHome) -> tuple[LocalServer, Account | None]:
    """The home's local server, and its account when the account is on it."""
    require_local_server(home)
    account = load_account(home)
    local = local_account_server(home, account)
    if local is None:  # the account is on another server
        local = local_account_server(home, None)
        assert local is not None
        return local, None
    return local, account


def local_status(home: ClientHome, config_home: Path | None = None) -> LocalStatus:
    local, account = _account_on_local(home)
    up = is_up(local.url)
    # something answers, but not our process, and it does not hold this account
    foreign = (
        up
        and local.pid is None
        and account is not None
        and serves_account(local.url, account) is False
    )
    running = up and not foreign
    return LocalStatus(
        server=local,
        running=running,
        port_taken=foreign or (not up and port_in_use(local.port)),
        account_here=account is not None,
        service=installed_server_unit(config_home),
        service_enabled=unit_enabled(SERVER_UNIT_NAME, config_home),
    )


def start_local(home: ClientHome, timeout: float = 30.0) -> LocalStart:
    """Start the home's local server detached, at its account's address (see
    :func:`~photoark.client.local.server.start_local_server`)."""
    _, account = _account_on_local(home)
    return start_local_server(home, account, timeout)


def stop_local(home: ClientHome) -> int | None:
    """Stop the home's local server; the pid stopped, or None if it was not running."""
    return stop_local_server(home)


def foreground_command(home: ClientHome) -> list[str]:
    """The command line to ``exec`` to run the local server in this process."""
    _, account = _account_on_local(home)
    return take_over_local_server(home, account)


def install_server_service(
    home: ClientHome, config_home: Path | None = None, timeout: float = 30.0
) -> ServiceInstall:
    """Write the server's systemd user unit, enable and start it; once systemctl did, wait
    (up to ``timeout``) for the server to answer."""
    require_local_server(home)
    unit = write_server_unit(home.root, config_home)
    why = enable_user_units([SERVER_UNIT_NAME])
    if why is None:
        deadline = time.monotonic() + timeout
        while not local_status(home, config_home).running and time.monotonic() < deadline:
            time.sleep(0.2)
    return ServiceInstall(unit, why)
