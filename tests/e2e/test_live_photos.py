"""Apple Live Photos end to end: the corpus pair becomes ONE ``live`` item, dedup works on the
combined hash, and export restores both files byte-identical; a pair larger than one part goes
through the resumable part-by-part path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from photoark.client.pipeline import livephotos
from photoark.client.pipeline.backup import BackupOptions, backup
from photoark.client.session import Session
from photoark.crypto.hashing import hash_file
from tests.builders import CORPUS, Client, ServerProcess, jpeg_bytes

PAIR = CORPUS / "lychee-samples" / "tests" / "Samples"
pytestmark = pytest.mark.skipif(
    not (PAIR / "train.jpg").is_file(), reason="../shared/corpus (Live Photo pair) is absent"
)


def live_folder(root: Path, grow_video: int = 0) -> Path:
    root.mkdir(parents=True)
    shutil.copy(PAIR / "train.jpg", root / "train.jpg")
    shutil.copy(PAIR / "train.mov", root / "train.mov")
    if grow_video:  # trailing bytes after the movie's boxes: still a MOV with its identifier
        with open(root / "train.mov", "ab") as f:
            f.write(os.urandom(grow_video))
    (root / "other.jpg").write_bytes(jpeg_bytes(7, (80, 60)))
    return root


@pytest.mark.parametrize("grow_video", [0, 9 * 1024 * 1024], ids=["bundled", "part-by-part"])
def test_live_pair_is_one_item_and_exports_both_files(
    tmp_path: Path, server: ServerProcess, alice: Client, grow_video: int
) -> None:
    photos = live_folder(tmp_path / "p", grow_video)
    report = alice.json("backup", str(photos), "--album", "Live")
    assert report["uploaded"] == 2 and not report["failed"], report
    items = alice.json("ls", "Live")
    live = [i for i in items if i["type"] == "live"]
    assert len(items) == 2 and len(live) == 1
    still_hash, video_hash = hash_file(photos / "train.jpg"), hash_file(photos / "train.mov")
    assert live[0]["hash"] == f"{still_hash}:{video_hash}"
    assert live[0]["name"] == "train.jpg"
    assert (
        live[0]["size"]
        == (photos / "train.jpg").stat().st_size + (photos / "train.mov").stat().st_size
    )
    assert report["thumbnails"]["made"] == 2  # the still gives the live item its thumbnail

    again = alice.json("backup", str(photos), "--album", "Live")
    assert again["skipped"] == 2 and again["bytes_uploaded"] == 0
    elsewhere = alice.json("backup", str(photos), "--album", "Copy")
    assert elsewhere["added_to_album"] == 2 and elsewhere["bytes_uploaded"] == 0

    other_device = Client(tmp_path / "restore", server.url)
    other_device.login()
    out = tmp_path / "out"
    other_device.run("export", str(out), "--album", "Live")
    for name in ("train.jpg", "train.mov", "other.jpg"):
        assert (out / "Live" / name).read_bytes() == (photos / name).read_bytes(), name
    second = other_device.json("export", str(out), "--album", "Live")
    assert second["written"] == 0 and second["existing"] == 2


def test_same_basename_without_matching_identifiers_stays_two_files(
    tmp_path: Path, alice: Client
) -> None:
    photos = tmp_path / "p"
    photos.mkdir()
    (photos / "IMG_1.jpg").write_bytes(jpeg_bytes(1, (64, 48)))  # no Apple maker note
    shutil.copy(PAIR / "train.mov", photos / "IMG_1.mov")
    report = alice.json("backup", str(photos), "--album", "A")
    assert report["uploaded"] == 2
    assert sorted(i["type"] for i in alice.json("ls", "A")) == ["image", "video"]


def test_an_unchanged_rerun_opens_neither_part(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = live_folder(tmp_path / "p")
    first = backup(session, [str(photos)], "Live", BackupOptions(workers=2))
    assert first.uploaded == 2

    def no_reads(*args: object, **kw: object) -> None:
        raise AssertionError("an unchanged Live Photo must not be opened again")

    monkeypatch.setattr(livephotos, "sniff", no_reads)
    monkeypatch.setattr(livephotos, "extract_metadata", no_reads)
    again = backup(session, [str(photos)], "Live", BackupOptions(workers=2))
    assert again.skipped == 2 and again.uploaded == 0 and not again.failed
