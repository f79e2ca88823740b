"""The local server's bookkeeping without a real server: which process is ours, a port taken
by another program, the not-set-up message, what installs its systemd unit (the units' text:
tests/client/test_service.py).
(Real servers started, stopped and restarted: tests/e2e/test_local_server.py.)"""

from __future__ import annotations

import configparser
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from photoark.cli.main import build_app
from photoark.client.daemon.service import UNIT_NAME, install_user_services
from photoark.client.errors import ClientError
from photoark.client.home import ClientHome
from photoark.client.local.control import install_server_service, local_status
from photoark.client.local.server import (
    is_server_process,
    known_local_server,
    local_account_server,
    port_in_use,
    start_local_server,
    stop_local_server,
)
from photoark.client.local.service import SERVER_UNIT_NAME, unit_enabled
from photoark.client.state import StateDB
from photoark.client.state.account import AccountStore
from tests.builders import fake_command, local_home, stored_account


def _unit(path: Path) -> configparser.ConfigParser:
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.optionxform = str  # type: ignore[assignment,method-assign]
    parsed.read(path)
    return parsed


def _local_home(tmp_path: Path, port: int, account_url: str | None = "same") -> ClientHome:
    return local_home(tmp_path / "home", port, account_url)


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another program holds (bound, not answering)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


@pytest.fixture
def systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``systemctl`` first on PATH: records its arguments, enables by linking as the
    real one does; units go to a config home under tmp_path."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    calls = tmp_path / "systemctl.calls"
    wants = tmp_path / "config" / "systemd" / "user" / "default.target.wants"
    fake_command(
        tmp_path / "bin",
        "systemctl",
        f'#!/bin/sh\necho "$@" >> {calls}\n'
        f'if [ "$2" = enable ]; then mkdir -p {wants}; for u in "$@"; do\n'
        f'  case "$u" in *.service) ln -sf ../"$u" {wants}/"$u";; esac; done; fi\n',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    return calls


# -- whose process, whose port ------------------------------------------------------------------


_SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def _like_our_server(data: Path) -> subprocess.Popen[bytes]:
    """A process whose command line names the server module and ``data`` (as ours do)."""
    return subprocess.Popen([*_SLEEP, "photoark.server", str(data)])


def test_only_our_server_process_counts(tmp_path: Path) -> None:
    data = tmp_path / "server"
    ours = _like_our_server(data)
    other = subprocess.Popen(_SLEEP)
    try:
        assert is_server_process(ours.pid, data)
        assert not is_server_process(ours.pid, tmp_path / "elsewhere")
        assert not is_server_process(other.pid, data)  # a pid reused after a reboot
        assert not is_server_process(None, data)
    finally:
        ours.kill()
        other.kill()
        ours.wait()
        other.wait()
    assert not is_server_process(ours.pid, data)


def test_stop_signals_our_process_and_never_another(tmp_path: Path) -> None:
    home = _local_home(tmp_path, 9, account_url=None)
    record = home.server_dir / "local-server.json"
    stranger = subprocess.Popen(_SLEEP)
    try:
        record.write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": stranger.pid}))
        assert stop_local_server(home) is None  # not ours: left alone
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
    ours = _like_our_server(home.server_dir)
    record.write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": ours.pid}))
    assert stop_local_server(home) == ours.pid
    assert ours.wait(5) == -15  # SIGTERM
    known = known_local_server(home)
    assert known is not None and known.pid is None


def test_port_in_use(held_port: int) -> None:
    assert port_in_use(held_port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    assert not port_in_use(port)


def test_the_account_s_port_taken_is_an_error_naming_it(tmp_path: Path, held_port: int) -> None:
    home = _local_home(tmp_path, held_port)
    db = StateDB(home.state_db)
    account = AccountStore(db).load()
    db.close()
    assert account is not None and local_account_server(home, account) is not None
    with pytest.raises(ClientError) as err:
        start_local_server(home, account)  # never on another port: the account would break
    assert f"port {held_port} is taken" in str(err.value)
    assert "photoark local start" in err.value.hint
    assert not (home.log_dir / "server.log").exists()  # nothing was started


def test_an_account_elsewhere_is_not_on_the_local_server(tmp_path: Path) -> None:
    home = _local_home(tmp_path, 8123, account_url="https://photos.example.org")
    assert local_account_server(home, stored_account("https://photos.example.org")) is None
    assert local_account_server(home, stored_account("http://127.0.0.1:9999")) is None
    assert local_account_server(home, stored_account("http://localhost:8123")) is not None
    assert local_account_server(home, None) is not None  # no account yet: it is the one


def test_status_of_a_stopped_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    home = _local_home(tmp_path, port)
    status = local_status(home).as_json()
    assert status["url"] == f"http://127.0.0.1:{port}"
    assert status["data_dir"] == str(home.server_dir)
    assert status["log"] == str(home.log_dir / "server.log")
    assert (status["running"], status["pid"], status["port_taken"]) == (False, None, False)
    assert status["account_here"] is True
    assert status["service"] == {
        "unit": SERVER_UNIT_NAME,
        "path": None,
        "installed": False,
        "enabled": False,
    }


@pytest.mark.parametrize("command", ["start", "stop", "status"])
def test_a_home_quickstart_did_not_set_up_says_so(tmp_path: Path, command: str) -> None:
    home = tmp_path / "plain"
    result = CliRunner().invoke(build_app(["local"]), ["local", command, "--home", str(home)])
    assert result.exit_code == 1, result.output
    assert "not set up with `photoark quickstart`" in " ".join(result.output.split())


# -- systemd units ------------------------------------------------------------------------------


def test_daemon_install_also_installs_and_enables_the_local_server(
    tmp_path: Path, systemctl: Path
) -> None:
    home = _local_home(tmp_path, 8123)
    installed = install_user_services(home)
    units = tmp_path / "config" / "systemd" / "user"
    assert installed.server_unit == units / SERVER_UNIT_NAME
    assert installed.daemon_unit == units / UNIT_NAME
    assert installed.server_not_enabled is None
    assert systemctl.read_text().splitlines() == [
        "--user daemon-reload",
        f"--user enable --now {SERVER_UNIT_NAME}",
    ]
    assert unit_enabled(SERVER_UNIT_NAME)
    assert SERVER_UNIT_NAME in _unit(units / UNIT_NAME)["Unit"]["After"]


def test_daemon_install_for_a_remote_account_writes_the_daemon_unit_only(
    tmp_path: Path, systemctl: Path
) -> None:
    home = _local_home(tmp_path, 8123, account_url="https://photos.example.org")
    installed = install_user_services(home)
    assert installed.server_unit is None and not systemctl.exists()
    assert SERVER_UNIT_NAME not in _unit(installed.daemon_unit)["Unit"]["After"]


def test_without_systemctl_install_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    home = _local_home(tmp_path, 8123)
    installed = install_user_services(home)
    assert installed.server_unit is not None and installed.server_unit.exists()
    assert installed.server_not_enabled == "systemctl is not installed"
    alone = install_server_service(home, timeout=0.1)
    assert alone.unit == installed.server_unit and alone.not_enabled == installed.server_not_enabled


def test_a_failing_systemctl_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    fake_command(
        tmp_path / "bin",
        "systemctl",
        "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n",
    )
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    installed = install_server_service(_local_home(tmp_path, 8123), timeout=0.1)
    assert installed.not_enabled == (
        "`systemctl --user daemon-reload` failed: Failed to connect to bus: No medium found"
    )
    assert not unit_enabled(SERVER_UNIT_NAME)
