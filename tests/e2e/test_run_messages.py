"""What a user reads about a backup of a real folder (issue 20): one way of counting around
Live Photos in the bar, the summary and ``photoark status``; every failure named with its
reason once the bar is gone; a missing ffmpeg said once; the daemon's log line per file.

The folder: the corpus's Apple Live Photo pair (train.jpg + train.mov: ONE item), a metadata-
only Nikon RAW stub (LibRaw prints "data corrupted" on its own, and it has no thumbnail), a
plain JPEG and a fake MP4 (a video whose thumbnail needs ffmpeg): 5 files, 4 items.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from photoark.client.pipeline.backup import BackupOptions, BackupProgress, backup
from photoark.client.pipeline.outcome import Outcome
from photoark.client.session import Session
from tests.builders import CORPUS, Client, at_rest, jpeg_bytes, running_daemon, wait_for

LIVE = CORPUS / "lychee-samples" / "tests" / "Samples"
STUB = CORPUS / "exiftool-t-images" / "t" / "images" / "Nikon.nef"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (LIVE / "train.jpg").is_file() or not STUB.is_file(),
        reason="../shared/corpus (Live Photo pair, Nikon stub) is absent",
    ),
]

ITEMS = 4  # the pair, the stub, the JPEG, the MP4
FILES = 5


def _folder(root: Path) -> Path:
    root.mkdir(parents=True)
    for source in (LIVE / "train.jpg", LIVE / "train.mov", STUB):
        shutil.copyfile(source, root / source.name)
    (root / "plain.jpg").write_bytes(jpeg_bytes(3, (80, 60)))
    (root / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
    return root


class _Items(BackupProgress):
    """What a progress bar is told: the planned total and each item's end."""

    def __init__(self) -> None:
        self.planned_items: list[int] = []
        self.done: list[tuple[str, Outcome]] = []
        self.failed: list[tuple[str, str]] = []

    def planned(self, files: int, total_bytes: int) -> None:
        self.planned_items.append(files)

    def file_failed(self, path: str, error: str) -> None:
        self.failed.append((path, error))

    def file_done(self, path: str, size: int, outcome: Outcome) -> None:
        self.done.append((os.path.basename(path), outcome))


def test_the_bar_the_report_and_status_count_a_live_photo_once(
    tmp_path: Path, session: Session
) -> None:
    photos = _folder(tmp_path / "p")
    for run in ("first", "unchanged"):
        progress = _Items()
        report = backup(session, [str(photos)], "A", BackupOptions(workers=2), progress)
        # the bar ends at N/N: as many items done as planned, and nothing failed
        assert progress.planned_items == [ITEMS], run
        assert len(progress.done) == ITEMS and not progress.failed, (run, progress.done)
        assert not report.failed, report.failed
        assert report.live_photos == 1
        counted = report.uploaded + report.skipped + report.added_to_album
        assert counted == ITEMS, (run, report.as_json())
        assert report.as_json()["live_photos"] == 1
        assert ("train.mov", Outcome.UPLOADED) not in progress.done  # counted as train.jpg


def test_status_counts_items_seen_and_backed_up_alike(tmp_path: Path, alice: Client) -> None:
    photos = _folder(tmp_path / "p")
    alice.json("watch", "add", str(photos))
    report = alice.json("backup", str(photos), "--album", "p")
    assert report["uploaded"] == ITEMS and report["live_photos"] == 1, report
    watch = alice.json("status")["watches"][0]
    assert watch["seen"] == watch["backed_up"] == ITEMS, watch  # was 5 seen, 4 backed up
    assert watch["live_photos"] == 1
    assert watch["seen"] + watch["live_photos"] == FILES
    text = alice.run("status").stdout
    assert f"{ITEMS} items seen, {ITEMS} backed up" in " ".join(text.split()), text
    assert "1 Live Photo among them" in " ".join(text.split()), text


