"""When the backup daemon may upload: battery and metered-network awareness.

The daemon asks a :class:`Probe` for the machine's :class:`Conditions` every few seconds and
:func:`pause_reason` decides, against the user's :class:`UploadPolicy`, whether uploads should
pause. By default they pause on a metered network and when running from a battery below 20 %
(settings ``upload.on_metered``, default false, and ``upload.min_battery``, default 20; a
``min_battery`` of 0 never pauses). Metered is checked first, so it is the reason reported
when both apply.

Probes (all implement ``read() -> Conditions`` and never raise; anything they cannot tell is
"unmetered, on mains, percent unknown", so a machine we know nothing about backs up):

- :class:`SystemProbe`, Linux:

  - *Battery* from ``/sys/class/power_supply``. Each supply directory has ``type`` (Battery,
    Mains, USB, Wireless, ...); mains-like supplies have ``online``; batteries have
    ``capacity`` (percent), ``status`` (Charging, Discharging, Full, Not charging, Unknown) and
    often ``energy_now``/``energy_full`` (or ``charge_now``/``charge_full``). Batteries of
    peripherals (``scope`` = Device: a wireless mouse) and empty battery bays (``present`` =
    0) are ignored. We are *on battery* when some battery is Discharging and no mains-like
    supply is online; a machine with no Mains entry at all is decided by Discharging alone.
    The percent is energy-weighted over the batteries when all of them report energy (or all
    report charge), else the mean of their ``capacity``. No supplies or no battery: on mains,
    percent ``None``.
  - *Metered* from NetworkManager's global ``Metered`` property (NMMetered: 0 unknown, 1 yes,
    2 no, 3 guess-yes, 4 guess-no; yes and guess-yes count as metered, as libnm advises), read
    over the system D-Bus with jeepney. The connection is kept by the probe and re-opened after
    a failure. If the bus or NetworkManager is not there, ``nmcli`` is asked instead: the
    connected devices carrying a default route (or, if none has a gateway, every connected
    device) are metered if any says ``yes`` or ``yes (guessed)``. Neither: unmetered.

  Each source's failure is logged once at INFO (repeats at DEBUG) and logged again only after it
  has worked in between. Every D-Bus wait (connect, authentication, each call) and each nmcli
  run is bounded by ``timeout`` seconds: the daemon's loop never hangs on a wedged bus.

- :class:`FileProbe` reads a JSON file ``{"metered": bool, "on_battery": bool,
  "battery_percent": int | null}`` on every call (missing keys: unmetered, on mains, unknown
  percent; missing or unreadable file: the same). Tests, and a hidden daemon option, use it to
  simulate conditions from outside the process.

Probes keep no global state; a probe instance is meant for one thread (the daemon's loop).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from jeepney import (  # type: ignore[import-untyped]
    DBusAddress,
    HeaderFields,
    MessageFlag,
    MessageType,
    Parser,
    new_method_call,
)
from jeepney.auth import BEGIN, Authenticator  # type: ignore[import-untyped]
from jeepney.bus import get_bus  # type: ignore[import-untyped]
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]

__all__ = [
    "Conditions",
    "FileProbe",
    "PauseReason",
    "Probe",
    "SystemProbe",
    "UploadPolicy",
    "nm_metered",
    "nmcli_metered",
    "pause_reason",
]

log = logging.getLogger(__name__)

PauseReason = Literal["metered", "battery"]

DEFAULT_SYSFS_ROOT = Path("/sys/class/power_supply")

_NM_BUS_NAME = "org.freedesktop.NetworkManager"
_NM_OBJECT = "/org/freedesktop/NetworkManager"
_NM_METERED_YES = 1
_NM_METERED_GUESS_YES = 3
_NMCLI_ARGS = (
    "-t",
    "-f",
    "GENERAL.DEVICE,GENERAL.STATE,GENERAL.METERED,IP4.GATEWAY,IP6.GATEWAY",
    "device",
    "show",
)
_NM_DEVICE_CONNECTED = "100"


@dataclass(frozen=True)
class Conditions:
    """What a probe saw. ``on_battery``: running from a battery (no mains online and a battery
    discharging); ``battery_percent``: the batteries' charge, ``None`` when unknown or absent."""

    metered: bool = False
    on_battery: bool = False
    battery_percent: int | None = None


