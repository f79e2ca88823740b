"""The systemd user units written by ``photoark daemon --install-user-service`` (the daemon's,
and the local server's when the account is on it) and ``photoark local start
--install-user-service``."""

from __future__ import annotations

import configparser
import shlex
import subprocess
import sys
from pathlib import Path

from photoark.client.daemon.service import UNIT_NAME, write_user_unit
from photoark.client.local.service import SERVER_UNIT_NAME, write_server_unit


def _unit(path: Path) -> configparser.ConfigParser:
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.optionxform = str  # type: ignore[assignment,method-assign]
    parsed.read(path)
    return parsed


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


def test_the_server_unit_runs_local_start_in_the_foreground(tmp_path: Path) -> None:
    home = tmp_path / "my home"
    unit = write_server_unit(home, config_home=tmp_path / "config")
    assert unit == tmp_path / "config" / "systemd" / "user" / SERVER_UNIT_NAME
    parsed = _unit(unit)
    command = shlex.split(parsed["Service"]["ExecStart"])
    assert command == [
        sys.executable,
        *("-m", "photoark", "local", "start", "--foreground", "--home"),
        str(home.resolve()),
    ]
    assert parsed["Service"]["Restart"] == "on-failure"
    assert parsed["Install"]["WantedBy"] == "default.target"
    assert str(home.resolve() / "server") in parsed["Unit"]["Description"]


def test_the_daemon_unit_comes_after_the_server_s_when_asked(tmp_path: Path) -> None:
    plain = _unit(write_user_unit(tmp_path / "h", config_home=tmp_path / "a"))
    assert SERVER_UNIT_NAME not in plain["Unit"]["After"] + plain["Unit"]["Wants"]
    ordered = _unit(write_user_unit(tmp_path / "h", config_home=tmp_path / "b", after_server=True))
    assert ordered["Unit"]["After"].split() == ["network-online.target", SERVER_UNIT_NAME]
    assert ordered["Unit"]["Wants"].split() == ["network-online.target", SERVER_UNIT_NAME]


def test_the_command_the_server_unit_runs_exists() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "photoark", "local", "start", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--foreground" in out.stdout and "--home" in out.stdout
