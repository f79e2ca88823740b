"""Upload policy: the pause rule, the Linux probe on fake sysfs trees, fake nmcli and a private
D-Bus with a fake NetworkManager, and the file probe."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from jeepney import HeaderFields, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

from photoark.client.daemon.policy import (
    Conditions,
    FileProbe,
    SystemProbe,
    UploadPolicy,
    nm_metered,
    nmcli_metered,
    pause_reason,
)

NO_BUS = "unix:path=/nonexistent"
DBUS_DAEMON = shutil.which("dbus-daemon")  # looked up before tests narrow PATH

# --- pause_reason ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "policy", "expected"),
    [
        (Conditions(), UploadPolicy(), None),
        (Conditions(metered=True), UploadPolicy(), "metered"),
        (Conditions(metered=True), UploadPolicy(on_metered=True), None),
        (Conditions(on_battery=True, battery_percent=15), UploadPolicy(), "battery"),
        (Conditions(on_battery=True, battery_percent=19), UploadPolicy(), "battery"),
        (Conditions(on_battery=True, battery_percent=20), UploadPolicy(), None),
        (Conditions(on_battery=True, battery_percent=80), UploadPolicy(), None),
        (Conditions(on_battery=True, battery_percent=0), UploadPolicy(min_battery=0), None),
        (Conditions(on_battery=True, battery_percent=40), UploadPolicy(min_battery=50), "battery"),
        (Conditions(on_battery=False, battery_percent=5), UploadPolicy(), None),  # charging
        (Conditions(on_battery=True, battery_percent=None), UploadPolicy(), None),
        (Conditions(metered=True, on_battery=True, battery_percent=5), UploadPolicy(), "metered"),
        (
            Conditions(metered=True, on_battery=True, battery_percent=5),
            UploadPolicy(on_metered=True),
            "battery",
        ),
    ],
)
def test_pause_reason(conditions: Conditions, policy: UploadPolicy, expected: str | None) -> None:
    assert pause_reason(conditions, policy) == expected


def test_policy_defaults_match_the_settings() -> None:
    assert UploadPolicy() == UploadPolicy(on_metered=False, min_battery=20)


# --- fake sysfs -----------------------------------------------------------------------------


def make_sysfs(root: Path, supplies: Mapping[str, Mapping[str, str | int]]) -> Path:
    """A fake /sys/class/power_supply: one directory per supply, one file per attribute."""
    root.mkdir(parents=True, exist_ok=True)
    for name, attrs in supplies.items():
        d = root / name
        d.mkdir()
        for attr, value in attrs.items():
            (d / attr).write_text(f"{value}\n")
    return root


@pytest.fixture
def no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No system bus, no nmcli on PATH."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", NO_BUS)


def read_sysfs(root: Path) -> Conditions:
    with SystemProbe(root) as probe:
        return probe.read()


AC_OFF: dict[str, str | int] = {"type": "Mains", "online": 0}
AC_ON: dict[str, str | int] = {"type": "Mains", "online": 1}


@pytest.mark.usefixtures("no_network")
def test_laptop_on_battery(tmp_path: Path) -> None:
    root = make_sysfs(
        tmp_path / "ps",
        {"AC": AC_OFF, "BAT0": {"type": "Battery", "status": "Discharging", "capacity": 15}},
    )
    conditions = read_sysfs(root)
    assert conditions == Conditions(metered=False, on_battery=True, battery_percent=15)
    assert pause_reason(conditions, UploadPolicy()) == "battery"


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("status", ["Charging", "Full", "Not charging"])
def test_laptop_on_mains(tmp_path: Path, status: str) -> None:
    root = make_sysfs(
        tmp_path / "ps",
        {"AC": AC_ON, "BAT0": {"type": "Battery", "status": status, "capacity": 15}},
    )
    assert read_sysfs(root) == Conditions(on_battery=False, battery_percent=15)


@pytest.mark.usefixtures("no_network")
def test_mains_online_wins_over_a_discharging_battery(tmp_path: Path) -> None:
    root = make_sysfs(
        tmp_path / "ps",
        {
            "AC": AC_OFF,
            "ucsi-source-psy-USBC000:001": {"type": "USB", "online": 1},
            "BAT0": {"type": "Battery", "status": "Discharging", "capacity": 50},
        },
    )
    assert read_sysfs(root).on_battery is False


@pytest.mark.usefixtures("no_network")
def test_desktop_without_battery(tmp_path: Path) -> None:
    root = make_sysfs(tmp_path / "ps", {"AC": AC_ON})
    assert read_sysfs(root) == Conditions()
    assert read_sysfs(make_sysfs(tmp_path / "empty", {})) == Conditions()
    assert read_sysfs(tmp_path / "missing") == Conditions()


@pytest.mark.usefixtures("no_network")
def test_battery_without_a_mains_entry(tmp_path: Path) -> None:
    discharging = make_sysfs(
        tmp_path / "a", {"BAT0": {"type": "Battery", "status": "Discharging", "capacity": 42}}
    )
    assert read_sysfs(discharging) == Conditions(on_battery=True, battery_percent=42)
    charging = make_sysfs(
        tmp_path / "b", {"BAT0": {"type": "Battery", "status": "Charging", "capacity": 42}}
    )
    assert read_sysfs(charging) == Conditions(on_battery=False, battery_percent=42)


@pytest.mark.usefixtures("no_network")
def test_two_batteries_energy_weighted(tmp_path: Path) -> None:
    root = make_sysfs(
        tmp_path / "ps",
        {
            "AC": AC_OFF,
            # 10 % of a big battery, 90 % of a small one: 14 Wh of 60 Wh is 23 %
            "BAT0": {
                "type": "Battery",
                "status": "Discharging",
                "capacity": 10,
                "energy_now": 5_000_000,
                "energy_full": 50_000_000,
            },
            "BAT1": {
                "type": "Battery",
                "status": "Unknown",
                "capacity": 90,
                "energy_now": 9_000_000,
                "energy_full": 10_000_000,
            },
        },
    )
    assert read_sysfs(root) == Conditions(on_battery=True, battery_percent=23)


@pytest.mark.usefixtures("no_network")
def test_two_batteries_averaged_without_energy(tmp_path: Path) -> None:
    root = make_sysfs(
        tmp_path / "ps",
        {
            "BAT0": {"type": "Battery", "status": "Discharging", "capacity": 10},
            "BAT1": {"type": "Battery", "status": "Discharging", "capacity": 20},
        },
    )
    assert read_sysfs(root) == Conditions(on_battery=True, battery_percent=15)


@pytest.mark.usefixtures("no_network")
def test_peripheral_batteries_and_empty_bays_are_ignored(tmp_path: Path) -> None:
    root = make_sysfs(
        tmp_path / "ps",
        {
            "AC": AC_ON,
            "hidpp_battery_0": {
                "type": "Battery",
                "scope": "Device",
                "status": "Discharging",
                "capacity": 5,
            },
            "BAT1": {"type": "Battery", "present": 0, "status": "Unknown"},
        },
    )
    assert read_sysfs(root) == Conditions()


@pytest.mark.usefixtures("no_network")
def test_garbage_in_sysfs_is_not_an_error(tmp_path: Path) -> None:
    root = make_sysfs(
        tmp_path / "ps",
        {
            "AC": {"type": "Mains", "online": "?"},
            "BAT0": {"type": "Battery", "status": "Discharging", "capacity": "lots"},
            "weird": {},
        },
    )
    assert read_sysfs(root) == Conditions(on_battery=True, battery_percent=None)


# --- metered: nmcli and nothing -------------------------------------------------------------

NMCLI_WIFI_METERED = """\
GENERAL.DEVICE:wlp2s0
GENERAL.STATE:100 (connected)
GENERAL.METERED:yes
IP4.GATEWAY:192.168.43.1
IP6.GATEWAY:

