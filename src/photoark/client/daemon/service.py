"""A systemd *user* unit that runs ``photoark daemon`` at login (``daemon --install-user-service``).

The unit runs the same Python interpreter and the same ``--home`` as the command that wrote it,
restarts the daemon if it dies, and is enabled with ``systemctl --user enable --now``.

When the account's server is the local one quickstart set up, the daemon is useless without it:
:func:`install_user_services` also writes the server's unit
(:mod:`photoark.client.local.service`), enables and starts it, and orders the daemon's unit
after it (``After=``/``Wants=``), so both come back after a reboot.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from photoark.client.home import ClientHome
from photoark.client.local.server import load_account, local_account_server
from photoark.client.local.service import (
    SERVER_UNIT_NAME,
    enable_user_units,
    write_server_unit,
    write_unit,
)

__all__ = ["UNIT_NAME", "ServicesInstall", "install_user_services", "unit_text", "write_user_unit"]

UNIT_NAME = "photoark.service"


def unit_text(home: Path, python: str = sys.executable, after_server: bool = False) -> str:
    """The daemon's unit; ``after_server``: started after the local server's unit (wanting it)."""
    command = shlex.join([python, "-m", "photoark", "daemon", "--home", str(home)])
    after = " ".join(["network-online.target", *([SERVER_UNIT_NAME] if after_server else [])])
    return (
        "[Unit]\n"
        "Description=photoark: continuous, end-to-end encrypted photo backup\n"
        f"After={after}\n"
        f"Wants={after}\n\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={command}\n"
        "Restart=on-failure\n"
        "RestartSec=10\n"
        "Nice=10\n"
        "IOSchedulingClass=idle\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def write_user_unit(
    home: Path, config_home: Path | None = None, after_server: bool = False
) -> Path:
    """Write the unit under ``$XDG_CONFIG_HOME/systemd/user`` and return its path."""
    return write_unit(UNIT_NAME, unit_text(home.resolve(), after_server=after_server), config_home)


@dataclass(frozen=True)
class ServicesInstall:
    daemon_unit: Path
    server_unit: Path | None  # written when the account's server is the local one
    server_not_enabled: str | None  # why systemctl could not enable and start the server's unit


def install_user_services(home: ClientHome, config_home: Path | None = None) -> ServicesInstall:
    """Write the daemon's unit; when the home's account is on its local server, also write,
    enable and start the server's unit, and order the daemon's after it. The daemon's unit is
    left for the user to enable (``systemctl --user enable --now photoark``)."""
    account = load_account(home)
    local = local_account_server(home, account) if account is not None else None
    if local is None:
        return ServicesInstall(write_user_unit(home.root, config_home), None, None)
    server_unit = write_server_unit(home.root, config_home)
    daemon_unit = write_user_unit(home.root, config_home, after_server=True)
    why = enable_user_units([SERVER_UNIT_NAME])
    return ServicesInstall(daemon_unit, server_unit, why)
