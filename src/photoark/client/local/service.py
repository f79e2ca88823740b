"""systemd *user* units: the local server's (``photoark-server.service``), and what the
daemon's unit (:mod:`photoark.client.daemon.service`) shares with it.

Units go to ``$XDG_CONFIG_HOME/systemd/user`` and run the same Python interpreter and
``--home`` as the command that wrote them. The server's unit runs
``photoark local start --foreground``: the server process replaces that command (same pid, so
systemd watches the server itself), after stopping a copy of it started detached. Its output
goes to the journal (``journalctl --user -u photoark-server``).

:func:`enable_user_units` asks ``systemctl --user`` to enable (and start) units; where it cannot
(no systemctl, no user session bus: a container, some ssh sessions) it says why, and the
commands tell the user what to do instead.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "SERVER_UNIT_NAME",
    "enable_user_units",
    "installed_server_unit",
    "server_unit_text",
    "unit_enabled",
    "user_unit_dir",
    "write_server_unit",
    "write_unit",
]

SERVER_UNIT_NAME = "photoark-server.service"


def user_unit_dir(config_home: Path | None = None) -> Path:
    """``$XDG_CONFIG_HOME/systemd/user`` (``~/.config/systemd/user``)."""
    base = config_home or Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "systemd" / "user"


def write_unit(name: str, text: str, config_home: Path | None = None) -> Path:
    """Write (or replace, atomically) the user unit ``name``; returns its path."""
    target = user_unit_dir(config_home) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(target)
    return target


def server_unit_text(home: Path, python: str = sys.executable) -> str:
    command = shlex.join(
        [python, "-m", "photoark", "local", "start", "--foreground", "--home", str(home)]
    )
    return (
        "[Unit]\n"
        f"Description=photoark: the local server quickstart set up (data in {home / 'server'})\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={command}\n"
        "Restart=on-failure\n"
        "RestartSec=10\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def write_server_unit(home: Path, config_home: Path | None = None) -> Path:
    """Write ``photoark-server.service`` for the client home ``home``; returns its path."""
    return write_unit(SERVER_UNIT_NAME, server_unit_text(home.resolve()), config_home)


def installed_server_unit(config_home: Path | None = None) -> Path | None:
    """The server's unit file, if one was written."""
    path = user_unit_dir(config_home) / SERVER_UNIT_NAME
    return path if path.is_file() else None


def unit_enabled(name: str, config_home: Path | None = None) -> bool:
    """Whether the user unit ``name`` is enabled (``systemctl --user enable`` links it into
    ``default.target.wants``), read from the files: no systemd needed to ask."""
    return (user_unit_dir(config_home) / "default.target.wants" / name).exists()


def enable_user_units(names: Sequence[str], now: bool = True) -> str | None:
    """``systemctl --user daemon-reload``, then ``enable [--now] NAMES``. Returns None when
    done, else why it could not be done (systemctl absent or failing)."""
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return "systemctl is not installed"
    enable = ["enable", *(["--now"] if now else []), *names]
    for args in (["daemon-reload"], enable):
        try:
            done = subprocess.run(
                [systemctl, "--user", *args], capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"`systemctl --user {shlex.join(args)}` failed: {err}"
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            return f"`systemctl --user {shlex.join(args)}` failed: {said}"
    return None
