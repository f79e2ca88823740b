"""``photoark free-up-space``'s decisions, on real files in a tmp folder against a mirror and
a fake server: each file is a candidate or kept with its reason, and applying re-checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from photoark.client.errors import IntegrityFailure, NothingToScan
from photoark.client.session import Session
from photoark.client.state.daemonstate import DaemonQueue
from photoark.client.state.mirror import LibraryFile
from photoark.client.state.pathversions import PathVersions
from photoark.client.state.queue import PendingUpload, UploadQueue
from photoark.client.state.statcache import StatCache
from photoark.client.state.watches import WatchList
from photoark.optimize import freeup
from photoark.optimize.freeup import Candidate, apply_free_up, plan_free_up
from photoark.optimize.reasons import KeptReason
from tests.builders import jpeg_bytes
from tests.optimize.builders import Library, blake3_hex, file_metadata


class Photos:
    """A folder of real JPEGs, each of its own content (``seed`` counts up)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._seed = 0

    def new_content(self) -> bytes:
        self._seed += 1
        return jpeg_bytes(self._seed)

    def write(self, name: str, data: bytes | None = None) -> str:
        path = self.folder / name
        path.write_bytes(self.new_content() if data is None else data)
        return str(path)


def _backed_up(library: Library, photos: Photos, name: str) -> tuple[str, LibraryFile]:
    """A local photo whose content is a live library file (in album Camera)."""
    album = library.mirror.album_by_name("Camera") or library.album("Camera")
    data = photos.new_content()
    return photos.write(name, data), library.file(name, data=data, albums=[album])


def test_each_file_is_a_candidate_or_kept_with_its_reason(library: Library, tmp_path: Path) -> None:
    photos = Photos(tmp_path / "DCIM")
    camera = library.album("Camera")
    versions = PathVersions(library.db)

    backed, backed_file = _backed_up(library, photos, "backed.jpg")
    never = photos.write("never.jpg")
    modified = photos.write("modified.jpg")  # backed up as other content, since changed
    old = library.file("modified.jpg", data=b"the content it had", albums=[camera])
    versions.record_now(modified, camera.id, old.id)
    trashed_data = photos.new_content()
    trashed = photos.write("trashed.jpg", trashed_data)  # only the trash holds it
    gone = library.file("trashed.jpg", data=trashed_data, albums=[camera], trashed=True)
    versions.record_now(trashed, camera.id, gone.id)  # the trash wins over "modified"
    uploading, _ = _backed_up(library, photos, "uploading.jpg")
    queued, _ = _backed_up(library, photos, "queued.jpg")
    missing, missing_file = _backed_up(library, photos, "missing.jpg")
    short, short_file = _backed_up(library, photos, "short.jpg")
    trashed_since, trashed_since_file = _backed_up(library, photos, "trashed_since.jpg")
    purged, purged_file = _backed_up(library, photos, "purged.jpg")
    changing = photos.write("changing.jpg")
    (photos.folder / "notes.txt").write_text("not a photo")
    still_data, video_hash = photos.new_content(), "ab" * 32
    still = photos.write("IMG_7.jpg", still_data)
    live = library.file(
        "IMG_7.live",
        hash="cd" * 32,
        type="live",
        metadata=file_metadata(
            name="IMG_7.live",
            hash="cd" * 32,
            type="live",
            parts=[
                {"name": "IMG_7.jpg", "size": len(still_data), "hash": blake3_hex(still_data)},
                {"name": "IMG_7.mov", "size": 1000, "hash": video_hash},
            ],
        ),
        albums=[camera],
    )

    UploadQueue(library.db).put(
        PendingUpload(uploading, 1, 1, "00" * 32, bytes(32), bytes(24), "u1", 1024, 1)
    )
    DaemonQueue(library.db).put([queued])
    library.api.objects[missing_file.id] = None
    library.api.objects[short_file.id] = short_file.content_size - 1
    library.api.trashed.add(trashed_since_file.id)  # by another device, not synced yet
    library.api.purged.add(purged_file.id)  # deleted for good meanwhile

    def on_file(path: str) -> None:
        if path == changing:  # written to while free-up looks at it
            with open(path, "ab") as f:
                f.write(b"more")

    plan = plan_free_up(
        library.session,
        [str(photos.folder)],
        trashed_hashes=lambda: {blake3_hex(trashed_data)},
        on_file=on_file,
    )

    assert {c.path: c.file_id for c in plan.candidates} == {backed: backed_file.id, still: live.id}
    (backed_candidate,) = [c for c in plan.candidates if c.path == backed]
    assert backed_candidate == Candidate(
        backed, os.stat(backed).st_size, backed_file.id, backed_file.hash
    )
    assert plan.bytes == os.stat(backed).st_size + os.stat(still).st_size
    assert {k.path: k.reason for k in plan.kept} == {
        never: KeptReason.NOT_BACKED_UP,
        modified: KeptReason.MODIFIED_SINCE_BACKUP,
        trashed: KeptReason.ONLY_IN_TRASH,
        uploading: KeptReason.UPLOAD_IN_PROGRESS,
        queued: KeptReason.UPLOAD_IN_PROGRESS,
        missing: KeptReason.SERVER_COPY_MISSING,
        short: KeptReason.SERVER_COPY_MISSING,
        trashed_since: KeptReason.SERVER_COPY_MISSING,
        purged: KeptReason.SERVER_COPY_MISSING,
        changing: KeptReason.UNREADABLE,
    }
    # the server was asked only about files the library holds; asked again without the
    # purged one, which it named in its refusal
    checked = [set(call[1]) for call in library.api.of("verify")]
    held = {backed_file.id, live.id, missing_file.id, short_file.id, trashed_since_file.id}
    assert checked == [held | {purged_file.id}, held]
    assert library.api.of("trash") == [] and library.api.of("add") == []
    assert len(list(photos.folder.iterdir())) == 13, "a listing deletes nothing"


