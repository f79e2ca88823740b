"""What the client remembers of each device it has imported: the album its photos go to.

Kept in the settings table under ``device:<id>:album`` (no schema change; the keys are not
settings of ``photoark config``, which lists only its own). A device's album is the one given
last with ``photoark import DEVICE --album NAME``; none given ever: its label.
"""

from __future__ import annotations

from photoark.client.state.db import StateDB
from photoark.client.state.settings import SettingsTable

__all__ = ["DeviceAlbums"]


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