class Probe(Protocol):
    """Reads the current conditions. ``read`` is called every few seconds, so it must be cheap;
    it never raises: what it cannot tell reads as unmetered, on mains, percent unknown."""

    def read(self) -> Conditions: ...


@dataclass(frozen=True)
class UploadPolicy:
    """The user's settings ``upload.on_metered`` (upload on metered networks too) and
    ``upload.min_battery`` (pause on battery below this percent; 0 never pauses)."""

    on_metered: bool = False
    min_battery: int = 20


def pause_reason(conditions: Conditions, policy: UploadPolicy) -> PauseReason | None:
    """Why uploads should pause now, or ``None`` to go on. Metered is checked first; a battery
    pauses only when running from it with a known percent strictly below ``min_battery``."""
    if conditions.metered and not policy.on_metered:
        return "metered"
    percent = conditions.battery_percent
    if conditions.on_battery and percent is not None and percent < policy.min_battery:
        return "battery"
    return None


def nm_metered(value: int) -> bool:
    """NetworkManager's NMMetered value → metered? Yes (1) and guess-yes (3) are; unknown (0),
    no (2), guess-no (4) and anything else are not."""
    return value in (_NM_METERED_YES, _NM_METERED_GUESS_YES)


def nmcli_metered(output: str) -> bool:
    """Metered state from the terse output of ``nmcli -t -f GENERAL.DEVICE,GENERAL.STATE,
    GENERAL.METERED,IP4.GATEWAY,IP6.GATEWAY device show`` (``FIELD:value`` lines, devices
    separated by blank lines). Considers connected devices with a gateway (the default route),
    or every connected device if none has one; metered if any says ``yes`` / ``yes (guessed)``.
    """
    devices: list[dict[str, str]] = [{}]
    for line in output.splitlines():
        if not line.strip():
            devices.append({})
            continue
        key, _, value = line.partition(":")
        devices[-1][key.strip()] = value.strip()
    connected = [
        d for d in devices if d.get("GENERAL.STATE", "").split(" ")[0] == _NM_DEVICE_CONNECTED
    ]
    routed = [d for d in connected if _has_gateway(d)]
    return any(d.get("GENERAL.METERED", "").startswith("yes") for d in (routed or connected))


def _has_gateway(device: dict[str, str]) -> bool:
    return any(device.get(field, "") not in ("", "--") for field in ("IP4.GATEWAY", "IP6.GATEWAY"))


class _OnceLog:
    """Logs each source's failure once at INFO (then DEBUG) until it works again."""

    def __init__(self) -> None:
        self._failing: set[str] = set()

    def failed(self, source: str, err: object, fallback: str) -> None:
        level = logging.DEBUG if source in self._failing else logging.INFO
        self._failing.add(source)
        log.log(level, "%s unavailable (%s); %s", source, err, fallback)

    def worked(self, source: str) -> None:
        self._failing.discard(source)


@dataclass(frozen=True)
class _Supply:
    type: str
    attrs: dict[str, str]

    def number(self, name: str) -> int | None:
        try:
            return int(self.attrs.get(name, ""))
        except ValueError:
            return None


_SUPPLY_ATTRS = (
    "type",
    "scope",
    "present",
    "online",
    "status",
    "capacity",
    "energy_now",
    "energy_full",
    "charge_now",
    "charge_full",
)


def _read_supplies(root: Path) -> list[_Supply]:
    """Every supply under ``root`` with the attributes we use (missing or unreadable → absent).
    A missing ``root`` is no supplies."""
    supplies = []
    try:
        entries = sorted(root.iterdir())
    except FileNotFoundError:
        return []
    for entry in entries:
        attrs: dict[str, str] = {}
        for name in _SUPPLY_ATTRS:
            try:
                attrs[name] = (entry / name).read_text(encoding="ascii", errors="replace").strip()
            except (OSError, ValueError):
                continue
        if "type" in attrs:
            supplies.append(_Supply(attrs["type"], attrs))
    return supplies


