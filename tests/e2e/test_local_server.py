"""The local server quickstart sets up comes back: ``photoark local stop|start|status`` keep its
address and data, ``photoark server`` with no ``--data`` serves that data, ``--foreground``
takes it over (the systemd unit), and a different server on its port is named, never used."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders import Client, ServerProcess, fake_command, jpeg_bytes, make_tree, wait_for


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """A home after ``photoark quickstart`` of a folder of 2 photos; its server is stopped at
    the end, however the test went."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    pics = make_tree(tmp_path / "Pics", {f"img{i}.jpg": jpeg_bytes(i) for i in range(2)})
    client = Client(tmp_path / "home", server="")
    try:
        client.server = client.json("quickstart", str(pics))["server"]
        yield client
    finally:
        status = client.run("local", "status", "--json", check=False)
        pid = json.loads(status.stdout)["pid"] if status.returncode == 0 else None
        if pid:
            os.kill(pid, signal.SIGKILL)


def _status(client: Client) -> Any:
    return client.json("local", "status")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_stop_then_start_keeps_the_address_and_the_account(client: Client) -> None:
    first = _status(client)
    assert first["running"] and first["url"] == client.server and first["pid"]
    assert first["data_dir"] == str(client.home / "server")
    assert first["log"] == str(client.home / "logs" / "server.log")

    stopped = client.json("local", "stop")
    assert stopped["stopped_pid"] == first["pid"] and not stopped["running"]
    assert not _answers(client.server)
    assert client.run("ls", check=False).returncode == 5  # unreachable
    assert "not running" in client.run("local", "stop").stdout  # stopping again: fine

    started = client.json("local", "start")
    assert started["url"] == client.server and started["running"]
    assert started["pid"] and started["pid"] != first["pid"]
    assert not started["already_running"]
    assert sorted(r["name"] for r in client.json("ls", "Pics")) == ["img0.jpg", "img1.jpg"]

    again = client.run("local", "start")
    assert f"already running on {client.server} (pid {started['pid']})" in again.stdout


def test_doctor_says_photoark_local_start_when_it_is_down(client: Client) -> None:
    client.run("local", "stop")
    report = client.json("doctor", check=False)
    server = {c["check"]: c for c in report["checks"]}["server"]
    assert server["level"] == "fail"
    assert server["fix"].startswith("photoark local start")
    assert "--install-user-service" in server["fix"]  # no unit yet: how to make it come back
    assert str(client.home / "server") in server["detail"]


def test_a_different_server_on_the_port_is_named_not_used(tmp_path: Path, client: Client) -> None:
    client.run("local", "stop")
    port = _port(client.server)
    (tmp_path / "empty").mkdir()
    other = ServerProcess(tmp_path / "empty", port).start()  # `photoark server` of other data
    try:
        report = client.json("doctor", check=False)
        login = {c["check"]: c for c in report["checks"]}["login"]
        assert login["level"] == "fail"
        assert (
            f"a different server (empty, or with other data) is running on port {port}"
            in (login["detail"])
        )
        assert login["fix"].endswith("then run: photoark local start")
        assert "photoark login" not in login["fix"]  # logging in again would not help

        refused = client.run("local", "start", check=False)
        assert refused.returncode == 1
        assert f"port {port} is taken by another server" in " ".join(refused.stderr.split())
        assert _status(client)["port_taken"]
    finally:
        other.stop()
    client.run("local", "start")
    assert len(client.json("ls", "Pics")) == 2


def test_quickstart_again_never_moves_the_server_off_the_account_s_port(client: Client) -> None:
    client.run("local", "stop")
    port = _port(client.server)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        again = client.run("quickstart", str(client.home.parent / "Pics"), check=False)
        assert again.returncode == 1
        assert f"port {port} is taken by another program" in " ".join(again.stderr.split())
        assert not _status(client)["running"]
    assert client.json("quickstart", str(client.home.parent / "Pics"))["server"] == client.server


def _photoark(*args: str) -> list[str]:
    return [sys.executable, "-m", "photoark.cli.main", *args]


def _env(client: Client) -> dict[str, str]:
    return {**os.environ, "PHOTOARK_HOME": str(client.home)}


def test_photoark_server_without_data_serves_the_quickstart_data(
    tmp_path: Path, client: Client
) -> None:
    client.run("local", "stop")
    server = subprocess.Popen(
        _photoark("server"), env=_env(client), stdout=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: _answers(client.server) or server.poll() is not None, timeout=30)
        assert server.poll() is None
        assert len(client.json("ls", "Pics")) == 2  # the account is there: same data, same port
        status = _status(client)
        assert status["running"] and status["pid"] is None  # not started by `local`
        assert client.run("local", "stop", check=False).returncode == 1  # not ours to stop
        twice = client.run("server", "--port", "0", check=False)
        assert twice.returncode == 1 and "already served" in twice.stderr
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=15)
    said = " ".join(out.split())
    assert f"data {client.home / 'server'}" in said and "photoark server --data DIR" in said

    default = tmp_path / "xdg" / "photoark-server"  # another server's data, by default
    default.mkdir(parents=True)
    (default / "photoark.db").write_bytes(b"")
    refused = client.run("server", check=False)
    assert refused.returncode == 2
    said = " ".join(refused.stderr.split())
    assert str(client.home / "server") in said and str(default) in said
    assert not _answers(client.server)


def test_foreground_takes_the_detached_server_over(client: Client) -> None:
    detached = _status(client)["pid"]
    foreground = subprocess.Popen(
        _photoark("local", "start", "--foreground"),
        env=_env(client),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # the server runs in that very process (exec'd): systemd watches the server itself
        wait_for(lambda: _status(client)["pid"] == foreground.pid and _answers(client.server))
        assert detached != foreground.pid
        assert len(client.json("ls", "Pics")) == 2
        assert client.json("local", "stop")["stopped_pid"] == foreground.pid
        assert foreground.wait(15) in (0, -signal.SIGTERM)
    finally:
        if foreground.poll() is None:
            foreground.kill()
            foreground.wait()


def test_install_user_service_without_a_user_bus_still_starts_it(
    tmp_path: Path, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.run("local", "stop")
    fake_command(
        tmp_path / "bin",
        "systemctl",
        "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    done = client.run("local", "start", "--install-user-service")
    said = " ".join(done.stdout.split())
    assert "could not enable it" in said and "No medium found" in said
    assert f"started the local server on {client.server}" in said
    status = _status(client)
    assert status["running"] and status["service"]["installed"]
    assert not status["service"]["enabled"]

    daemon = " ".join(client.run("daemon", "--install-user-service").stdout.split())
    units = tmp_path / "config" / "systemd" / "user"
    assert f"wrote {units / 'photoark-server.service'} (the local server)" in daemon
    assert "photoark local start" in daemon  # what to do instead
    assert f"wrote {units / 'photoark.service'}" in daemon
    assert "After=network-online.target photoark-server.service" in (
        (units / "photoark.service").read_text()
    )
