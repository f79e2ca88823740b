"""The systemd user unit written by ``photoark daemon --install-user-service``."""

from __future__ import annotations

import configparser
import shlex
import subprocess
import sys
from pathlib import Path

from photoark.client.daemon.service import UNIT_NAME, write_user_unit


def test_unit_runs_this_python_with_this_home(tmp_path: Path) -> None:
    home = tmp_path / "my home"
    unit = write_user_unit(home, config_home=tmp_path / "config")
    assert unit == tmp_path / "config" / "systemd" / "user" / UNIT_NAME
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.optionxform = str  # type: ignore[assignment,method-assign]
    parsed.read(unit)
    command = shlex.split(parsed["Service"]["ExecStart"])
    assert command == [sys.executable, "-m", "photoark", "daemon", "--home", str(home.resolve())]
    assert parsed["Service"]["Restart"] == "on-failure"
    assert parsed["Install"]["WantedBy"] == "default.target"


def test_the_command_it_runs_exists() -> None:
    """``python -m photoark`` is the CLI (the unit's ExecStart relies on it)."""
    out = subprocess.run(
        [sys.executable, "-m", "photoark", "daemon", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--install-user-service" in out.stdout
