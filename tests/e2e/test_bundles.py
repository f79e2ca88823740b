"""Small files travel in bundles, thumbnails after the originals; both survive interruptions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from photoark.client.errors import ServerUnreachable
from photoark.client.pipeline.backup import BackupOptions, backup
from photoark.client.session import Session
from photoark.client.state.thumbqueue import ThumbnailQueue
from photoark.protocol.models import Bundle, FileRecord
from tests.builders import jpeg_bytes, make_tree


def photos(root: Path, n: int) -> dict[str, bytes]:
    files = {f"IMG_{i:03d}.jpg": jpeg_bytes(i, (160 + i, 120)) for i in range(n)}
    make_tree(root, files)
    return files


def test_many_small_files_take_few_requests_and_all_get_thumbnails(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = photos(tmp_path / "p", 40)
    bundles: list[int] = []
    real = session.api.commit_bundle

    def counting(bundle: Bundle, contents: Sequence[bytes]) -> list[FileRecord]:
        bundles.append(len(bundle.items))
        return real(bundle, contents)

    monkeypatch.setattr(session.api, "commit_bundle", counting)
    report = backup(session, [str(tmp_path / "p")], "A", BackupOptions(workers=4))
    assert report.uploaded == 40 and not report.failed
    assert sum(bundles) == 40 and len(bundles) < 40
    assert report.thumbnails.made == 40 and report.thumbnails_pending == 0
    assert ThumbnailQueue(session.db).count() == 0
    for record in session.mirror.files_in_album(session.mirror.album_by_name("A").id):  # type: ignore[union-attr]
        assert record.thumbnail_size > 0
    assert session.api.usage().files == len(files)


def test_a_lost_bundle_answer_is_recommitted_without_sending_again(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server committed the bundle, the answer never came back (a crash, a cut network):
    the next run finds the files (by diff sync, or by asking about each saved upload id),
    sends no content, stores nothing twice, and still makes every thumbnail."""
    photos(tmp_path / "p", 12)
    real = session.api.commit_bundle

    def lost_answer(bundle: Bundle, contents: Sequence[bytes]) -> list[FileRecord]:
        real(bundle, contents)
        raise ServerUnreachable("the answer was lost")

    monkeypatch.setattr(session.api, "commit_bundle", lost_answer)
    first = backup(session, [str(tmp_path / "p")], "A", BackupOptions(workers=2))
    assert first.uploaded == 0 and first.aborted
    monkeypatch.setattr(session.api, "commit_bundle", real)
    second = backup(session, [str(tmp_path / "p")], "A", BackupOptions(workers=2))
    assert second.uploaded + second.skipped == 12 and not second.failed
    assert second.bytes_uploaded == 0
    assert session.api.usage().files == 12  # nothing stored twice
    assert second.thumbnails.made == 12
    third = backup(session, [str(tmp_path / "p")], "A", BackupOptions(workers=2))
    assert third.skipped == 12 and third.uploaded == 0


def test_thumbnails_left_by_an_interrupted_run_are_made_by_the_next(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos(tmp_path / "p", 6)

    def down(*args: Any, **kw: Any) -> list[FileRecord]:
        raise ServerUnreachable("server went away after the originals")

    monkeypatch.setattr(session.api, "set_thumbnails", down)
    first = backup(session, [str(tmp_path / "p")], "A", BackupOptions(workers=2))
    assert first.uploaded == 6 and first.thumbnails_pending == 6
    monkeypatch.undo()
    second = backup(session, [str(tmp_path / "p")], "A", BackupOptions(workers=2))
    assert second.skipped == 6 and second.thumbnails.made == 6
    assert second.thumbnails_pending == 0


def test_resume_small_recommits_a_saved_upload_id(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a sync first, the saved upload id alone settles the item: recommitted, no send."""
    import os

    from photoark.client.library.albums import ensure_album
    from photoark.client.pipeline.smallfiles import resume_small
    from photoark.crypto.hashing import hash_file

    photos(tmp_path / "p", 1)
    path = str(tmp_path / "p" / "IMG_000.jpg")
    real = session.api.commit_bundle

    def lost_answer(bundle: Bundle, contents: Sequence[bytes]) -> list[FileRecord]:
        real(bundle, contents)
        raise ServerUnreachable("the answer was lost")

    monkeypatch.setattr(session.api, "commit_bundle", lost_answer)
    backup(session, [str(tmp_path / "p")], "A", BackupOptions(workers=1))
    album = ensure_album(session, "A")
    assert session.mirror.files_in_album(album.id) == []
    record = resume_small(session, album, path, os.stat(path), "jpeg", hash_file(path))
    assert record is not None
    [mirrored] = session.mirror.files_in_album(album.id)
    assert mirrored.id == record.id and mirrored.name == "IMG_000.jpg"
    assert ThumbnailQueue(session.db).count() == 1
    assert session.api.usage().files == 1