GENERAL.DEVICE:lo
GENERAL.STATE:100 (connected (externally))
GENERAL.METERED:unknown
IP4.GATEWAY:
IP6.GATEWAY:

GENERAL.DEVICE:enp0s31f6
GENERAL.STATE:20 (unavailable)
GENERAL.METERED:unknown
IP4.GATEWAY:
IP6.GATEWAY:
"""

NMCLI_ETHERNET = """\
GENERAL.DEVICE:enp0s31f6
GENERAL.STATE:100 (connected)
GENERAL.METERED:no (guessed)
IP4.GATEWAY:10.0.0.1
IP6.GATEWAY:fe80\\:\\:1

GENERAL.DEVICE:wwan0
GENERAL.STATE:30 (disconnected)
GENERAL.METERED:yes (guessed)
IP4.GATEWAY:
IP6.GATEWAY:
"""

NMCLI_GUESSED_NO_GATEWAY = """\
GENERAL.DEVICE:usb0
GENERAL.STATE:100 (connected)
GENERAL.METERED:yes (guessed)
IP4.GATEWAY:
IP6.GATEWAY:
"""

NMCLI_TETHER_BESIDE_ROUTED_WIFI = """\
GENERAL.DEVICE:wlp2s0
GENERAL.STATE:100 (connected)
GENERAL.METERED:no
IP4.GATEWAY:192.168.1.1
IP6.GATEWAY:

