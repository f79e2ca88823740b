"""``photoark similar`` end to end (real server process, real CLI, the real model): groups,
the keeper rule, exact duplicates left to dedup, embeddings shared with a second device, and
every smart-album rule of ``similar apply``. Needs ``../shared/corpus`` (skips without)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from photoark.ml.identity import SIMILAR_THRESHOLD
from tests.builders import Client, ServerProcess, at_rest, running_daemon, wait_for
from tests.media.builders import corpus_dir

pytestmark = pytest.mark.e2e

BRIDGE = "neardup-threatexchange-pdq/pdq/data/bridge-mods/aaa-orig.jpg"
FOREST = "neardup-imagehash-php/tests/images/forest/forest-high.jpg"
SHOP = "neardup-imagededup/tests/data/base_images/ukbench09012.jpg"
# four shots of one biscuit tin, turned by hand between them (UKBench 00004-00007)
TIN = [f"neardup-sim-bench/samples/ukbench/ukbench0000{i}.jpg" for i in range(4, 8)]


def _corpus(relative: str) -> Path:
    path = corpus_dir() / relative
    if not path.is_file():
        pytest.skip(f"corpus file {relative} not found")
    return path


def _save(image: Image.Image, path: Path, quality: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path, "JPEG", quality=quality)
    return path


def _library(tmp_path: Path, alice: Client) -> dict[str, int]:
    """Trip: the bridge, a smaller copy, a smaller turned copy, a forest, a shop and a second
    file of the forest's bytes; Best: the small copy only (the same file, by reference).
    Returns name → library id."""
    bridge = Image.open(_corpus(BRIDGE))
    w, h = bridge.size
    trip = tmp_path / "trip"
    trip.mkdir()
    shutil.copy(_corpus(BRIDGE), trip / "bridge.jpg")
    _save(bridge.resize((w // 2, h // 2)), trip / "bridge-small.jpg", quality=70)
    turned = bridge.transpose(Image.Transpose.ROTATE_90).resize((h * 3 // 4, w * 3 // 4))
    _save(turned, trip / "bridge-turned.jpg")
    shutil.copy(_corpus(FOREST), trip / "forest.jpg")
    shutil.copy(_corpus(FOREST), trip / "forest-copy.jpg")
    shutil.copy(_corpus(SHOP), trip / "shop.jpg")
    best = tmp_path / "best"
    best.mkdir()
    shutil.copy(trip / "bridge-small.jpg", best / "bridge-small.jpg")
    alice.json("backup", str(trip), "--album", "Trip")
    alice.json("backup", str(best), "--album", "Best")
    return {f["name"]: f["id"] for f in alice.json("ls")}


def _albums(client: Client) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in client.json("ls"):
        out.setdefault(f["album"], set()).add(f["name"])
    return out


def _group_names(plan: dict[str, Any]) -> list[list[tuple[str, bool]]]:
    return [sorted((f["name"], f["keep"]) for f in g["files"]) for g in plan["groups"]]


def test_groups_keeper_and_embeddings_shared(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    ids = _library(tmp_path, alice)
    plan = alice.json("similar")
    assert plan["threshold"] == pytest.approx(SIMILAR_THRESHOLD)
    # one group: the bridge and its two copies; the forest's second file is dedup's business
    assert _group_names(plan) == [
        [("bridge-small.jpg", False), ("bridge-turned.jpg", False), ("bridge.jpg", True)]
    ]
    assert plan["groups"][0]["tier"] == "near_identical"
    files = plan["groups"][0]["files"]
    assert files[0]["reason"] == "more pixels" and files[0]["format"] == "jpeg"
    assert files[0]["name"] == "bridge.jpg" and files[0]["distance"] == 0  # most pixels
    assert all(0 < f["distance"] <= plan["threshold"] for f in files[1:])
    assert [f["distance"] for f in files[1:]] == sorted(f["distance"] for f in files[1:])
    small = next(f for f in files if f["name"] == "bridge-small.jpg")
    assert small["albums"] == ["Best", "Trip"] and small["album"] == "Best"
    assert plan["exact_duplicates_left_to_dedup"] == 1
    assert plan["photos"] == 5
    made = plan["embeddings"]
    # five distinct contents computed; the forest's second file took the same embedding
    assert (made["computed"], made["reused"], made["fetched"], made["failed"]) == (5, 1, 0, [])
    assert made["sent"] == 6

    again = alice.json("similar")  # nothing left to compute
    assert again["embeddings"]["computed"] == 0 and _group_names(again) == _group_names(plan)

    # a lower threshold than the copies' distances: no group
    far = max(f["distance"] for f in files)
    assert alice.json("similar", "--threshold", str(far / 2))["groups"] != plan["groups"]

    # another device fetches the embeddings (sealed with the file keys) instead of computing
    desktop = Client(tmp_path / "desktop", server.url)
    desktop.login()
    other = desktop.json("similar")
    assert other["embeddings"]["computed"] == 0 and other["embeddings"]["fetched"] == 6
    assert _group_names(other) == _group_names(plan)
    assert ids["bridge.jpg"] == files[0]["id"]


def test_keep_suggested_adds_the_keeper_where_an_album_would_lose_the_scene(
    tmp_path: Path, alice: Client
) -> None:
    ids = _library(tmp_path, alice)
    before_usage = alice.json("usage")
    done = alice.json("similar", "apply", "--keep-suggested")
    assert done["groups"] == 1 and done["trashed"] == 2
    # Best held only the small copy: the keeper was added there before it went
    assert done["added_to_albums"] == 1
    albums = _albums(alice)
    assert albums["Best"] == {"bridge.jpg"}
    assert albums["Trip"] == {"bridge.jpg", "forest.jpg", "forest-copy.jpg", "shop.jpg"}
    trash = {t["name"] for t in alice.json("trash", "ls")}
    assert trash == {"bridge-small.jpg", "bridge-turned.jpg"}
    usage = alice.json("usage")
    assert usage["files"] == before_usage["files"] - 2
    assert usage["trash_bytes"] == done["bytes_freed_when_trash_empties"] > 0
    assert alice.json("similar")["groups"] == []
    # removed from the backup stays removed: a new backup of the folder skips them
    again = alice.json("backup", str(tmp_path / "trip"), "--album", "Trip")
    assert again["uploaded"] == 0
    assert ids["bridge.jpg"] in {f["id"] for f in alice.json("ls")}


def test_an_edited_plan_keeps_what_the_user_chose(tmp_path: Path, alice: Client) -> None:
    _library(tmp_path, alice)
    plan = alice.json("similar")
    # keep the small copy (in both albums) and the turned one; remove the original
    for f in plan["groups"][0]["files"]:
        f["keep"] = f["name"] != "bridge.jpg"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    done = alice.json("similar", "apply", "--plan", str(path))
    # Trip still has kept photos of the scene: no add needed
    assert (done["trashed"], done["added_to_albums"]) == (1, 0)
    albums = _albums(alice)
    assert albums["Best"] == {"bridge-small.jpg"}
    assert {"bridge-small.jpg", "bridge-turned.jpg"} <= albums["Trip"]
    assert "bridge.jpg" not in albums["Trip"]


def test_a_kept_photo_is_added_to_each_album_left_without_the_scene(
    tmp_path: Path, alice: Client
) -> None:
    _library(tmp_path, alice)
    plan = alice.json("similar")
    # keep only the turned copy (Trip only): Best, holding only the small copy, gets it
    for f in plan["groups"][0]["files"]:
        f["keep"] = f["name"] == "bridge-turned.jpg"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    done = alice.json("similar", "apply", "--plan", str(path))
    assert (done["trashed"], done["added_to_albums"]) == (2, 1)
    albums = _albums(alice)
    assert albums["Best"] == {"bridge-turned.jpg"}
    assert "bridge-turned.jpg" in albums["Trip"] and "bridge.jpg" not in albums["Trip"]


def test_a_bad_plan_changes_nothing(tmp_path: Path, alice: Client) -> None:
    ids = _library(tmp_path, alice)
    plan = alice.json("similar")
    usage = alice.json("usage")

    def refused(document: Any, why: str) -> None:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(document))
        result = alice.run("similar", "apply", "--plan", str(path), check=False)
        assert result.returncode != 0 and why in result.stderr, result.stderr
        assert alice.json("usage") == usage

    keep_none = json.loads(json.dumps(plan))
    for f in keep_none["groups"][0]["files"]:
        f["keep"] = False
    refused(keep_none, "keep at least one")
    twice = json.loads(json.dumps(plan))
    twice["groups"].append({"files": [{"id": ids["bridge.jpg"], "keep": False}]})
    refused(twice, "twice")
    unknown = {
        "groups": [
            {"files": [{"id": 999999, "keep": True}, {"id": ids["shop.jpg"], "keep": False}]}
        ]
    }
    refused(unknown, "not live photos")
    refused({"nothing": []}, "groups")
    neither = alice.run("similar", "apply", check=False)
    assert neither.returncode != 0 and "--plan" in neither.stderr


def test_the_daemon_makes_embeddings_when_idle(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    pics = tmp_path / "pics"
    pics.mkdir()
    shutil.copy(_corpus(BRIDGE), pics / "bridge.jpg")
    shutil.copy(_corpus(FOREST), pics / "forest.jpg")
    alice.json("config", "set", "similar.embed_in_daemon", "false")
    alice.json("watch", "add", str(pics), "--album", "Camera")
    with running_daemon(alice):
        wait_for(lambda: alice.json("status")["watches"][0]["backed_up"] == 2)
        # idle with nothing settling: it went past embeddings, the last of its idle work
        wait_for(lambda: at_rest(alice.json("status")), timeout=60)
        assert alice.json("status")["embeddings"]["embedded"] == 0  # switched off
    alice.json("config", "set", "similar.embed_in_daemon", "true")
    with running_daemon(alice):
        wait_for(lambda: alice.json("status")["embeddings"]["embedded"] == 2)
        # a new photo gets one too, after its original and thumbnail
        shutil.copy(_corpus(SHOP), pics / "shop.jpg")
        status = wait_for(lambda: (s := alice.json("status"))["embeddings"]["embedded"] == 3 and s)
        assert status["embeddings"] == {"photos": 3, "embedded": 3, "failed": 0, "pending": 0}
    # they were sent: another device computes nothing
    desktop = Client(tmp_path / "desktop", server.url)
    desktop.login()
    made = desktop.json("similar")["embeddings"]
    assert (made["computed"], made["fetched"]) == (0, 3)


def _plain(path: Path, top: tuple[int, int, int], bottom: tuple[int, int, int], seed: int) -> Path:
    """A featureless phone-sized picture: a smooth vertical gradient and sensor grain (a sky,
    a wall, a dark frame)."""
    rng = np.random.default_rng(seed)
    height, width = 900, 1200
    t = np.linspace(0.0, 1.0, height)[:, None, None]
    field = np.array(top, float) * (1 - t) + np.array(bottom, float) * t
    pixels = field + rng.normal(0.0, 2.5, (height, width, 3))
    image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
    return _save(image, path)


def test_tiers_other_shots_are_similar_copies_near_identical_plain_never(
    tmp_path: Path, alice: Client
) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    for i, relative in enumerate(TIN):
        shutil.copy(_corpus(relative), shots / f"tin-{i}.jpg")
    bridge = Image.open(_corpus(BRIDGE))
    shutil.copy(_corpus(BRIDGE), shots / "bridge.jpg")
    turned = bridge.transpose(Image.Transpose.ROTATE_270)
    _save(turned.resize((turned.width * 3 // 4, turned.height * 3 // 4)), shots / "turned.jpg")
    _save(bridge.resize((bridge.width // 2, bridge.height // 2)), shots / "bridge-small.jpg", 60)
    _plain(shots / "sky-blue.jpg", (38, 92, 188), (150, 192, 236), 1)  # a clear sky
    _plain(shots / "sky-grey.jpg", (150, 152, 158), (205, 206, 210), 2)  # an overcast one
    _plain(shots / "dark-a.jpg", (5, 5, 7), (5, 5, 7), 3)  # a lens cap
    _plain(shots / "dark-b.jpg", (9, 7, 5), (40, 26, 12), 4)  # near black, a warm glow
    alice.json("backup", str(shots), "--album", "Shots")

    plan = alice.json("similar")
    by_tier: dict[str, list[set[str]]] = {}
    for group in plan["groups"]:
        names = {f["name"] for f in group["files"]}
        by_tier.setdefault(group["tier"], []).append(names)
        # no chaining: every distance within the group's threshold
        assert all(f["distance"] <= group["threshold"] for f in group["files"])
        if group["tier"] == "similar":
            assert all(f["keep"] for f in group["files"])  # nothing pre-selected
        else:
            assert [f["keep"] for f in group["files"]].count(True) == 1
    assert by_tier["near_identical"] == [{"bridge.jpg", "turned.jpg", "bridge-small.jpg"}]
    tins = {f"tin-{i}.jpg" for i in range(4)}
    assert any(len(g & tins) >= 2 for g in by_tier["similar"])
    assert all(g <= tins for g in by_tier["similar"]), by_tier["similar"]
    plain = {"sky-blue.jpg", "sky-grey.jpg", "dark-a.jpg", "dark-b.jpg"}
    assert not any(g & plain for groups in by_tier.values() for g in groups)

    only_near = alice.json("similar", "--tier", "near_identical")
    assert {g["tier"] for g in only_near["groups"]} == {"near_identical"}

    done = alice.json("similar", "apply", "--keep-suggested")
    assert done["trashed"] == 2
    left = {f["name"] for f in alice.json("ls", "Shots")}
    assert tins | plain | {"bridge.jpg"} == left  # no similar-tier photo was trashed