def test_the_trash_is_asked_about_only_when_needed_and_once(
    library: Library, tmp_path: Path
) -> None:
    photos = Photos(tmp_path / "DCIM")
    _backed_up(library, photos, "a.jpg")
    asked: list[int] = []

    def trashed_hashes() -> set[str]:
        asked.append(1)
        return set()

    plan = plan_free_up(library.session, [str(photos.folder)], trashed_hashes=trashed_hashes)
    assert len(plan.candidates) == 1 and asked == []
    photos.write("b.jpg")
    photos.write("c.jpg")
    plan = plan_free_up(library.session, [str(photos.folder)], trashed_hashes=trashed_hashes)
    assert [k.reason for k in plan.kept] == [KeptReason.NOT_BACKED_UP] * 2 and asked == [1]


def test_verify_download_keeps_a_file_whose_server_copy_does_not_decrypt(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = Photos(tmp_path / "DCIM")
    good, good_file = _backed_up(library, photos, "good.jpg")
    bad, bad_file = _backed_up(library, photos, "bad.jpg")
    missing, missing_file = _backed_up(library, photos, "missing.jpg")
    library.api.objects[missing_file.id] = None
    downloaded: list[int] = []

    def verify_server_copy(session: Session, f: LibraryFile) -> None:
        downloaded.append(f.id)
        if f.id == bad_file.id:
            raise IntegrityFailure("authentication failed")

    monkeypatch.setattr(freeup, "verify_server_copy", verify_server_copy)
    plain = plan_free_up(library.session, [str(photos.folder)])
    assert {c.path for c in plain.candidates} == {good, bad} and downloaded == []
    plan = plan_free_up(library.session, [str(photos.folder)], verify_download=True)
    assert [c.path for c in plan.candidates] == [good]
    assert {k.path: k.reason for k in plan.kept} == {
        bad: KeptReason.SERVER_COPY_CORRUPT,
        missing: KeptReason.SERVER_COPY_MISSING,
    }
    assert sorted(downloaded) == sorted([good_file.id, bad_file.id]), "only sound ones"


def test_without_paths_the_watched_folders_are_freed_up(library: Library, tmp_path: Path) -> None:
    with pytest.raises(NothingToScan, match="no folders"):
        plan_free_up(library.session)
    photos = Photos(tmp_path / "DCIM")
    path, f = _backed_up(library, photos, "a.jpg")
    Photos(tmp_path / "elsewhere").write("b.jpg")
    WatchList(library.db).add(str(photos.folder))
    plan = plan_free_up(library.session)
    assert [(c.path, c.file_id) for c in plan.candidates] == [(path, f.id)]
    assert plan.kept == []


def test_apply_checks_each_file_again_right_before_it_goes(
    library: Library, tmp_path: Path
) -> None:
    photos = Photos(tmp_path / "DCIM")
    deleted, _ = _backed_up(library, photos, "deleted.jpg")
    edited, _ = _backed_up(library, photos, "edited.jpg")
    grown, _ = _backed_up(library, photos, "grown.jpg")
    vanished, _ = _backed_up(library, photos, "vanished.jpg")
    refused, _ = _backed_up(library, photos, "refused.jpg")
    plan = plan_free_up(library.session, [str(photos.folder)])
    assert len(plan.candidates) == 5
    stat_before = os.stat(deleted)
    assert StatCache(library.db).lookup(deleted, stat_before) is not None

    edited_now = bytearray(Path(edited).read_bytes())  # same size, other content
    edited_now[len(edited_now) // 2] ^= 0xFF
    Path(edited).write_bytes(bytes(edited_now))
    with open(grown, "ab") as f:
        f.write(b"more")
    os.unlink(vanished)
    tried: list[str] = []

    def remove(path: str) -> None:
        tried.append(path)
        if path == refused:
            raise RuntimeError("no trash on that disk")
        os.unlink(path)

    result = apply_free_up(library.session, plan.candidates, remove=remove)
    assert [c.path for c in result.deleted] == [deleted]
    assert result.bytes_freed == stat_before.st_size
    assert {k.path: k.reason for k in result.kept} == {
        edited: KeptReason.CHANGED_WHILE_CHECKED,
        grown: KeptReason.CHANGED_WHILE_CHECKED,
        vanished: KeptReason.GONE,
    }
    assert result.failed == [{"path": refused, "error": "RuntimeError: no trash on that disk"}]
    assert sorted(tried) == sorted([deleted, refused]), "a changed file is never removed"
    assert not os.path.exists(deleted)
    assert Path(edited).read_bytes() == bytes(edited_now) and os.path.exists(refused)
    assert StatCache(library.db).lookup(deleted, stat_before) is None, "the cache forgets it"
    assert result.as_json()["to"] == "desktop trash"


def test_apply_permanent_unlinks(library: Library, tmp_path: Path) -> None:
    photos = Photos(tmp_path / "DCIM")
    path, f = _backed_up(library, photos, "a.jpg")
    plan = plan_free_up(library.session, [str(photos.folder)])
    result = apply_free_up(library.session, plan.candidates, permanent=True)
    assert [(c.path, c.file_id) for c in result.deleted] == [(path, f.id)]
    assert not os.path.exists(path) and list(photos.folder.iterdir()) == []
    assert result.as_json()["to"] == "deleted"
