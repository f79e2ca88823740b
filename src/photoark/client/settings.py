"""User settings of one client home (``photoark config set KEY VALUE``), kept in the state DB.

Only known keys are accepted, each with a type and a default; a value is parsed once, when it
is set, so a typo is refused at the prompt rather than discovered by the daemon at 3 a.m.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from photoark.client.errors import ClientError, UnknownSetting
from photoark.client.state.db import StateDB
from photoark.client.state.settings import SettingsTable

__all__ = ["SETTINGS", "Setting", "Settings", "UnknownSetting"]


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"{text!r} is not true or false")


def _percent(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 100:
        raise ValueError(f"{value} is not a percentage (0 to 100)")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 3600:
        raise ValueError(f"{value} is not between 0 and 3600 seconds")
    return value


def _workers(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 32:
        raise ValueError(f"{value} is not between 1 and 32")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise ValueError(f"{value} is not a port (1 to 65535)")
    return value


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    parse: Callable[[str], Any]
    help: str


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting(
            "upload.on_metered", False, _bool, "upload on a metered network (mobile data, hotspot)"
        ),
        Setting(
            "upload.min_battery",
            20,
            _percent,
            "pause uploads on battery below this percentage (0: never pause)",
        ),
        Setting("upload.workers", 4, _workers, "files uploaded in parallel by the daemon"),
        Setting(
            "upload.inhibit_sleep",
            True,
            _bool,
            "keep the machine awake while more than 1 GiB or 500 files are to back up",
        ),
        Setting(
            "similar.embed_in_daemon",
            True,
            _bool,
            "the daemon makes the embeddings of new photos for `photoark similar` when idle",
        ),
        Setting(
            "web.enabled",
            False,
            _bool,
            "the daemon also serves the web app (`photoark web` then prints a link to it)",
        ),
        Setting("web.port", 8421, _port, "the port of the web app the daemon serves"),
        Setting(
            "devices.auto_import",
            False,
            _bool,
            "the daemon imports a card, camera or phone (a DCIM folder) as soon as it appears",
        ),
        Setting(
            "devices.auto_free_up",
            False,
            _bool,
            "after an automatic import, the daemon deletes from the device what is safely "
            "backed up (free-up-space's rules; needs devices.auto_import)",
        ),
        Setting(
            "watch.settle_seconds",
            1.0,
            _seconds,
            "a new or changed file is taken once its size and mtime hold still this long",
        ),
    )
}


class Settings:
    def __init__(self, db: StateDB) -> None:
        self._table = SettingsTable(db)

    def get(self, key: str) -> Any:
        setting = self._setting(key)
        return self._table.get(key, setting.default)

    def set(self, key: str, text: str) -> Any:
        """Parse ``text`` for ``key`` and store it; returns the value stored."""
        setting = self._setting(key)
        try:
            value = setting.parse(text)
        except ValueError as err:
            raise ClientError(f"{key}: {err}") from err
        self._table.put(key, value)
        return value

    def reset(self, key: str) -> None:
        self._setting(key)
        self._table.delete(key)

    def all(self) -> dict[str, Any]:
        return {key: self.get(key) for key in SETTINGS}

    @staticmethod
    def _setting(key: str) -> Setting:
        setting = SETTINGS.get(key)
        if setting is None:
            raise UnknownSetting(f"no setting named {key!r}")
        return setting
