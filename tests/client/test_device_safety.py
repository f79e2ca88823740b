"""What keeps one device's files from being taken for another's, and a device's free-up on
the device itself: the device roots, the stat cache and path mappings dropped when another
card sits where one was, labels shared by several cards, links on a card."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from photoark.client.devices import Device, NoSuchDevice, choose_device
from photoark.client.devices.seen import forget_another_devices_files, forget_path_versions
from photoark.client.state.db import StateDB
from photoark.client.state.devices import DeviceRoots
from photoark.client.state.pathversions import PathVersions
from photoark.client.state.statcache import StatCache
from photoark.optimize.devicefree import NotOnDevice, on_device
from tests.builders import jpeg_bytes, make_tree
from tests.cards import mountinfo_line
from tests.client.test_devices import _sources


@pytest.fixture
def db(tmp_path: Path) -> StateDB:
    return StateDB(tmp_path / "state.db")


def _card(tmp_path: Path, ident: str, via: str = "mount") -> tuple[Device, Path]:
    root = make_tree(tmp_path / "sdcard", {"DCIM": {"100CANON": {"IMG_0001.JPG": b"x"}}})
    photo = root / "DCIM/100CANON/IMG_0001.JPG"
    return Device(ident, "EOS_DIGITAL", "camera", str(root), str(root / "DCIM"), via=via), photo


def test_device_roots_remember_who_was_read_where(db: StateDB) -> None:
    roots = DeviceRoots(db)
    assert not roots.claim("/media/u/EOS_DIGITAL/DCIM", "uuid-A")  # first reading
    assert roots.claim("/media/u/EOS_DIGITAL/DCIM", "uuid-A")
    assert not roots.claim("/media/u/EOS_DIGITAL/DCIM", "uuid-B")  # another card there
    assert not roots.claim("/media/u/EOS_DIGITAL/DCIM", "uuid-A")


def test_the_cache_of_another_card_in_the_same_place_is_dropped(
    tmp_path: Path, db: StateDB
) -> None:
    card, photo = _card(tmp_path, "uuid-A")
    cache = StatCache(db)
    cache.store(str(photo), os.stat(photo), "jpeg", "hash-of-card-A")
    forget_another_devices_files(db, card)  # first reading: nothing known to be card A's
    assert cache.lookup(str(photo), os.stat(photo)) is None
    cache.store(str(photo), os.stat(photo), "jpeg", "hash-of-card-A")
    forget_another_devices_files(db, card)  # card A again: its cache stands
    assert cache.lookup(str(photo), os.stat(photo)) == ("jpeg", "hash-of-card-A")
    other, _ = _card(tmp_path, "uuid-B")
    forget_another_devices_files(db, other)  # card B in A's place, same stat: dropped
    assert cache.lookup(str(photo), os.stat(photo)) is None


@pytest.mark.parametrize(("via", "kept"), [("mount", False), ("folder", True)])
def test_an_id_made_from_the_place_is_never_trusted(
    tmp_path: Path, db: StateDB, via: str, kept: bool
) -> None:
    """``path-…`` ids (no serial read) are alike for two cards in one reader: a card's cache
    goes every time; a folder on this computer is itself, whatever its id."""
    card, photo = _card(tmp_path, "path-0123456789ab", via)
    cache = StatCache(db)
    forget_another_devices_files(db, card)
    cache.store(str(photo), os.stat(photo), "jpeg", "h")
    forget_another_devices_files(db, card)
    assert (cache.lookup(str(photo), os.stat(photo)) is not None) is kept


def test_a_device_import_forgets_what_its_paths_stood_for(tmp_path: Path, db: StateDB) -> None:
    card, photo = _card(tmp_path, "uuid-A")
    versions = PathVersions(db)
    elsewhere = tmp_path / "Pictures" / "IMG_0001.JPG"
    versions.record_now(str(photo), 1, 10)
    versions.record_now(str(elsewhere), 1, 11)
    forget_path_versions(db, card)
    assert versions.backed_up_as(str(photo)) == []  # a reused name retires nothing
    assert versions.backed_up_as(str(elsewhere)) == [11]  # only the device's own paths


def test_only_a_regular_file_of_the_device_itself_is_deleted(tmp_path: Path) -> None:
    outside = make_tree(tmp_path / "Pictures", {"keep.jpg": jpeg_bytes(1)})
    card = make_tree(tmp_path / "sdcard", {"DCIM": {"100CANON": {"IMG_0001.JPG": b"x"}}})
    (card / "DCIM/101LINK").symlink_to(outside)  # a folder link on the card
    (card / "DCIM/100CANON/IMG_0002.JPG").symlink_to(outside / "keep.jpg")  # a file link
    root = os.path.realpath(card)
    dev = os.stat(root).st_dev
    on_device(str(card / "DCIM/100CANON/IMG_0001.JPG"), root, dev)  # fine: no error
    with pytest.raises(NotOnDevice, match="leads outside the device"):
        on_device(str(card / "DCIM/101LINK/keep.jpg"), root, dev)
    with pytest.raises(NotOnDevice, match="not a file of the device itself"):
        on_device(str(card / "DCIM/100CANON/IMG_0002.JPG"), root, dev)
    with pytest.raises(NotOnDevice):
        on_device(str(card / "DCIM/100CANON/IMG_0001.JPG"), root, dev + 1)  # another fs
    assert (outside / "keep.jpg").exists()


def test_a_label_several_cards_share_must_be_an_id(tmp_path: Path) -> None:
    first = make_tree(tmp_path / "a" / "EOS_DIGITAL", {"DCIM": {"100CANON": {}}})
    second = make_tree(tmp_path / "b" / "EOS_DIGITAL", {"DCIM": {"100CANON": {}}})
    sources = _sources(
        tmp_path,
        [mountinfo_line(str(first), "/dev/nonexistent1"), mountinfo_line(str(second), "/dev/x2")],
    )
    with pytest.raises(NoSuchDevice, match="2 devices are labelled 'EOS_DIGITAL'"):
        choose_device("EOS_DIGITAL", sources)
    chosen = choose_device(str(second), sources)  # by its path, it is one of them
    assert chosen.path == str(second) and chosen.via == "mount"