def _on_a_terminal(args: list[str], env: dict[str, str], timeout: float = 240) -> str:
    """Run ``photoark ARGS`` with stdout and stderr on a pseudo-terminal (so the rich bar is
    drawn, as for a user); everything it wrote, in order, escape sequences removed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "photoark.cli.main", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            proc.kill()
            raise AssertionError("the command printed nothing for too long")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    proc.wait(30)
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def _photoark(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "photoark.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


def _env(client: Client, without_ffmpeg: bool = False) -> dict[str, str]:
    env = {**os.environ, "PHOTOARK_HOME": str(client.home), "COLUMNS": "250", "TERM": "xterm"}
    if without_ffmpeg:
        env["PATH"] = os.pathsep.join(
            d for d in env.get("PATH", "").split(os.pathsep) if not (Path(d) / "ffmpeg").exists()
        )
    return env


def test_failures_and_what_libraries_print_come_after_the_bar(
    tmp_path: Path, alice: Client
) -> None:
    photos = _folder(tmp_path / "p")
    out = _on_a_terminal(["backup", str(photos), "--album", "A"], _env(alice))
    frames = [m.end() for m in re.finditer(r"\d+/\d+ items", out)]
    assert frames, out
    # the bar ends at N/N items
    assert re.findall(r"(\d+)/(\d+) items", out)[-1] == (str(ITEMS), str(ITEMS)), out
    bar_gone = frames[-1]
    after = out[bar_gone:]
    # LibRaw's own line about the stub is held back while the bar is drawn, shown after it
    assert "data corrupted" not in out[:bar_gone], out
    assert "Nikon.nef: data corrupted" in after, out
    # the summary counts items and says why, and the thumbnails not made are named
    assert "uploaded 4," in after and "1 Live Photo among them" in after, after
    assert re.search(r"thumbnails: \d+ made, \d+ could not be made", after), after
    listed = after[after.index("could not be made") :]
    assert "Nikon.nef" in listed and "libraw" in listed, after


def test_a_missing_ffmpeg_is_said_once_and_the_json_lists_every_thumbnail_failure(
    tmp_path: Path, alice: Client
) -> None:
    photos = _folder(tmp_path / "p")
    env = _env(alice, without_ffmpeg=True)
    run = _photoark(["backup", str(photos), "--album", "A"], env)
    assert run.returncode == 0, run.stderr
    said = run.stdout + run.stderr
    assert said.count("ffmpeg is missing") == 1, said
    assert "1 video backed up, but its thumbnail needs ffmpeg: sudo apt install ffmpeg" in said
    assert "clip.mp4" in said  # named among the thumbnails not made

    again = tmp_path / "q"
    shutil.copytree(photos, again)
    (again / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
    report: dict[str, Any] = json.loads(
        _photoark(["backup", str(again), "--album", "B", "--json"], env).stdout
    )
    thumbs = report["thumbnails"]
    assert thumbs["videos_without_ffmpeg"] == 1, thumbs
    failed = {os.path.basename(f["path"]): f["error"] for f in thumbs["failed"]}
    assert "ffmpeg" in failed["clip.mp4"], failed


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_with_ffmpeg_nothing_is_said_about_it(tmp_path: Path, alice: Client) -> None:
    photos = _folder(tmp_path / "p")
    run = alice.run("backup", str(photos), "--album", "A")
    assert "ffmpeg is missing" not in run.stdout + run.stderr
    report = alice.json("backup", str(photos), "--album", "B")
    assert report["thumbnails"]["videos_without_ffmpeg"] == 0


def test_the_daemon_logs_each_file_at_info(tmp_path: Path, alice: Client) -> None:
    photos = _folder(tmp_path / "p")
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "notes.txt").write_text("not a photo")
    alice.json("watch", "add", str(photos))
    log = alice.home.parent / f"daemon-{alice.home.name}.log"
    with running_daemon(alice):
        wait_for(lambda: (s := alice.json("status"))["watches"][0]["backed_up"] == ITEMS and s)
        (photos / "plain.jpg").write_bytes(jpeg_bytes(4, (80, 60)))  # a new version
        wait_for(lambda: "new version of" in log.read_text(), timeout=60)
        wait_for(lambda: at_rest(alice.json("status")), timeout=60)
    text = log.read_text()
    lines = text.splitlines()

    def line_of(name: str, words: str) -> str:
        found = [line for line in lines if name in line and words in line]
        assert found, f"no line with {name!r} and {words!r}:\n{text}"
        return found[0]

    assert line_of("plain.jpg", "uploaded ").startswith("INFO photoark.client.daemon.backups")
    assert line_of("train.jpg", "uploaded ").startswith("INFO ")  # the Live Photo, once
    assert not [line for line in lines if "uploaded" in line and "train.mov" in line], text
    assert line_of("Nikon.nef", "uploaded ").startswith("INFO ")
    assert line_of("notes.txt", "passed over").startswith("INFO ")
    failed = line_of("empty.jpg", "failed")
    assert failed.startswith("WARNING ") and "empty file" in failed
    assert line_of("plain.jpg", "uploaded a new version of").startswith("INFO ")