GENERAL.DEVICE:usb0
GENERAL.STATE:100 (connected)
GENERAL.METERED:yes (guessed)
IP4.GATEWAY:
IP6.GATEWAY:
"""


@pytest.mark.parametrize(
    ("output", "metered"),
    [
        (NMCLI_WIFI_METERED, True),
        (NMCLI_ETHERNET, False),
        (NMCLI_GUESSED_NO_GATEWAY, True),
        (NMCLI_TETHER_BESIDE_ROUTED_WIFI, False),
        ("", False),
    ],
)
def test_nmcli_output(output: str, metered: bool) -> None:
    assert nmcli_metered(output) is metered


@pytest.mark.parametrize(
    ("value", "metered"), [(0, False), (1, True), (2, False), (3, True), (4, False), (99, False)]
)
def test_network_manager_metered_values(value: int, metered: bool) -> None:
    assert nm_metered(value) is metered


def fake_nmcli(bindir: Path, script: str) -> Path:
    bindir.mkdir(exist_ok=True)
    path = bindir / "nmcli"
    path.write_text("#!/bin/sh\nPATH=/usr/bin:/bin\n" + script)
    path.chmod(0o755)
    return path


def nmcli_printing(bindir: Path, output: str) -> Path:
    (bindir.parent / "nmcli.out").write_text(output)
    return fake_nmcli(
        bindir,
        f'echo "$LC_ALL $*" > "{bindir.parent}/nmcli.args"\ncat "{bindir.parent}/nmcli.out"\n',
    )


@pytest.fixture
def bindir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake-tool directory alone on PATH, and no system bus."""
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", str(d))
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", NO_BUS)
    return d


def test_nmcli_fallback_when_dbus_is_unavailable(tmp_path: Path, bindir: Path) -> None:
    nmcli_printing(bindir, NMCLI_WIFI_METERED)
    with SystemProbe(tmp_path / "no-sysfs") as probe:
        assert probe.read() == Conditions(metered=True)
        assert (tmp_path / "nmcli.args").read_text().split() == [
            "C",
            "-t",
            "-f",
            "GENERAL.DEVICE,GENERAL.STATE,GENERAL.METERED,IP4.GATEWAY,IP6.GATEWAY",
            "device",
            "show",
        ]
        (tmp_path / "nmcli.out").write_text(NMCLI_ETHERNET)
        assert probe.read() == Conditions(metered=False)


def test_failing_nmcli_means_unmetered(tmp_path: Path, bindir: Path) -> None:
    fake_nmcli(bindir, 'echo "Error: NetworkManager is not running." >&2\nexit 8\n')
    with SystemProbe(tmp_path / "no-sysfs") as probe:
        assert probe.read() == Conditions()


def test_hanging_nmcli_is_cut_short(tmp_path: Path, bindir: Path) -> None:
    fake_nmcli(bindir, "exec sleep 30\n")
    with SystemProbe(tmp_path / "no-sysfs", timeout=0.3) as probe:
        started = time.monotonic()
        assert probe.read() == Conditions()
        assert time.monotonic() - started < 5


@pytest.mark.usefixtures("no_network")
def test_nothing_available_is_unmetered_on_mains(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="photoark.client.daemon.policy")
    with SystemProbe(tmp_path / "no-sysfs") as probe:
        for _ in range(3):
            assert probe.read() == Conditions()
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert sorted(r.getMessage().split(" unavailable")[0] for r in infos) == [
        "NetworkManager on D-Bus",
        "nmcli",
    ]


# --- metered: a private bus with a fake NetworkManager --------------------------------------

