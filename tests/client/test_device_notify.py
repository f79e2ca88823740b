"""The daemon's desktop notification over a real session D-Bus (``dbus-daemon --session``, from
Debian's dbus, which ``.ci/run`` installs) with a notification server written here: what the
freedesktop ``Notify`` call carries, and a clean ``False`` when nobody serves it."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from jeepney import HeaderFields, MessageType, new_method_return  # type: ignore[import-untyped]
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

from photoark.client.devices.notify import notify

pytestmark = pytest.mark.skipif(
    shutil.which("dbus-daemon") is None, reason="no dbus-daemon (Debian's dbus)"
)


@pytest.fixture
def session_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private session bus; its address in ``DBUS_SESSION_BUS_ADDRESS``."""
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        assert address.startswith("unix:"), address
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield address
    finally:
        bus.terminate()
        bus.wait(10)
        if bus.stdout is not None:
            bus.stdout.close()


class NotificationServer:
    """Owns ``org.freedesktop.Notifications`` on the bus and answers the first ``Notify``."""

    def __init__(self, address: str) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(address,), daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    def _serve(self, address: str) -> None:
        with open_dbus_connection(bus=address) as conn:
            conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.Notifications"))
            self._ready.set()
            while True:
                msg = conn.receive(timeout=20)
                is_call = msg.header.message_type == MessageType.method_call
                if is_call and msg.header.fields.get(HeaderFields.member) == "Notify":
                    self.calls.append(tuple(msg.body))
                    conn.send(new_method_return(msg, "u", (7,)))
                    return

    def join(self) -> None:
        self._thread.join(10)


def test_a_notification_reaches_the_desktop(session_bus: str) -> None:
    server = NotificationServer(session_bus)
    assert notify("EOS_DIGITAL backed up", "3 photos, 12 MB could be freed")
    server.join()
    (call,) = server.calls
    app, replaces, icon, summary, body = call[:5]
    assert (app, replaces, summary, body) == (
        "photoark",
        0,
        "EOS_DIGITAL backed up",
        "3 photos, 12 MB could be freed",
    )
    assert icon == "drive-removable-media"


def test_no_notification_server_is_false_not_an_error(session_bus: str) -> None:
    assert notify("summary", "body") is False  # nobody owns the name: the log has the line


def test_no_session_bus_is_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert notify("summary", "body") is False
