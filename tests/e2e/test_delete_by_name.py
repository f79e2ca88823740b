"""``photoark delete`` takes what ``photoark ls`` shows: names or ids. A name that several
files share is refused with their ids (nothing is deleted); an unknown one is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders import Client, jpeg_bytes, make_tree

pytestmark = pytest.mark.e2e


def test_delete_by_name_or_id(tmp_path: Path, alice: Client) -> None:
    trip = make_tree(tmp_path / "trip", {"a.jpg": jpeg_bytes(1), "b.jpg": jpeg_bytes(2)})
    home = make_tree(tmp_path / "home", {"a.jpg": jpeg_bytes(3), "c.jpg": jpeg_bytes(4)})
    alice.json("backup", str(trip), "--album", "Trip")
    alice.json("backup", str(home), "--album", "Home")
    listed = alice.json("ls")
    ids = {(f["album"], f["name"]): f["id"] for f in listed}

    # a name only one file has
    done = alice.run("delete", "b.jpg")
    assert "moved 1 file to the trash" in done.stdout  # "1 file", not "1 files"
    assert [t["name"] for t in alice.json("trash", "ls")] == ["b.jpg"]

    # a name two files share: refused, with both ids, nothing deleted
    shared = alice.run("delete", "a.jpg", "c.jpg", check=False)
    assert shared.returncode == 1 and "Traceback" not in shared.stderr
    assert "2 files are named 'a.jpg'" in shared.stderr
    assert str(ids[("Trip", "a.jpg")]) in shared.stderr
    assert str(ids[("Home", "a.jpg")]) in shared.stderr
    assert len(alice.json("trash", "ls")) == 1

    # an id and a name together
    trashed = alice.json("delete", str(ids[("Trip", "a.jpg")]), "c.jpg")
    assert sorted(trashed["trashed"]) == sorted([ids[("Trip", "a.jpg")], ids[("Home", "c.jpg")]])
    assert [(f["album"], f["name"]) for f in alice.json("ls")] == [("Home", "a.jpg")]
    # now one file has the name
    alice.json("delete", "a.jpg")
    assert alice.json("ls") == []

    unknown = alice.run("delete", "nope.jpg", check=False)
    assert unknown.returncode == 1 and "no file 'nope.jpg' in the library" in unknown.stderr
    assert "photoark ls" in unknown.stderr  # the hint says where names and ids are
