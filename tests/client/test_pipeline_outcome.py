"""A backup run's per-file outcomes: typed, yet the same strings in progress and JSON; each
counted under its own field, an ignored file with its reason."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from photoark.client.errors import (
    ApiError,
    FileChangedError,
    ServerUnreachable,
    StoreUnreachable,
)
from photoark.client.pipeline.backup import BackupProgress, BackupReport
from photoark.client.pipeline.outcome import IgnoreReason, Outcome
from photoark.client.pipeline.tally import Tally
from photoark.client.state import StateDB
from photoark.client.state.statcache import StatCache


class _Recorder(BackupProgress):
    def __init__(self) -> None:
        self.files: list[tuple[str, int, Outcome]] = []
        self.bytes: list[int] = []

    def file_done(self, path: str, size: int, outcome: Outcome) -> None:
        self.files.append((path, size, outcome))

    def bytes_done(self, n: int) -> None:
        self.bytes.append(n)


def _tally(tmp_path: Path, cancel: threading.Event | None = None) -> tuple[Tally, _Recorder]:
    progress = _Recorder()
    return Tally(BackupReport(), progress, StatCache(StateDB(tmp_path / "s.db")), cancel), progress


@pytest.mark.parametrize(
    ("outcome", "text"),
    [
        (Outcome.UPLOADED, "uploaded"),
        (Outcome.SKIPPED, "skipped"),
        (Outcome.ADDED, "added"),
        (Outcome.IGNORED, "ignored"),
        (Outcome.FAILED, "failed"),
        (Outcome.DELETED_FROM_BACKUP, "deleted_from_backup"),
    ],
)
def test_an_outcome_is_the_string_it_always_was(outcome: Outcome, text: str) -> None:
    assert outcome == text
    assert f"{outcome}" == str(outcome) == text
    assert json.dumps({"outcome": outcome}) == json.dumps({"outcome": text})


def test_an_ignored_file_is_counted_with_its_reason_as_plain_text(tmp_path: Path) -> None:
    tally, progress = _tally(tmp_path)
    tally.count("/p/notes.txt", 12, Outcome.IGNORED, IgnoreReason.NOT_MEDIA)
    assert tally.report.ignored == [{"path": "/p/notes.txt", "reason": "not a photo or video"}]
    assert type(tally.report.ignored[0]["reason"]) is str  # no enum leaks into the report
    assert json.loads(json.dumps(tally.report.as_json()))["ignored"] == [
        {"path": "/p/notes.txt", "reason": "not a photo or video"}
    ]
    assert progress.files == [("/p/notes.txt", 12, "ignored")]
    assert progress.bytes == [12]


def test_each_outcome_lands_in_its_own_field(tmp_path: Path) -> None:
    tally, progress = _tally(tmp_path)
    tally.count("/p/u.jpg", 10, Outcome.UPLOADED)
    tally.count("/p/s.jpg", 20, Outcome.SKIPPED)
    tally.count("/p/a.jpg", 30, Outcome.ADDED)
    tally.count("/p/f.jpg", 40, Outcome.FAILED, "server refused it")
    tally.count("/p/d.jpg", 50, Outcome.DELETED_FROM_BACKUP)
    report = tally.report
    assert (report.uploaded, report.skipped, report.added_to_album) == (1, 1, 1)
    assert report.failed == [{"path": "/p/f.jpg", "error": "server refused it"}]
    assert report.deleted_from_backup == ["/p/d.jpg"]
    assert report.ignored == []
    # an uploaded file's bytes were told as they were read; the others' are told when counted
    assert progress.bytes == [20, 30, 40, 50]
    assert [outcome for _, _, outcome in progress.files] == [
        "uploaded",
        "skipped",
        "added",
        "failed",
        "deleted_from_backup",
    ]


def test_an_unreachable_server_stops_the_run_and_fails_the_file(tmp_path: Path) -> None:
    tally, _ = _tally(tmp_path)
    assert not tally.stopped()
    tally.failed("/p/a.jpg", 5, ServerUnreachable("cannot reach http://x"))
    assert tally.stopped()
    assert tally.report.aborted == "cannot reach http://x"
    assert tally.report.failed == [{"path": "/p/a.jpg", "error": "cannot reach http://x"}]


def test_an_unreachable_store_stops_the_run_with_its_own_hint(tmp_path: Path) -> None:
    """The server answers but the object store it hands out cannot be reached: the run stops
    as for the server, and the report keeps what to do about the store (JSON too)."""
    tally, _ = _tally(tmp_path)
    err = StoreUnreachable("cannot reach the object store at http://weed:8333 (refused)")
    tally.failed("/p/a.jpg", 5, err)
    assert tally.stopped()
    assert tally.report.aborted == str(err) and tally.report.aborted_hint == err.hint
    assert "--blobs" in err.hint and "public_endpoint" in err.hint
    data = tally.report.as_json()
    assert data["aborted"] == str(err) and data["aborted_hint"] == err.hint


def test_a_failure_says_what_the_user_should_know(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(b"x")
    tally, _ = _tally(tmp_path)
    cache = tally._stat_cache
    cache.store(str(path), os.stat(path), "jpeg", "h")
    tally.failed(str(path), 1, FileChangedError(f"{path} changed while it was read"))
    assert cache.lookup(str(path), os.stat(path)) is None  # its cached hash may be stale
    tally.failed("/p/b.jpg", 1, ApiError("quota_exceeded", "no room", 413))
    tally.failed("/p/c.jpg", 1, PermissionError(13, "Permission denied", "/p/c.jpg"))
    assert [f["error"] for f in tally.report.failed] == [
        f"{path} changed while it was read; it will be retried on the next run",
        "server refused it (quota_exceeded): no room",
        "cannot read: Permission denied",
    ]
    assert tally.report.quota_exceeded
    assert not tally.stopped()


def test_the_callers_cancel_stops_the_run(tmp_path: Path) -> None:
    cancel = threading.Event()
    tally, _ = _tally(tmp_path, cancel)
    assert not tally.stopped()
    cancel.set()
    assert tally.stopped()
