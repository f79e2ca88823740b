"""Watched folders: the album rules, overlaps, and the home kept out."""

from __future__ import annotations

from pathlib import Path

import pytest

from photoark.client.errors import WatchError
from photoark.client.state import StateDB
from photoark.client.state.watches import Watch, WatchList


@pytest.fixture
def watches(tmp_path: Path) -> WatchList:
    return WatchList(StateDB(tmp_path / "state.db"))


def test_album_rules() -> None:
    default = Watch("/p/Pictures", None, False, "name+hash")
    assert default.album_for("/p/Pictures/Trips/Rome/a.jpg") == "Pictures"
    named = Watch("/p/Pictures", "Camera", False, "name+hash")
    assert named.album_for("/p/Pictures/Trips/a.jpg") == "Camera"
    per_folder = Watch("/p/Pictures", None, True, "name+hash")
    assert per_folder.album_for("/p/Pictures/Trips/Rome/a.jpg") == "Trips/Rome"
    assert per_folder.album_for("/p/Pictures/Trips/a.jpg") == "Trips"
    assert per_folder.album_for("/p/Pictures/a.jpg") == "Pictures"


def test_covers_is_by_path_component() -> None:
    w = Watch("/p/Pictures", None, False, "hash")
    assert w.covers("/p/Pictures/a.jpg")
    assert not w.covers("/p/Pictures2/a.jpg")


def test_add_list_remove(tmp_path: Path, watches: WatchList) -> None:
    (tmp_path / "pics").mkdir()
    w = watches.add(str(tmp_path / "pics"), per_folder=True, match="hash")
    assert watches.list() == [w]
    assert watches.owner_of(str(tmp_path / "pics" / "x" / "a.jpg")) == w
    with pytest.raises(WatchError, match="already watched"):
        watches.add(str(tmp_path / "pics"))
    assert watches.remove(str(tmp_path / "pics")) == w
    assert watches.list() == []
    with pytest.raises(WatchError, match="not watched"):
        watches.remove(str(tmp_path / "pics"))


def test_refuses_overlaps_missing_folders_and_the_home(tmp_path: Path, watches: WatchList) -> None:
    (tmp_path / "pics" / "sub").mkdir(parents=True)
    watches.add(str(tmp_path / "pics"))
    with pytest.raises(WatchError, match="overlaps"):
        watches.add(str(tmp_path / "pics" / "sub"))
    with pytest.raises(WatchError, match="overlaps"):
        watches.add(str(tmp_path))
    with pytest.raises(WatchError, match="not a folder"):
        watches.add(str(tmp_path / "nope"))
    (tmp_path / "other" / "home").mkdir(parents=True)
    with pytest.raises(WatchError, match="state"):
        watches.add(str(tmp_path / "other"), home=str(tmp_path / "other" / "home"))
