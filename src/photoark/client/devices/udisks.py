"""udisks2 over D-Bus (system bus, with the pure-python ``jeepney``): the UUID and label of
each block device, for the devices' ids when udev's ``/dev/disk/by-uuid`` links are missing.

Optional on every count: no jeepney, no system bus, no udisks2 (containers, servers) → None,
and :mod:`.identity` reads the filesystem itself. Every call has a time limit: a hung bus never
holds up ``photoark devices``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from photoark.client.devices.identity import Identity

__all__ = ["block_ids", "block_ids_from_objects"]

log = logging.getLogger(__name__)

_BUS = "org.freedesktop.UDisks2"
_PATH = "/org/freedesktop/UDisks2"
_BLOCK = "org.freedesktop.UDisks2.Block"
_TIMEOUT = 2.0


def _text(value: Any) -> str:
    """A udisks byte string (``ay``, NUL-terminated) or string as text."""
    if isinstance(value, tuple) and len(value) == 2:  # jeepney's (signature, value) variant
        value = value[1]
    if isinstance(value, bytes | bytearray):
        return bytes(value).rstrip(b"\0").decode("utf-8", "replace")
    return str(value)


def block_ids_from_objects(
    objects: Mapping[str, Mapping[str, Mapping[str, Any]]],
) -> dict[str, Identity]:
    """Device path → identity, from udisks2's ``GetManagedObjects`` answer."""
    ids: dict[str, Identity] = {}
    for interfaces in objects.values():
        block = interfaces.get(_BLOCK)
        if not block:
            continue
        device = _text(block.get("Device", b""))
        uuid = _text(block.get("IdUUID", ""))
        if device and uuid:
            ids[device] = Identity(f"uuid-{uuid}", _text(block.get("IdLabel", "")))
    return ids


def block_ids() -> dict[str, Identity] | None:
    """Device path → identity from udisks2, or None when it cannot be asked."""
    try:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection
    except ImportError:
        return None
    try:
        with open_dbus_connection(bus="SYSTEM") as conn:
            address = DBusAddress(
                _PATH, bus_name=_BUS, interface="org.freedesktop.DBus.ObjectManager"
            )
            reply = conn.send_and_get_reply(
                new_method_call(address, "GetManagedObjects"), timeout=_TIMEOUT
            )
    except Exception as err:  # no bus, no udisks2, refused, timed out: all mean "not here"
        log.debug("udisks2 not asked: %s", err)
        return None
    if not reply.body:
        return None
    return block_ids_from_objects(reply.body[0])
