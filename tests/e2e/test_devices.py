"""Cards, cameras and phones end to end, on a real card filesystem: an exFAT image on a loop
device mounted with ``mount.exfat-fuse`` (as SDXC cards are formatted), a real server process
and the real CLI.

Needs root, ``/dev/fuse``, ``/dev/loop-control``, Debian's ``exfatprogs`` and ``exfat-fuse``
and the shared corpus (``.ci/run`` installs the tools; CI runs as root); skips naming what is
missing otherwise (:func:`tests.cards.card_unavailable`). Every mount and loop device is
undone in the fixture's teardown, failed test or not.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from photoark.client.pipeline.uploader import content_size
from tests.builders import Client, ServerProcess, jpeg_bytes, make_tree, running_daemon, wait_for
from tests.cards import ExfatCard, big_jpeg, camera_card, card_unavailable, phone_storage

pytestmark = pytest.mark.skipif(
    card_unavailable() is not None, reason=f"no real card here: {card_unavailable()}"
)

MakeCard = Callable[..., ExfatCard]


@pytest.fixture
def make_card(tmp_path: Path) -> Iterator[MakeCard]:
    """Make exFAT cards: ``make_card(LABEL, spec)`` formats one with that volume label, mounts
    it at ``tmp/slotN/sdcard`` (not named after the label: the label is read from the card;
    ``slot=`` a slot of an earlier card, unmounted first, as udisks2 mounts a camera's cards),
    writes ``spec`` (``make_tree``) and plugs it in again, so what is read comes from the
    card."""
    cards: list[ExfatCard] = []

    def make(
        label: str, spec: dict[str, Any], size_mb: int = 64, slot: int | None = None
    ) -> ExfatCard:
        n = len(cards)
        point = tmp_path / f"slot{n if slot is None else slot}" / "sdcard"
        card = ExfatCard(tmp_path / f"card{n}.img", point, label, size_mb)
        cards.append(card)
        make_tree(card.mount(), spec)
        card.unmount()
        card.mount()
        return card

    try:
        yield make
    finally:
        for card in reversed(cards):
            card.close()


def _files(card: ExfatCard) -> list[str]:
    return sorted(
        str(p.relative_to(card.mount_point)) for p in card.mount_point.rglob("*") if p.is_file()
    )


def _device(alice: Client, card: ExfatCard) -> dict[str, Any]:
    listed = [d for d in alice.json("devices") if d["path"] == str(card.mount_point)]
    assert len(listed) == 1, listed
    return dict(listed[0])


def _import(alice: Client, *args: str) -> tuple[int, dict[str, Any]]:
    run = alice.run("import", *args, "--json", check=False)
    assert run.stdout, run.stderr
    return run.returncode, json.loads(run.stdout)


def test_camera_card_import_then_replug_sends_nothing(alice: Client, make_card: MakeCard) -> None:
    card = make_card("EOS_DIGITAL", camera_card(photos=3))
    device = _device(alice, card)
    assert device["kind"] == "camera" and device["label"] == "EOS_DIGITAL"
    assert device["id"].startswith("uuid-")
    assert (device["photos"], device["backed_up"]) == (5, 0)  # 3 JPEGs, a RAW, a video

    code, first = _import(alice, device["id"])
    assert code == 0, first
    assert (first["uploaded"], first["failed"], first["album"]) == (5, [], "EOS_DIGITAL")
    assert first["bytes_uploaded"] > 0 and not first["unplugged"]

    card.unmount()  # unplugged, plugged in again: the same card, the same id
    card.mount()
    assert _device(alice, card)["backed_up"] == 5
    code, again = _import(alice, str(card.mount_point))
    assert code == 0, again
    assert (again["uploaded"], again["skipped"], again["bytes_uploaded"]) == (0, 5, 0)
    names = sorted(f["name"] for f in alice.json("ls", "EOS_DIGITAL"))
    assert names == ["IMG_0001.JPG", "IMG_0002.JPG", "IMG_0003.JPG", "IMG_0004.DNG", "MVI_0005.MP4"]


def test_phone_storage_is_a_phone_with_its_motion_photo_and_video(
    alice: Client, make_card: MakeCard
) -> None:
    card = make_card("PIXEL", phone_storage())
    device = _device(alice, card)
    assert (device["kind"], device["photos"]) == ("phone", 3)
    code, out = _import(alice, "PIXEL", "--album", "Phone")
    assert code == 0, out
    assert (out["uploaded"], out["album"]) == (3, "Phone")
    # the album given is remembered for the device
    code, again = _import(alice, "PIXEL")
    assert (code, again["album"], again["skipped"], again["bytes_uploaded"]) == (0, "Phone", 3, 0)


def test_a_second_card_reusing_the_names_is_other_photos(
    alice: Client, make_card: MakeCard
) -> None:
    first = make_card("EOS_DIGITAL", camera_card(seed=0, photos=3))
    assert _import(alice, str(first.mount_point))[0] == 0
    first.unmount()
    second = make_card("EOS_DIGITAL", camera_card(seed=1, photos=3))  # IMG_0001.JPG again
    device = _device(alice, second)
    assert device["id"] != "" and device["backed_up"] == 2  # the RAW and the video
    code, out = _import(alice, str(second.mount_point))
    assert code == 0, out
    assert out["album"] == "EOS_DIGITAL"
    assert (out["uploaded"], out["skipped"]) == (3, 2)  # new JPEGs; RAW and video known
    names = [f["name"] for f in alice.json("ls", "EOS_DIGITAL")]
    assert sorted(names).count("IMG_0001.JPG") == 2 and len(names) == 8


def test_a_second_card_in_the_same_place_is_never_taken_for_the_first(
    alice: Client, make_card: MakeCard
) -> None:
    """Two cards of one camera at one mount point, the same name, size and times: exfat-fuse
    numbers inodes alike, so only the card's id tells the stat cache entry is the other's."""
    a, b = (jpeg_bytes(seed, (320, 240)) for seed in (11, 12))
    size = max(len(a), len(b))
    a, b = a + bytes(size - len(a)), b + bytes(size - len(b))  # same size: the same stat
    first = make_card("EOS_DIGITAL", {"DCIM": {"100CANON": {"IMG_0001.JPG": a}}}, slot=0)
    photo = first.mount_point / "DCIM/100CANON/IMG_0001.JPG"
    os.utime(photo, ns=(1_700_000_000 * 10**9,) * 2)
    assert _import(alice, str(first.mount_point))[0] == 0
    before = os.stat(photo)
    first.unmount()
    second = make_card("EOS_DIGITAL", {"DCIM": {"100CANON": {"IMG_0001.JPG": b}}}, slot=0)
    os.utime(photo, ns=(1_700_000_000 * 10**9,) * 2)
    after = os.stat(photo)
    assert second.mount_point == first.mount_point and after.st_size == before.st_size
    assert _device(alice, second)["backed_up"] == 0  # not card one's photo
    code, out = _import(alice, str(second.mount_point), "--free-up")
    assert code == 0, out
    assert out["uploaded"] == 1 and out["previous_versions"]["trashed"] == 0
    names = [f["name"] for f in alice.json("ls", "EOS_DIGITAL")]
    assert names.count("IMG_0001.JPG") == 2  # both photos live, card one's not retired
    assert alice.json("trash", "ls") == []
    assert out["free_up"]["deleted"] and not photo.exists()  # card two's own, now verified


def test_free_up_deletes_only_verified_files_and_names_damaged_ones(
    alice: Client, make_card: MakeCard
) -> None:
    spec = camera_card(photos=3)
    spec["DCIM"]["100CANON"]["IMG_0009.JPG"] = b""  # damaged: the camera died while writing
    card = make_card("EOS_DIGITAL", spec)
    code, out = _import(alice, str(card.mount_point), "--free-up", "--verify-download")
    assert code == 2, out  # one file could not be backed up: not a success
    assert [f["path"].rsplit("/", 1)[1] for f in out["failed"]] == ["IMG_0009.JPG"]
    assert "empty file" in out["failed"][0]["error"]
    assert out["uploaded"] == 5
    freed = out["free_up"]
    assert len(freed["deleted"]) == 5 and freed["refused"] is None
    assert freed["bytes_freed"] == sum(d["size"] for d in freed["deleted"])
    assert _files(card) == ["DCIM/100CANON/IMG_0009.JPG"]  # only the damaged one is left
    # what was deleted is in the library, whole
    assert len(alice.json("ls", "EOS_DIGITAL")) == 5


def test_free_up_keeps_a_photo_whose_server_copy_does_not_verify(
    alice: Client, server: ServerProcess, make_card: MakeCard
) -> None:
    card = make_card("EOS_DIGITAL", camera_card(photos=3, raw=False, video=False))
    assert _import(alice, str(card.mount_point))[0] == 0
    with sqlite3.connect(server.data_dir / "photoark.db") as db:
        key = db.execute("SELECT content_object FROM files ORDER BY id LIMIT 1").fetchone()[0]
    (victim,) = [p for p in (server.data_dir / "blobs").rglob(key) if p.is_file()]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only a download can tell
    victim.write_bytes(bytes(data))
    code, out = _import(alice, str(card.mount_point), "--free-up", "--verify-download")
    assert code == 0 and out["uploaded"] == 0, out
    freed = out["free_up"]
    assert len(freed["deleted"]) == 2
    assert [k["reason"] for k in freed["kept"]] == ["server_copy_corrupt"]
    kept = freed["kept"][0]["path"]
    assert _files(card) == [os.path.relpath(kept, card.mount_point)]  # it stays on the card


def test_a_read_only_card_is_imported_and_its_free_up_refused_clearly(
    alice: Client, make_card: MakeCard
) -> None:
    card = make_card("EOS_DIGITAL", camera_card(photos=2))
    card.unmount()
    card.mount(read_only=True)
    assert _device(alice, card)["read_only"] is True
    run = alice.run("import", str(card.mount_point), "--free-up", check=False)
    assert run.returncode == 0, run.stderr
    assert "read-only" in run.stderr and "nothing was deleted" in run.stderr
    code, out = _import(alice, str(card.mount_point), "--free-up")
    assert code == 0 and out["skipped"] == 4
    assert out["free_up"]["refused"] and len(_files(card)) == 4


def _committed(home: Path) -> int:
    db = sqlite3.connect(f"file:{home / 'state.db'}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        db.close()


def test_unplugged_mid_import_then_resumed_sends_only_what_is_missing(
    alice: Client, make_card: MakeCard
) -> None:
    # files above one part (8 MiB) are committed one by one, so the cut falls between commits
    photos = {f"IMG_{i:04d}.JPG": big_jpeg(i, 9 << 20) for i in range(1, 13)}
    card = make_card("EOS_DIGITAL", {"DCIM": {"100CANON": photos}}, size_mb=192)
    env = {**os.environ, "PHOTOARK_HOME": str(alice.home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "photoark.cli.main", "import", str(card.mount_point),
         "--workers", "1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        wait_for(lambda: _committed(alice.home) >= 2 or proc.poll() is not None, timeout=120)
        card.unplug()
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 5, stderr
    cut = json.loads(stdout)
    assert cut["unplugged"] is True and 0 < cut["uploaded"] < 12, cut
    stored = {f["name"] for f in alice.json("ls", "EOS_DIGITAL")}
    assert len(stored) == cut["uploaded"]  # nothing half-stored
    missing = sum(content_size(len(b)) for name, b in photos.items() if name not in stored)
    card.mount()
    code, rest = _import(alice, str(card.mount_point))
    assert code == 0, rest
    assert (rest["uploaded"], rest["skipped"]) == (12 - cut["uploaded"], cut["uploaded"])
    assert rest["bytes_uploaded"] <= missing  # what was stored is not sent again (encrypted)
    assert sorted(f["name"] for f in alice.json("ls", "EOS_DIGITAL")) == sorted(photos)


def test_the_daemon_imports_a_card_that_appears_and_frees_it_when_asked(
    alice: Client, make_card: MakeCard
) -> None:
    alice.run("config", "set", "devices.auto_import", "true")
    alice.run("config", "set", "devices.auto_free_up", "true")
    log = alice.home.parent / f"daemon-{alice.home.name}.log"
    with running_daemon(alice):
        card = make_card("EOS_DIGITAL", camera_card(photos=2))  # plugged in while it runs
        wait_for(lambda: not _files(card), timeout=120)  # backed up, verified, then freed
    names = sorted(f["name"] for f in alice.json("ls", "EOS_DIGITAL"))
    assert names == ["IMG_0001.JPG", "IMG_0002.JPG", "IMG_0003.DNG", "MVI_0004.MP4"]
    text = log.read_text()
    assert "EOS_DIGITAL: 4 photos backed up" in text and "Freed" in text, text
