"""The watcher's filters and the settler: a file is taken only once it holds still."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from photoark.client.daemon.watcher import FolderWatcher, Settler, wanted


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("IMG_0001.JPG", True),
        ("Trips/Rome/IMG_0002.heic", True),
        (".hidden.jpg", False),
        (".thumbnails/x.jpg", False),
        ("Trips/.Trash-1000/x.jpg", False),
        ("photo.jpg.part", False),
        ("photo.jpg.crdownload", False),
        ("photo.jpg.tmp", False),
        ("photo.jpg~", False),
        ("~$draft.jpg", False),
        ("IMG_0001.xmp", False),
        ("IMG_0001.AAE", False),
        ("notes.txt", True),  # decided by content later (non-media is passed over then)
    ],
)
def test_wanted(tmp_path: Path, rel: str, expected: bool) -> None:
    assert wanted(str(tmp_path / rel), str(tmp_path)) is expected


def test_outside_the_root_is_not_wanted(tmp_path: Path) -> None:
    assert not wanted(str(tmp_path.parent / "x.jpg"), str(tmp_path))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_file_written_long_ago_is_taken_at_once(tmp_path: Path) -> None:
    f = tmp_path / "old.jpg"
    f.write_bytes(b"x")
    os.utime(f, (time.time() - 60, time.time() - 60))
    settler = Settler(1.0, Clock())
    settler.touch(str(f))
    assert settler.take_settled() == [str(f)]
    assert len(settler) == 0


def test_a_fresh_file_waits_for_the_settle_time(tmp_path: Path) -> None:
    clock = Clock()
    f = tmp_path / "new.jpg"
    f.write_bytes(b"x")
    settler = Settler(1.0, clock)
    settler.touch(str(f))
    assert settler.take_settled() == []
    clock.now += 0.5
    assert settler.take_settled() == []
    clock.now += 0.6
    assert settler.take_settled() == [str(f)]


def test_a_file_still_being_written_is_held_back(tmp_path: Path) -> None:
    clock = Clock()
    f = tmp_path / "growing.mp4"
    f.write_bytes(b"x")
    settler = Settler(1.0, clock)
    settler.touch(str(f))
    for _ in range(5):
        clock.now += 0.8
        with open(f, "ab") as out:
            out.write(b"more")  # size moves: the wait starts again
        assert settler.take_settled() == []
    clock.now += 1.1
    assert settler.take_settled() == [str(f)]


def test_a_live_photo_waits_for_its_other_half(tmp_path: Path) -> None:
    clock = Clock()
    still, video, other = tmp_path / "IMG_1.HEIC", tmp_path / "IMG_1.MOV", tmp_path / "IMG_2.JPG"
    for f in (still, video, other):
        f.write_bytes(b"x")
    settler = Settler(1.0, clock)
    settler.touch(str(still))
    settler.touch(str(other))
    assert settler.take_settled() == []
    clock.now += 0.8
    settler.touch(str(video))  # the sync tool writes the video a moment later
    assert settler.take_settled() == []
    clock.now += 0.3
    assert settler.take_settled() == [str(other)]  # the still waits for the video
    clock.now += 1.0
    assert settler.take_settled() == [str(still), str(video)]


def test_a_vanished_file_is_dropped(tmp_path: Path) -> None:
    f = tmp_path / "gone.jpg"
    f.write_bytes(b"x")
    settler = Settler(0.0, Clock())
    settler.touch(str(f))
    f.unlink()
    assert settler.take_settled() == []
    assert len(settler) == 0


def test_folder_watcher_sees_new_files_and_folders_moved_in(tmp_path: Path) -> None:
    root = tmp_path / "watched"
    root.mkdir()
    outside = tmp_path / "outside"
    (outside / "album").mkdir(parents=True)
    (outside / "album" / "in-moved-folder.jpg").write_bytes(b"x")
    settler = Settler(0.0)
    gone: list[str] = []
    watcher = FolderWatcher(settler, gone.append)
    watcher.watch(str(root))
    try:
        (root / "new.jpg").write_bytes(b"x")
        (root / ".hidden.jpg").write_bytes(b"x")
        os.rename(outside / "album", root / "album")
        expected = {str(root / "new.jpg"), str(root / "album" / "in-moved-folder.jpg")}
        taken: set[str] = set()
        deadline = time.monotonic() + 10
        while taken != expected and time.monotonic() < deadline:
            time.sleep(0.05)
            taken |= set(settler.take_settled())
        assert taken == expected
        (root / "new.jpg").unlink()
        deadline = time.monotonic() + 10
        while str(root / "new.jpg") not in gone and time.monotonic() < deadline:
            time.sleep(0.05)
        assert str(root / "new.jpg") in gone
    finally:
        watcher.stop()
