"""Settings: known keys only, parsed when set, defaults otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from photoark.client.errors import ClientError, UnknownSetting
from photoark.client.settings import Settings
from photoark.client.state import StateDB


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(StateDB(tmp_path / "state.db"))


def test_defaults(settings: Settings) -> None:
    assert settings.get("upload.on_metered") is False
    assert settings.get("upload.min_battery") == 20
    assert settings.all()["watch.settle_seconds"] == 1.0


def test_set_parses_and_persists(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    assert Settings(db).set("upload.on_metered", "yes") is True
    assert Settings(db).set("upload.min_battery", "0") == 0
    db.close()
    again = Settings(StateDB(tmp_path / "state.db"))
    assert again.get("upload.on_metered") is True
    assert again.get("upload.min_battery") == 0
    again.reset("upload.min_battery")
    assert again.get("upload.min_battery") == 20


@pytest.mark.parametrize(
    ("key", "value"),
    [("upload.on_metered", "maybe"), ("upload.min_battery", "150"), ("upload.workers", "0")],
)
def test_bad_values_are_refused(settings: Settings, key: str, value: str) -> None:
    with pytest.raises(ClientError, match=key):
        settings.set(key, value)


def test_unknown_key(settings: Settings) -> None:
    with pytest.raises(UnknownSetting):
        settings.set("upload.speed", "1")
