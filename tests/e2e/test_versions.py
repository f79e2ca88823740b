"""A changed file is backed up as a new version; the old one leaves the album: to the trash
when nothing else holds it, only out of this album when another album does, and not at all
while another local path still stands for it. Through the CLI, with a real server."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.builders import Client, jpeg_bytes, make_tree

pytestmark = pytest.mark.e2e


def _backup(client: Client, path: Path, album: str, *extra: str) -> Any:
    return client.json("backup", str(path), "--album", album, *extra)


def _ids(client: Client, album: str) -> dict[str, int]:
    return {f["name"]: f["id"] for f in client.json("ls", album)}


def test_old_version_goes_to_trash(tmp_path: Path, alice: Client) -> None:
    pics = make_tree(tmp_path / "p", {"a.jpg": jpeg_bytes(1), "b.jpg": jpeg_bytes(2)})
    _backup(alice, pics, "A")
    old = _ids(alice, "A")
    (pics / "a.jpg").write_bytes(jpeg_bytes(3))
    report = _backup(alice, pics, "A")
    assert (report["uploaded"], report["skipped"]) == (1, 1)
    assert report["previous_versions"] == {"trashed": 1, "removed_from_album": 0}
    now = _ids(alice, "A")
    assert now["b.jpg"] == old["b.jpg"] and now["a.jpg"] != old["a.jpg"]
    usage = alice.json("usage")
    assert usage["trash_bytes"] > 0 and usage["files"] == 2  # a trashed file is not listed
    # nothing more to retire on the next run
    assert _backup(alice, pics, "A")["previous_versions"]["trashed"] == 0


def test_old_version_held_by_another_album_only_leaves_this_one(
    tmp_path: Path, alice: Client
) -> None:
    pics = make_tree(tmp_path / "p", {"a.jpg": jpeg_bytes(1)})
    _backup(alice, pics, "A")
    _backup(alice, pics, "Best")  # the same file, added by reference
    old = _ids(alice, "A")["a.jpg"]
    (pics / "a.jpg").write_bytes(jpeg_bytes(3))
    report = _backup(alice, pics, "A")
    assert report["previous_versions"] == {"trashed": 0, "removed_from_album": 1}
    assert _ids(alice, "Best") == {"a.jpg": old}
    assert _ids(alice, "A")["a.jpg"] != old
    assert alice.json("usage")["trash_bytes"] == 0


def test_old_version_still_standing_for_another_path_stays(tmp_path: Path, alice: Client) -> None:
    pics = make_tree(tmp_path / "p", {"a.jpg": jpeg_bytes(1)})
    shutil.copy(pics / "a.jpg", pics / "copy.jpg")
    _backup(alice, pics, "A", "--match", "hash")  # one library file for both paths
    assert len(alice.json("ls", "A")) == 1
    (pics / "a.jpg").write_bytes(jpeg_bytes(3))
    report = _backup(alice, pics, "A", "--match", "hash")
    assert report["previous_versions"] == {"trashed": 0, "removed_from_album": 0}
    assert len(alice.json("ls", "A")) == 2


def test_a_revert_keeps_one_version(tmp_path: Path, alice: Client) -> None:
    pics = make_tree(tmp_path / "p", {"a.jpg": jpeg_bytes(1)})
    _backup(alice, pics, "A")
    (pics / "a.jpg").write_bytes(jpeg_bytes(2))
    _backup(alice, pics, "A")
    (pics / "a.jpg").write_bytes(jpeg_bytes(1))  # back to the first content: uploaded anew
    report = _backup(alice, pics, "A")
    assert report["uploaded"] == 1 and report["previous_versions"]["trashed"] == 1
    assert list(_ids(alice, "A")) == ["a.jpg"]