def _is_mains_like(supply: _Supply) -> bool:
    return supply.type in ("Mains", "Wireless") or supply.type.startswith("USB")


def _battery_state(supplies: list[_Supply]) -> tuple[bool, int | None]:
    """(on battery, percent) from the supplies; see the module docstring for the rules."""
    batteries = [
        s
        for s in supplies
        if s.type == "Battery"
        and s.attrs.get("scope", "System") != "Device"
        and s.attrs.get("present", "1") != "0"
    ]
    if not batteries:
        return False, None
    mains_online = any(_is_mains_like(s) and (s.number("online") or 0) != 0 for s in supplies)
    discharging = any(s.attrs.get("status") == "Discharging" for s in batteries)
    return discharging and not mains_online, _percent(batteries)


def _percent(batteries: list[_Supply]) -> int | None:
    for now_name, full_name in (("energy_now", "energy_full"), ("charge_now", "charge_full")):
        nows = [b.number(now_name) for b in batteries]
        fulls = [b.number(full_name) for b in batteries]
        if all(n is not None and n >= 0 for n in nows) and all(
            f is not None and f > 0 for f in fulls
        ):
            total = sum(f for f in fulls if f is not None)
            stored = sum(n for n in nows if n is not None)
            return _clamp(round(100 * stored / total))
    capacities = [c for c in (b.number("capacity") for b in batteries) if c is not None]
    if not capacities:
        return None
    return _clamp(round(sum(capacities) / len(capacities)))


def _clamp(percent: int) -> int:
    return max(0, min(100, percent))


class _NoNetworkManager(Exception):
    """The bus answered with an error (NetworkManager not running, access denied...)."""


class _BusConnection:
    """A minimal blocking D-Bus client connection whose every wait is bounded by ``timeout``.

    Built from jeepney's sans-I/O pieces (address parsing, SASL ``Authenticator``, message
    ``Parser``) because jeepney's own blocking connection waits for the bus's ``Hello`` reply
    without a limit. Signals and stale replies (to a call that timed out) are dropped."""

    def __init__(self, address: str | None, timeout: float) -> None:
        self._timeout = timeout
        self._parser: Any = Parser()
        self._serials = itertools.count(1)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(get_bus(address or "SYSTEM"))
            self._sock.sendall(b"\0")  # Linux: the bus reads our credentials (SO_PEERCRED)
            auth: Any = Authenticator(inc_null_byte=False)
            for line in auth:
                self._sock.sendall(line)
                auth.feed(self._recv())
            self._sock.sendall(BEGIN)
            self.call(message_bus.Hello())
        except BaseException:
            self._sock.close()
            raise

    def call(self, message: Any) -> Any:
        """Send a method call and return its reply (a method return or an error message)."""
        serial = next(self._serials)
        deadline = time.monotonic() + self._timeout
        self._sock.settimeout(self._timeout)
        self._sock.sendall(message.serialise(serial=serial))
        while True:
            reply = self._parser.get_next_message()
            if reply is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no D-Bus reply in {self._timeout} s")
                self._sock.settimeout(remaining)
                self._parser.add_data(self._recv())
            elif reply.header.fields.get(HeaderFields.reply_serial) == serial:
                return reply

    def close(self) -> None:
        self._sock.close()

    def _recv(self) -> bytes:
        data = self._sock.recv(4096)
        if not data:
            raise ConnectionResetError("the D-Bus connection was closed")
        return data


