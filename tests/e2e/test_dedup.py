"""Duplicate detection at upload, end to end through the CLI: skip, add by reference, the two
matching profiles, a second device, and storage counted once."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.builders import Client, ServerProcess, jpeg_bytes, make_tree


def folder(root: Path, n: int = 6) -> Path:
    make_tree(root, {f"IMG_{i:02d}.jpg": jpeg_bytes(i, (120 + i, 90)) for i in range(n)})
    return root


def backup(client: Client, path: Path, album: str, *extra: str) -> Any:
    return client.json("backup", str(path), "--album", album, *extra)


def names(client: Client, album: str) -> list[str]:
    return sorted(f["name"] for f in client.json("ls", album))


def test_same_folder_twice_into_one_album_sends_nothing(tmp_path: Path, alice: Client) -> None:
    photos = folder(tmp_path / "p")
    first = backup(alice, photos, "Trips")
    assert first["uploaded"] == 6 and first["thumbnails"]["made"] == 6
    again = backup(alice, photos, "Trips")
    assert (again["uploaded"], again["skipped"], again["bytes_uploaded"]) == (0, 6, 0)


def test_same_folder_into_a_second_album_adds_by_reference(tmp_path: Path, alice: Client) -> None:
    photos = folder(tmp_path / "p")
    backup(alice, photos, "Trips")
    before = alice.json("usage")
    second = backup(alice, photos, "Best of")
    assert (second["added_to_album"], second["uploaded"], second["bytes_uploaded"]) == (6, 0, 0)
    after = alice.json("usage")
    assert after["stored_bytes"] == before["stored_bytes"] and after["files"] == 6
    assert after["logical_bytes"] == 2 * after["stored_bytes"]
    assert (
        names(alice, "Trips") == names(alice, "Best of") == [f"IMG_{i:02d}.jpg" for i in range(6)]
    )


def test_a_copy_under_another_name_follows_the_profile(tmp_path: Path, alice: Client) -> None:
    photos = folder(tmp_path / "p", 2)
    backup(alice, photos, "A")
    copies = tmp_path / "copies"
    copies.mkdir()
    shutil.copy(photos / "IMG_00.jpg", copies / "renamed.jpg")
    by_name = backup(alice, copies, "A")  # default name+hash: two names, two copies wanted
    assert by_name["uploaded"] == 1 and by_name["bytes_uploaded"] > 0
    shutil.copy(photos / "IMG_01.jpg", copies / "other-name.jpg")
    by_hash = backup(alice, copies, "A", "--match", "hash")
    assert by_hash["uploaded"] == 0 and by_hash["bytes_uploaded"] == 0
    assert by_hash["skipped"] == 2  # both contents are already in album A
    into_b = backup(alice, copies, "B", "--match", "hash")
    assert into_b["added_to_album"] == 2 and into_b["bytes_uploaded"] == 0


def test_a_second_device_sends_no_content(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    photos = folder(tmp_path / "p")
    backup(alice, photos, "Trips")
    desktop = Client(tmp_path / "alice-desktop", server.url)
    desktop.login()
    other = backup(desktop, photos, "Trips")
    assert (other["uploaded"], other["skipped"], other["bytes_uploaded"]) == (0, 6, 0)
    elsewhere = backup(desktop, photos, "Desktop")
    assert elsewhere["added_to_album"] == 6 and elsewhere["bytes_uploaded"] == 0
    assert alice.json("usage")["files"] == 6
