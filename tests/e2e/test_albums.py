"""`photoark add` by reference and album create/rename/delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders import Client, jpeg_bytes, make_tree

pytestmark = pytest.mark.e2e


def _where(client: Client) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in client.json("ls"):
        out.setdefault(f["name"], set()).add(f["album"])
    return out


def test_add_by_reference_and_album_lifecycle(tmp_path: Path, alice: Client) -> None:
    pics = make_tree(tmp_path / "p", {f"{c}.jpg": jpeg_bytes(i) for i, c in enumerate("abc")})
    alice.json("backup", str(pics), "--album", "Trips")
    before = alice.json("usage")
    ids = {f["name"]: f["id"] for f in alice.json("ls")}

    alice.json("add", "Best", "a.jpg", str(ids["b.jpg"]))  # by name or id; album created
    assert _where(alice) == {
        "a.jpg": {"Trips", "Best"},
        "b.jpg": {"Trips", "Best"},
        "c.jpg": {"Trips"},
    }
    after = alice.json("usage")
    assert after["stored_bytes"] == before["stored_bytes"] and after["files"] == 3
    assert after["logical_bytes"] > before["logical_bytes"]

    assert alice.json("albums", "create", "Empty")["name"] == "Empty"
    assert alice.run("albums", "create", "Empty", check=False).returncode != 0
    alice.json("albums", "rename", "Best", "Favourites")
    names = {a["name"] for a in alice.json("albums")}
    assert {"Trips", "Favourites", "Empty"} <= names and "Best" not in names

    # deleting Trips keeps a and b (in Favourites); c, only there, goes to Uncategorized
    done = alice.json("albums", "delete", "Trips")
    assert done["kept_in_other_albums"] == 2 and done["moved_to_uncategorized"] == 1
    assert _where(alice) == {
        "a.jpg": {"Favourites"},
        "b.jpg": {"Favourites"},
        "c.jpg": {"Uncategorized"},
    }
    assert alice.json("usage")["trash_bytes"] == 0

    # --with-photos: the photos only in that album go to the trash
    done = alice.json("albums", "delete", "Favourites", "--with-photos")
    assert done["trashed"] == 2
    assert set(_where(alice)) == {"c.jpg"}
    assert {t["name"] for t in alice.json("trash", "ls")} == {"a.jpg", "b.jpg"}
