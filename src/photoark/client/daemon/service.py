"""A systemd *user* unit that runs ``photoark daemon`` at login (``daemon --install-user-service``).

The unit runs the same Python interpreter and the same ``--home`` as the command that wrote it,
restarts the daemon if it dies, and is enabled with ``systemctl --user enable --now``.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

__all__ = ["UNIT_NAME", "unit_text", "write_user_unit"]

UNIT_NAME = "photoark.service"


def unit_text(home: Path, python: str = sys.executable) -> str:
    command = shlex.join([python, "-m", "photoark", "daemon", "--home", str(home)])
    return (
        "[Unit]\n"
        "Description=photoark: continuous, end-to-end encrypted photo backup\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n\n"
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


def write_user_unit(home: Path, config_home: Path | None = None) -> Path:
    """Write the unit under ``$XDG_CONFIG_HOME/systemd/user`` and return its path."""
    base = config_home or Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    target = base / "systemd" / "user" / UNIT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(unit_text(home.resolve()))
    tmp.replace(target)
    return target
