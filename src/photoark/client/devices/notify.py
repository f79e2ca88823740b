"""A desktop notification (freedesktop.org Notifications over the session D-Bus, with
``jeepney``): what the daemon's import of a device did.

Best effort: no jeepney, no session bus (``DBUS_SESSION_BUS_ADDRESS`` unset: a server, a
cron job) or no notification daemon → False, and the daemon's log has the same line.
"""

from __future__ import annotations

import logging
import os

__all__ = ["notify"]

log = logging.getLogger(__name__)

_TIMEOUT = 2.0


def notify(summary: str, body: str) -> bool:
    """Show a notification; True if the notification server took it."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False
    try:
        from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call
        from jeepney.io.blocking import open_dbus_connection
    except ImportError:
        return False
    address = DBusAddress(
        "/org/freedesktop/Notifications",
        bus_name="org.freedesktop.Notifications",
        interface="org.freedesktop.Notifications",
    )
    message = new_method_call(
        address,
        "Notify",
        "susssasa{sv}i",
        ("photoark", 0, "drive-removable-media", summary, body, [], {}, -1),
    )
    try:
        with open_dbus_connection(bus="SESSION") as conn:
            reply = conn.send_and_get_reply(message, timeout=_TIMEOUT)
    except Exception as err:  # bus refused, timed out
        log.info("no desktop notification (%s): %s — %s", err, summary, body)
        return False
    if reply.header.message_type == MessageType.error:  # no notification server on the bus
        error = reply.header.fields.get(HeaderFields.error_name, "an error")
        log.info("no desktop notification (%s): %s — %s", error, summary, body)
        return False
    return True
