"""A photo deleted from the backup is not uploaded again from a watched folder, on this device
or another; changed content is a new photo; restoring (or `watch reupload`) lifts the mark."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.builders import (
    Client,
    ServerProcess,
    at_rest,
    jpeg_bytes,
    make_tree,
    running_daemon,
    wait_for,
)

pytestmark = pytest.mark.e2e


def _names(client: Client) -> dict[str, int]:
    return {f["name"]: f["id"] for f in client.json("ls")}


def _watch(client: Client) -> dict[str, Any]:
    return dict(client.json("status")["watches"][0])


def _idle(client: Client) -> bool:
    """Idle with nothing settling or queued (read after the files were counted: see at_rest)."""
    return at_rest(client.json("status"))


def test_deleted_stays_deleted_here_and_on_another_device(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    pics = make_tree(tmp_path / "pics", {"a.jpg": jpeg_bytes(1), "b.jpg": jpeg_bytes(2)})
    alice.json("watch", "add", str(pics), "--album", "Camera")
    with running_daemon(alice):
        wait_for(lambda: len(_names(alice)) == 2)
    ids = _names(alice)
    alice.json("delete", str(ids["a.jpg"]))

    # restart; touch the folder: nothing uploaded
    with running_daemon(alice):
        os.utime(pics / "a.jpg")
        (pics / "a-copy.jpg").write_bytes((pics / "a.jpg").read_bytes())
        wait_for(lambda: _watch(alice)["deleted_from_backup"] == 2)
        wait_for(lambda: _idle(alice))
        assert set(_names(alice)) == {"b.jpg"}
        assert alice.json("usage")["files"] == 1
        assert sorted(_watch(alice)["deleted_from_backup_paths"]) == [
            str(pics / "a-copy.jpg"),
            str(pics / "a.jpg"),
        ]
        # changed content is a new photo
        (pics / "a.jpg").write_bytes(jpeg_bytes(3))
        wait_for(lambda: "a.jpg" in _names(alice))
        assert _watch(alice)["deleted_from_backup"] == 1  # the copy still holds the old content

    # another device with the same photos never uploads the deleted one either
    desktop = Client(tmp_path / "desktop", server.url)
    desktop.login()
    other = tmp_path / "desktop-pics"
    other.mkdir()
    shutil.copy(pics / "a-copy.jpg", other / "old-a.jpg")
    shutil.copy(pics / "b.jpg", other / "b.jpg")
    desktop.json("watch", "add", str(other), "--album", "Camera")
    with running_daemon(desktop):
        wait_for(lambda: _watch(desktop)["deleted_from_backup"] == 1)
        wait_for(lambda: _idle(desktop))
    assert "old-a.jpg" not in _names(desktop)
    assert alice.json("usage")["files"] == 2  # b, and the new a

    # restore from the trash: the mark is gone (on both devices)
    alice.json("trash", "restore", str(ids["a.jpg"]))
    assert _watch(alice)["deleted_from_backup"] == 0
    desktop.json("sync")
    assert _watch(desktop)["deleted_from_backup"] == 0


def test_watch_reupload_lifts_the_mark(tmp_path: Path, alice: Client) -> None:
    pics = make_tree(tmp_path / "pics", {"a.jpg": jpeg_bytes(1)})
    alice.json("backup", str(pics), "--album", "A")
    alice.json("delete", str(_names(alice)["a.jpg"]))
    again = alice.json("backup", str(pics), "--album", "A")
    assert again["uploaded"] == 0 and again["deleted_from_backup"] == [str(pics / "a.jpg")]
    assert alice.json("watch", "reupload", str(pics))["queued"] == [str(pics / "a.jpg")]
    assert alice.json("backup", str(pics), "--album", "A")["uploaded"] == 1
    assert set(_names(alice)) == {"a.jpg"}


def test_dedup_is_not_undone_by_the_next_backup(tmp_path: Path, alice: Client) -> None:
    pics = make_tree(tmp_path / "pics", {"a.jpg": jpeg_bytes(1)})
    shutil.copy(pics / "a.jpg", pics / "a copy.jpg")
    alice.json("backup", str(pics), "--album", "A")
    assert alice.json("usage")["files"] == 2
    alice.json("dedup", "--apply")
    again = alice.json("backup", str(pics), "--album", "A")
    assert again["uploaded"] == 0 and len(again["deleted_from_backup"]) == 1
    assert alice.json("usage")["files"] == 1
