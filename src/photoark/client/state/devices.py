"""What the client remembers of the devices it has read: the album each one's photos go to,
and which device was last read at each place devices are mounted.

Kept in the settings table under ``device:<id>:album`` and ``device-root:<path>`` (no schema
change; the keys are not settings of ``photoark config``, which lists only its own). A
device's album is the one given last with ``photoark import DEVICE --album NAME``; none given
ever: its label.
"""

from __future__ import annotations

from photoark.client.state.db import StateDB
from photoark.client.state.settings import SettingsTable

__all__ = ["DeviceAlbums", "DeviceRoots"]


class DeviceAlbums:
    def __init__(self, db: StateDB) -> None:
        self._table = SettingsTable(db)

    @staticmethod
    def _key(device_id: str) -> str:
        return f"device:{device_id}:album"

    def album_of(self, device_id: str, label: str) -> str:
        """The album remembered for the device, else its ``label`` (never empty)."""
        stored = self._table.get(self._key(device_id), None)
        return str(stored) if stored else (label or device_id)

    def remember(self, device_id: str, album: str) -> None:
        """Use ``album`` for this device from now on (overwrites; idempotent)."""
        self._table.put(self._key(device_id), album)


class DeviceRoots:
    """The device last read at each device folder (its ``DCIM``): udisks2 mounts every card
    of a camera make at the same place (``/media/USER/EOS_DIGITAL``), so a path there means
    one card's file only while that card is the one mounted."""

    def __init__(self, db: StateDB) -> None:
        self._table = SettingsTable(db)

    @staticmethod
    def _key(root: str) -> str:
        return f"device-root:{root}"

    def claim(self, root: str, device_id: str) -> bool:
        """Record ``device_id`` as the device at ``root``; whether it was already the one
        recorded there (``False`` for a first reading, or after another device)."""
        same = bool(self._table.get(self._key(root), None) == device_id)
        if not same:
            self._table.put(self._key(root), device_id)
        return same