class _NetworkManagerBus:
    """NetworkManager's global Metered property over the system D-Bus, one kept connection."""

    def __init__(self, address: str | None, timeout: float) -> None:
        self._address = address
        self._timeout = timeout
        self._conn: _BusConnection | None = None

    def metered(self) -> bool:
        """Raises on any failure; a failure of the connection itself drops it (re-opened by
        the next call), an error reply keeps it."""
        try:
            if self._conn is None:
                self._conn = _BusConnection(self._address, self._timeout)
            msg = new_method_call(
                DBusAddress(_NM_OBJECT, _NM_BUS_NAME, "org.freedesktop.DBus.Properties"),
                "Get",
                "ss",
                (_NM_BUS_NAME, "Metered"),
            )
            msg.header.flags |= MessageFlag.no_auto_start
            reply = self._conn.call(msg)
        except Exception:
            self.close()
            raise
        if reply.header.message_type == MessageType.error:
            raise _NoNetworkManager(reply.header.fields.get(HeaderFields.error_name, "error"))
        body = reply.body
        if (
            len(body) == 1
            and isinstance(body[0], tuple)
            and body[0][0] == "u"
            and isinstance(body[0][1], int)
        ):
            return nm_metered(body[0][1])
        raise _NoNetworkManager(f"unexpected Metered value {body!r}")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class SystemProbe:
    """Linux conditions: batteries from sysfs, metered from NetworkManager (D-Bus, then nmcli).

    ``dbus_address``: a D-Bus address (``unix:path=...``); ``None`` is the system bus
    (``$DBUS_SYSTEM_BUS_ADDRESS`` or its standard socket). ``nmcli``: the command, looked up on
    ``PATH`` at each use. ``timeout``: seconds allowed to each D-Bus call and nmcli run.
    Call :meth:`close` (or use it as a context manager) to drop the kept D-Bus connection.
    """

    def __init__(
        self,
        sysfs_root: Path = DEFAULT_SYSFS_ROOT,
        *,
        dbus_address: str | None = None,
        nmcli: str = "nmcli",
        timeout: float = 2.0,
    ) -> None:
        self._sysfs_root = sysfs_root
        self._nmcli = nmcli
        self._timeout = timeout
        self._bus = _NetworkManagerBus(dbus_address, timeout)
        self._log = _OnceLog()

    def read(self) -> Conditions:
        on_battery, percent = self._battery()
        return Conditions(metered=self._metered(), on_battery=on_battery, battery_percent=percent)

    def close(self) -> None:
        self._bus.close()

    def __enter__(self) -> SystemProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _battery(self) -> tuple[bool, int | None]:
        try:
            state = _battery_state(_read_supplies(self._sysfs_root))
        except Exception as err:
            self._log.failed(f"power supplies in {self._sysfs_root}", err, "treating as on mains")
            return False, None
        self._log.worked(f"power supplies in {self._sysfs_root}")
        return state

    def _metered(self) -> bool:
        try:
            metered = self._bus.metered()
        except Exception as err:
            self._log.failed("NetworkManager on D-Bus", err, "asking nmcli instead")
        else:
            self._log.worked("NetworkManager on D-Bus")
            return metered
        try:
            metered = self._metered_from_nmcli()
        except Exception as err:
            self._log.failed("nmcli", err, "treating as unmetered")
            return False
        self._log.worked("nmcli")
        return metered

    def _metered_from_nmcli(self) -> bool:
        path = shutil.which(self._nmcli)
        if path is None:
            raise FileNotFoundError(f"{self._nmcli} not found on PATH")
        done = subprocess.run(
            [path, *_NMCLI_ARGS],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=self._timeout,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
        )
        if done.returncode != 0:
            raise OSError(f"exit {done.returncode}: {done.stderr.strip()[:200]}")
        return nmcli_metered(done.stdout)


class FileProbe:
    """Conditions from a JSON file, read on every call (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._log = _OnceLog()

    def read(self) -> Conditions:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Conditions()
        except (OSError, ValueError) as err:
            self._log.failed(
                f"conditions file {self._path}", err, "treating as unmetered, on mains"
            )
            return Conditions()
        if not isinstance(data, dict):
            self._log.failed(
                f"conditions file {self._path}",
                "not a JSON object",
                "treating as unmetered, on mains",
            )
            return Conditions()
        self._log.worked(f"conditions file {self._path}")
        percent = data.get("battery_percent")
        return Conditions(
            metered=data.get("metered") is True,
            on_battery=data.get("on_battery") is True,
            battery_percent=(
                percent if isinstance(percent, int) and not isinstance(percent, bool) else None
            ),
        )
