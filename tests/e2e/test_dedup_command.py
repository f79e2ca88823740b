"""``photoark dedup`` on a library with copies under other names in several albums: after
apply, one library file per content, every album still shows the photo, the trash holds the
rest; an edited plan is checked before anything is removed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.builders import Client, jpeg_bytes, make_tree

pytestmark = pytest.mark.e2e


def _albums(client: Client) -> dict[str, dict[str, str]]:
    """album → {name: hash}"""
    out: dict[str, dict[str, str]] = {}
    for f in client.json("ls"):
        out.setdefault(f["album"], {})[f["name"]] = f["hash"]
    return out


def _library_with_copies(tmp_path: Path, alice: Client) -> None:
    trips = make_tree(tmp_path / "trips", {f"IMG_{i}.jpg": jpeg_bytes(i) for i in range(4)})
    best = make_tree(tmp_path / "best", {})
    shutil.copy(trips / "IMG_0.jpg", best / "favourite.jpg")  # another name: uploaded again
    shutil.copy(trips / "IMG_1.jpg", best / "IMG_1 copy.jpg")
    shutil.copy(trips / "IMG_1.jpg", trips / "IMG_1 (2).jpg")
    alice.json("backup", str(trips), "--album", "Trips")
    alice.json("backup", str(best), "--album", "Best")


def test_dedup_keeps_one_copy_in_every_album(tmp_path: Path, alice: Client) -> None:
    _library_with_copies(tmp_path, alice)
    before = _albums(alice)
    assert alice.json("usage")["files"] == 7
    plan = alice.json("dedup")
    assert len(plan["groups"]) == 2
    by_size = sorted(plan["groups"], key=lambda g: len(g["remove"]))
    assert len(by_size[0]["remove"]) == 1 and len(by_size[1]["remove"]) == 2
    assert all(sorted(g["albums"]) == ["Best", "Trips"] for g in plan["groups"])
    assert alice.json("usage")["files"] == 7  # a plan changes nothing

    done = alice.json("dedup", "--apply")["applied"]
    assert done["trashed"] == 3 and done["bytes_freed_when_trash_empties"] == plan["bytes_freed"]
    after = _albums(alice)
    # every album still shows every content it showed
    for album, files in before.items():
        assert set(files.values()) == set(after[album].values())
    hashes = [f["hash"] for f in alice.json("ls")]
    ids_per_hash: dict[str, set[int]] = {}
    for f in alice.json("ls"):
        ids_per_hash.setdefault(f["hash"], set()).add(f["id"])
    assert all(len(ids) == 1 for ids in ids_per_hash.values()), "one library file per content"
    usage = alice.json("usage")
    assert usage["files"] == 4 and usage["trash_bytes"] == plan["bytes_freed"]
    assert len(set(hashes)) == 4
    assert alice.json("dedup")["groups"] == []


def test_an_edited_plan_is_checked(tmp_path: Path, alice: Client) -> None:
    _library_with_copies(tmp_path, alice)
    plan: dict[str, Any] = alice.json("dedup")
    group = plan["groups"][0]
    other = plan["groups"][1]
    # keep another copy than suggested: allowed
    group["keep"], group["remove"][0] = group["remove"][0], group["keep"]
    # a file of another content slipped into a group: refused, nothing removed
    bad = json.loads(json.dumps(plan))
    bad["groups"][1]["remove"].append(group["keep"])
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    refused = alice.run("dedup", "--plan", str(tmp_path / "bad.json"), check=False)
    assert refused.returncode != 0 and "plan" in refused.stderr
    assert alice.json("usage")["files"] == 7
    # removing every copy (keep listed in remove too) is refused
    everything = {"groups": [{"keep": other["keep"], "remove": [other["keep"]]}]}
    (tmp_path / "all.json").write_text(json.dumps(everything))
    assert alice.run("dedup", "--plan", str(tmp_path / "all.json"), check=False).returncode != 0
    (tmp_path / "plan.json").write_text(json.dumps({"groups": [group]}))
    done = alice.json("dedup", "--plan", str(tmp_path / "plan.json"))["applied"]
    assert done["trashed"] == len(group["remove"])
    kept = {f["id"] for f in alice.json("ls")}
    assert group["keep"] in kept and not set(group["remove"]) & kept