BUS_CONFIG = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def start_bus(tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    """A throw-away dbus-daemon and its address (the test is skipped where there is none)."""
    if DBUS_DAEMON is None:
        pytest.skip("no dbus-daemon")
    socket_path = tmp_path / "bus"
    if len(str(socket_path)) > 100:
        pytest.skip("tmp path too long for a unix socket")
    config = tmp_path / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket_path))
    proc = subprocess.Popen(
        [DBUS_DAEMON, f"--config-file={config}", "--nofork", "--print-address"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    if not address:
        stop_bus(proc)
        pytest.skip("dbus-daemon did not start")
    return proc, address


def stop_bus(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture
def private_bus(tmp_path: Path) -> Iterator[str]:
    proc, address = start_bus(tmp_path)
    try:
        yield address
    finally:
        stop_bus(proc)


class FakeNetworkManager:
    """Owns org.freedesktop.NetworkManager on a bus and answers Properties.Get(Metered)."""

    def __init__(self, address: str, metered: int) -> None:
        self.metered = metered
        self._conn: Any = open_dbus_connection(bus=address)
        self._conn.send_and_get_reply(
            message_bus.RequestName("org.freedesktop.NetworkManager"), timeout=5
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._conn.receive(timeout=0.05)
            except TimeoutError:
                continue
            if msg.header.message_type != MessageType.method_call:
                continue
            member = msg.header.fields.get(HeaderFields.member)
            if member == "Get" and msg.body == ("org.freedesktop.NetworkManager", "Metered"):
                self._conn.send(new_method_return(msg, "v", (("u", self.metered),)))
            else:
                self._conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._conn.close()


def test_metered_from_network_manager_on_dbus(
    tmp_path: Path, bindir: Path, private_bus: str
) -> None:
    nmcli_printing(bindir, NMCLI_WIFI_METERED)  # must not be asked while D-Bus answers
    nm = FakeNetworkManager(private_bus, metered=1)
    try:
        with SystemProbe(tmp_path / "no-sysfs", dbus_address=private_bus) as probe:
            for value, metered in [(1, True), (3, True), (2, False), (4, False), (0, False)]:
                nm.metered = value
                assert probe.read().metered is metered, value
            assert not (tmp_path / "nmcli.args").exists()
    finally:
        nm.stop()


def test_dbus_without_network_manager_falls_back_to_nmcli(
    tmp_path: Path, bindir: Path, private_bus: str
) -> None:
    with SystemProbe(tmp_path / "no-sysfs", dbus_address=private_bus) as probe:
        assert probe.read().metered is False  # no NetworkManager, no nmcli
        nmcli_printing(bindir, NMCLI_WIFI_METERED)
        assert probe.read().metered is True  # no NetworkManager on the bus: nmcli asked
        os.remove(bindir / "nmcli")
        nm = FakeNetworkManager(private_bus, metered=1)
        try:
            assert probe.read().metered is True  # NetworkManager appeared: same connection
            nm.metered = 4
            assert probe.read().metered is False
        finally:
            nm.stop()


def test_a_dying_bus_is_survived(tmp_path: Path, bindir: Path) -> None:
    proc, address = start_bus(tmp_path)
    try:
        nm = FakeNetworkManager(address, metered=1)
        with SystemProbe(tmp_path / "no-sysfs", dbus_address=address, timeout=1) as probe:
            assert probe.read().metered is True
            nm.stop()
            stop_bus(proc)
            assert probe.read() == Conditions()  # connection lost, reconnect refused
            assert probe.read() == Conditions()
    finally:
        stop_bus(proc)


def test_a_silent_bus_does_not_hang_the_probe(tmp_path: Path, bindir: Path) -> None:
    """A bus that authenticates us and then never answers (not even Hello)."""
    path = tmp_path / "silent"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    held: list[socket.socket] = []

    def serve() -> None:
        conn, _ = server.accept()
        held.append(conn)
        received = b""
        while b"\r\n" not in received:
            received += conn.recv(1024)
        conn.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with SystemProbe(
            tmp_path / "no-sysfs", dbus_address=f"unix:path={path}", timeout=0.3
        ) as probe:
            started = time.monotonic()
            assert probe.read() == Conditions()
            assert time.monotonic() - started < 5
    finally:
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


# --- FileProbe ------------------------------------------------------------------------------


def test_file_probe_missing_file(tmp_path: Path) -> None:
    assert FileProbe(tmp_path / "conditions.json").read() == Conditions()


def test_file_probe_partial_and_full_files(tmp_path: Path) -> None:
    path = tmp_path / "conditions.json"
    probe = FileProbe(path)
    path.write_text(json.dumps({"metered": True}))
    assert probe.read() == Conditions(metered=True)
    path.write_text(json.dumps({"on_battery": True}))
    assert probe.read() == Conditions(on_battery=True)
    path.write_text(json.dumps({"metered": False, "on_battery": True, "battery_percent": 12}))
    assert probe.read() == Conditions(metered=False, on_battery=True, battery_percent=12)
    assert pause_reason(probe.read(), UploadPolicy()) == "battery"
    path.write_text(json.dumps({"metered": True, "on_battery": False, "battery_percent": None}))
    assert probe.read() == Conditions(metered=True)
    path.unlink()
    assert probe.read() == Conditions()


@pytest.mark.parametrize(
    "content",
    ["{not json", "[1, 2]", '{"metered": "yes", "battery_percent": "12"}', "\xff"],
)
def test_file_probe_unreadable_or_odd_content(tmp_path: Path, content: str) -> None:
    path = tmp_path / "conditions.json"
    path.write_text(content, encoding="latin-1")
    assert FileProbe(path).read() == Conditions()
