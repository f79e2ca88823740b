"""A small file's description (its metadata) is made from the bytes the backup already read to
hash it, not from the file opened twice more, and is the description the file gives."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from photoark.client.pipeline.backup import backup
from photoark.client.pipeline.describe import describe
from photoark.media import MediaFormat, extract_metadata, sniff
from photoark.server.config import ServerSettings
from tests.builders import jpeg_bytes, make_tree
from tests.client.servers import serving, signed_up
from tests.media.builders import ExifSpec, corpus_dir, write_jpeg

SAMSUNG_HEIC = corpus_dir() / "immich-test-assets/formats/motionphoto/samsung-one-ui-6.heic"


def _format(path: Path) -> MediaFormat:
    fmt = sniff(path)
    assert fmt is not None
    return fmt


def test_a_description_from_the_bytes_is_the_files(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "a.jpg", (64, 48), ExifSpec(orientation=6))
    st, fmt, data = os.stat(path), _format(path), path.read_bytes()
    expected = describe(path=str(path), st=st, fmt=fmt, content_hash="h", thumbnail=False)
    path.write_bytes(b"\0" * len(data))  # what is on disk now cannot give it
    got = describe(str(path), st, fmt, "h", False, None, data)
    assert got.metadata == expected.metadata and got.warnings == expected.warnings
    assert got.metadata.orientation == 6 and got.metadata.taken_at is not None


def test_a_samsung_motion_photo_is_described_from_its_bytes(tmp_path: Path) -> None:
    if not SAMSUNG_HEIC.is_file():
        pytest.skip("the corpus's Samsung motion photo is absent")
    path = tmp_path / "motion.heic"
    shutil.copyfile(SAMSUNG_HEIC, path)
    st, fmt, data = os.stat(path), _format(path), path.read_bytes()
    expected = describe(str(path), st, fmt, "h", False, "x/motion.heic")
    path.write_bytes(b"\0" * len(data))
    got = describe(str(path), st, fmt, "h", False, "x/motion.heic", data)
    assert got.metadata == expected.metadata and got.metadata.motion_photo


def test_the_backup_describes_small_files_from_what_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: list[bool] = []

    def spy(path: Any, fmt: MediaFormat, data: bytes | None = None) -> Any:
        given.append(data == Path(path).read_bytes())
        return extract_metadata(path, fmt, data)

    monkeypatch.setattr("photoark.client.pipeline.describe.extract_metadata", spy)
    root = make_tree(tmp_path / "p", {f"{i}.jpg": jpeg_bytes(i) for i in range(4)})
    settings = ServerSettings(data_dir=tmp_path / "server", login_hash="min")
    with serving(settings) as served, signed_up(tmp_path / "home", served.url) as session:
        report = backup(session, [str(root)], "Phone")
    assert (report.uploaded, given) == (4, [True] * 4)
