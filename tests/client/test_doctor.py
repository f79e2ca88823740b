"""``photoark doctor``'s local checks, each with its fix (the server checks: tests/e2e; the
local server quickstart set up, down: here)."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

from photoark.client.daemon.policy import Conditions
from photoark.client.doctor import Finding, run_checks
from photoark.client.home import ClientHome, resolve_home
from photoark.client.state import StateDB
from photoark.client.state.account import AccountStore
from photoark.client.state.watches import WatchList
from tests.builders import local_home


class Probe:
    def __init__(self, conditions: Conditions) -> None:
        self.conditions = conditions

    def read(self) -> Conditions:
        return self.conditions


MAINS = Probe(Conditions(metered=False, on_battery=False, battery_percent=None))


def _by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def test_not_logged_in_and_nothing_watched(tmp_path: Path) -> None:
    found = _by_check(run_checks(resolve_home(tmp_path / "h"), MAINS, which=lambda _: "/x"))
    assert found["login"].level == "fail" and "photoark login" in found["login"].fix
    assert found["watches"].level == "warn" and "watch add" in found["watches"].fix
    assert found["daemon"].level == "warn"
    assert found["ffmpeg"].level == "ok"
    assert found["battery/network"].level == "ok"


def test_watch_problems_inotify_limit_policy_and_ffmpeg(tmp_path: Path) -> None:
    home = resolve_home(tmp_path / "h")
    db = StateDB(home.ensure().state_db)
    tree = tmp_path / "photos"
    for sub in ("a", "b", "c/d", "c/e"):
        (tree / sub).mkdir(parents=True)
    gone = tmp_path / "usb"
    gone.mkdir()
    WatchList(db).add(str(tree))
    WatchList(db).add(str(gone))
    db.close()
    gone.rmdir()
    limit = tmp_path / "max_user_watches"
    limit.write_text("4\n")
    metered = Probe(Conditions(metered=True, on_battery=False, battery_percent=None))
    found = _by_check(run_checks(home, metered, inotify_limit=limit, which=lambda _: None))
    assert found[f"watch {gone}"].level == "fail" and "unplugged" in found[f"watch {gone}"].detail
    assert found[f"watch {tree}"].level == "ok"
    assert found["inotify"].level == "fail"
    assert "max_user_watches" in found["inotify"].fix and "6 folders" in found["inotify"].detail
    assert found["battery/network"].level == "warn" and "metered" in found["battery/network"].detail
    assert "upload.on_metered" in found["battery/network"].fix
    assert found["ffmpeg"].level == "warn" and "apt install ffmpeg" in found["ffmpeg"].fix
    limit.write_text("524288\n")
    assert _by_check(run_checks(home, MAINS, inotify_limit=limit))["inotify"].level == "ok"


def _home_with_local_account(tmp_path: Path, port: int) -> ClientHome:
    """A home as quickstart leaves it, its server (on ``port``) not running."""
    return local_home(tmp_path / "h", port)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_local_server_down_is_fixed_by_local_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    home = _home_with_local_account(tmp_path, _closed_port())
    server = _by_check(run_checks(home, MAINS))["server"]
    assert server.level == "fail" and str(home.server_dir) in server.detail
    assert server.fix == (
        "photoark local start (and, to start it at every login: "
        "photoark local start --install-user-service)"
    )
    wants = tmp_path / "config" / "systemd" / "user" / "default.target.wants"
    wants.mkdir(parents=True)
    (wants / "photoark-server.service").touch()  # enabled: it comes back by itself
    assert _by_check(run_checks(home, MAINS))["server"].fix == "photoark local start"


def test_a_remote_server_down_is_not_the_local_one(tmp_path: Path) -> None:
    home = _home_with_local_account(tmp_path, _closed_port())
    db = StateDB(home.state_db)
    account = AccountStore(db).load()
    assert account is not None
    AccountStore(db).save(dataclasses.replace(account, server="http://127.0.0.1:9"))
    db.close()
    server = _by_check(run_checks(home, MAINS))["server"]
    assert server.level == "fail" and "photoark server" in server.fix
    assert "local start" not in server.fix


def test_devices_say_what_each_kind_lacks(tmp_path: Path) -> None:
    from photoark.client.devices.support import DeviceSupport

    bare = DeviceSupport(
        mountinfo=True,
        udisks_bus=False,
        gvfs_running=False,
        gvfs_backends={"mtp": False, "gphoto2": True, "afc": False},
        gphoto2_binding=False,
        session_bus=False,
    )
    home = resolve_home(tmp_path / "h")
    found = _by_check(run_checks(home, MAINS, which=lambda _: "/x", devices=lambda: bare))
    cards = found["devices: cards"]
    assert cards.level == "ok" and "mount them yourself" in cards.detail
    phones = found["devices: phones"]
    assert phones.level == "warn" and "gvfsd-mtp is not installed" in phones.detail
    assert "gvfs is not running" in phones.detail and "gvfs-backends" in phones.fix
    assert "gvfsd-gphoto2" not in found["devices: cameras"].detail  # installed
    assert found["devices: notifications"].level == "warn"
    desktop = dataclasses.replace(
        bare,
        udisks_bus=True,
        gvfs_running=True,
        gvfs_backends={"mtp": True, "gphoto2": True, "afc": True},
        session_bus=True,
    )
    found = _by_check(run_checks(home, MAINS, which=lambda _: "/x", devices=lambda: desktop))
    assert all(f.level == "ok" for name, f in found.items() if name.startswith("devices"))
