"""Bad input end to end: quota exceeded, files that change while read, unreadable files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from photoark.client.pipeline.backup import BackupOptions, backup
from photoark.client.pipeline.describe import describe
from photoark.client.session import Session
from tests.builders import Client, jpeg_bytes, make_tree, running_server


def test_quota_exceeded_is_refused_with_the_numbers(tmp_path: Path) -> None:
    with running_server(tmp_path, "--default-quota", "100KiB") as server:
        client = Client(tmp_path / "c", server.url)
        client.signup()
        make_tree(tmp_path / "p", {"big.jpg": b"\xff\xd8\xff\xe0" + os.urandom(300_000)})
        result = client.run("backup", str(tmp_path / "p"), "--album", "A", "--json", check=False)
        assert result.returncode == 6  # the quota exit code
        report = json.loads(result.stdout)
        assert report["uploaded"] == 0
        error = report["failed"][0]["error"]
        assert "quota_exceeded" in error
        assert "100.0 KiB" in error and "293.0 KiB" in error, error
        assert client.json("usage")["stored_bytes"] == 0
        assert client.json("ls") == []


def test_file_changed_while_uploading_is_never_committed(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "p", {"a.jpg": jpeg_bytes(1, (300, 200))})
    target = tmp_path / "p" / "a.jpg"

    def describe_then_edit(*args: Any, **kw: Any) -> Any:
        out = describe(*args, **kw)
        with open(target, "ab") as f:  # an editor saving while we upload
            f.write(b"more bytes")
        return out

    monkeypatch.setattr("photoark.client.pipeline.backup.describe", describe_then_edit)
    report = backup(session, [str(tmp_path / "p")], "A", BackupOptions(workers=1))
    assert report.uploaded == 0
    assert "changed" in report.failed[0]["error"]
    assert session.api.usage().files == 0
    monkeypatch.setattr("photoark.client.pipeline.backup.describe", describe)
    again = backup(session, [str(tmp_path / "p")], "A")
    assert again.uploaded == 1
    (f,) = session.mirror.files_in_album(session.mirror.albums()[0].id)
    assert f.size == target.stat().st_size


def test_unreadable_file_fails_alone(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "p", {"ok.jpg": jpeg_bytes(1), "locked.jpg": jpeg_bytes(2)})
    real_open = open

    def guarded_open(path: Any, *args: Any, **kw: Any) -> Any:
        if str(path).endswith("locked.jpg"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kw)

    monkeypatch.setattr("builtins.open", guarded_open)
    report = backup(session, [str(tmp_path / "p")], "A")
    assert report.uploaded == 1
    assert report.failed == [
        {"path": str(tmp_path / "p" / "locked.jpg"), "error": "cannot read: Permission denied"}
    ]


def test_parallel_identical_files_upload_once(tmp_path: Path, session: Session) -> None:
    same = jpeg_bytes(7, (200, 100))
    make_tree(tmp_path / "p", {f"copy-{i}": {"IMG_1.jpg": same} for i in range(12)})
    report = backup(session, [str(tmp_path / "p")], "A", BackupOptions(workers=6))
    assert report.uploaded == 1
    assert report.skipped == 11
    assert session.api.usage().files == 1


def test_edit_that_restores_mtime_is_still_backed_up(tmp_path: Path, session: Session) -> None:
    make_tree(tmp_path / "p", {"a.jpg": jpeg_bytes(1, (300, 200))})
    target = tmp_path / "p" / "a.jpg"
    assert backup(session, [str(tmp_path / "p")], "A").uploaded == 1
    before = target.stat()
    data = bytearray(target.read_bytes())
    data[-10] ^= 0xFF  # same size, new content
    target.write_bytes(bytes(data))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # as `exiftool -P` does
    assert backup(session, [str(tmp_path / "p")], "A").uploaded == 1
