"""The end-of-run report of ``photoark backup`` and ``quickstart`` (``print_report``): every
failure and every thumbnail not made named with its reason, long lists capped with a pointer to
``--json``, counts that agree in number, a Live Photo explained, a missing ffmpeg said once."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from photoark.cli import output
from photoark.cli.commands import backup as backup_command
from photoark.client.errors import StoreUnreachable
from photoark.client.pipeline.report import BackupReport
from photoark.client.pipeline.thumbnailer import NO_FFMPEG, ThumbnailReport


@pytest.fixture
def printed(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What print_report writes, stdout and stderr in order, as plain text."""
    out = io.StringIO()
    console = Console(file=out, width=300, color_system=None)
    monkeypatch.setattr(backup_command, "console", console)
    monkeypatch.setattr(backup_command, "stderr", console)
    monkeypatch.setattr(output, "stderr", console)  # print_problem's
    return out


def test_failures_and_thumbnails_not_made_are_named_with_their_reasons(
    printed: io.StringIO,
) -> None:
    report = BackupReport(uploaded=3, live_photos=1)
    report.failed.append({"path": "/p/locked.jpg", "error": "cannot read: Permission denied"})
    report.thumbnails = ThumbnailReport(
        made=2, failed=[{"path": "/p/Nikon.nef", "error": "libraw: LibRawDataError:\n  bad"}]
    )
    backup_command.print_report(report)
    text = printed.getvalue()
    assert "uploaded 3, skipped 0" in text and "failed 1," in text
    assert "(1 Live Photo among them: a photo and its video" in text
    assert "thumbnails: 2 made, 1 could not be made" in text
    assert "'/p/Nikon.nef': libraw: LibRawDataError: bad" in text  # on one line
    assert "failed: 1 file not backed up" in text  # "1 file", not "1 files"
    assert "'/p/locked.jpg': cannot read: Permission denied" in text
    assert "ffmpeg" not in text


def test_long_lists_are_capped_and_point_to_json(printed: io.StringIO) -> None:
    report = BackupReport()
    report.failed.extend({"path": f"/p/{i}.jpg", "error": "boom"} for i in range(25))
    report.ignored.extend({"path": f"/p/{i}.txt", "reason": "not media"} for i in range(21))
    backup_command.print_report(report)
    text = printed.getvalue()
    assert "failed: 25 files not backed up" in text
    assert "'/p/19.jpg': boom" in text and "'/p/20.jpg'" not in text
    assert "… and 5 more (--json lists all)" in text
    assert "21 files passed over" in text and "… and 1 more (--json lists all)" in text


def test_a_run_stopped_short_says_why_and_what_to_do(printed: io.StringIO) -> None:
    """The object store out of reach while the server answers: its message, and the hint
    about the store's address (not the server's "is the server running?")."""
    report = BackupReport(uploaded=1)
    report.stop_for(StoreUnreachable("cannot reach the object store at http://weed:8333 (boom)"))
    backup_command.print_report(report)
    lines = printed.getvalue().splitlines()
    stopped = lines.index(
        "stopped: cannot reach the object store at http://weed:8333 (boom). Nothing is lost;"
        " run it again."
    )
    assert lines[stopped + 1] == f"hint: {StoreUnreachable.hint}"
    assert "--blobs" in lines[stopped + 1] and "photoark doctor" not in printed.getvalue()


def test_a_missing_ffmpeg_is_said_once(printed: io.StringIO) -> None:
    report = BackupReport(uploaded=3)
    report.thumbnails = ThumbnailReport(
        made=1,
        failed=[{"path": f"/p/{i}.mp4", "error": NO_FFMPEG} for i in range(2)],
        videos_without_ffmpeg=2,
    )
    backup_command.print_report(report)
    text = printed.getvalue()
    assert text.count("ffmpeg is missing") == 1
    assert "2 videos backed up, but their thumbnails need ffmpeg: sudo apt install ffmpeg" in text
    assert "'/p/1.mp4'" in text


def test_the_json_report_keeps_its_keys_and_adds_the_new_ones() -> None:
    data = BackupReport(live_photos=2).as_json()
    for key in ("uploaded", "skipped", "added_to_album", "failed", "ignored", "bytes_uploaded"):
        assert key in data
    assert data["live_photos"] == 2
    assert data["thumbnails"] == {
        "made": 0,
        "failed": [],
        "videos_without_ffmpeg": 0,
        "pending": 0,
    }
