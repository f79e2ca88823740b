"""The web app's disk caches: thumbnails kept sealed and decrypted per answer (a flipped byte
is an :class:`IntegrityFailure` and the entry goes), originals decrypted into a private,
bounded, least-recently-used folder that starts empty."""

from __future__ import annotations

import os
import stat
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import pytest

from photoark.client.errors import ApiError, IntegrityFailure
from photoark.client.library.export import part_targets
from photoark.client.session import Session
from photoark.client.state.mirror import LibraryFile
from photoark.crypto.boxes import new_key
from photoark.crypto.stream import HEADER_BYTES, encrypt_bytes
from photoark.protocol.metadata import LivePart
from photoark.web import cache
from photoark.web.cache import NoThumbnail, OriginalCache, ThumbnailCache
from tests.builders import jpeg_bytes
from tests.optimize.builders import file_metadata

JPEG = jpeg_bytes(1)


def library_file(file_id: int = 7, thumbnail_size: int = 100, **meta: object) -> LibraryFile:
    name = str(meta.pop("name", f"IMG_{file_id:04}.jpg"))
    return LibraryFile(
        id=file_id,
        hash="ab" * 32,
        name=name,
        size=1000,
        type=str(meta.get("type", "image")),
        taken_at=None,
        taken_at_utc=None,
        metadata=file_metadata(name=name, **meta),
        file_key=new_key(),
        content_size=1040,
        thumbnail_size=thumbnail_size,
        created_at=1.7e9,
    )


# -- thumbnails ---------------------------------------------------------------------------------


@dataclass
class ThumbnailServer:
    """The one call the thumbnail cache makes of a session: ``api.thumbnail(id)``."""

    sealed: dict[int, bytes] = field(default_factory=dict)
    calls: list[int] = field(default_factory=list)

    def thumbnail(self, file_id: int) -> bytes:
        self.calls.append(file_id)
        if file_id not in self.sealed:
            raise ApiError("not_found", "no thumbnail", 404)
        return self.sealed[file_id]


@dataclass
class FakeSession:
    api: ThumbnailServer = field(default_factory=ThumbnailServer)

    def serving(self, f: LibraryFile, jpeg: bytes = JPEG) -> Session:
        self.api.sealed[f.id] = encrypt_bytes(f.file_key, jpeg)
        return cast(Session, self)


def entries(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_thumbnail_is_fetched_once_and_kept_sealed(tmp_path: Path) -> None:
    thumbs = ThumbnailCache(tmp_path / "thumbnails")
    f = library_file()
    fake = FakeSession()
    session = fake.serving(f)
    assert thumbs.get(session, f) == JPEG
    assert thumbs.get(session, f) == JPEG
    assert fake.api.calls == [f.id]
    [kept] = entries(tmp_path / "thumbnails")
    assert kept.read_bytes() == fake.api.sealed[f.id]  # on disk as the server has it
    assert JPEG[:64] not in kept.read_bytes()


def test_a_new_thumbnail_size_is_a_new_entry(tmp_path: Path) -> None:
    thumbs = ThumbnailCache(tmp_path / "thumbnails")
    f = library_file()
    fake = FakeSession()
    thumbs.get(fake.serving(f, jpeg_bytes(1)), f)
    changed = replace(f, thumbnail_size=f.thumbnail_size + 1)
    assert thumbs.get(fake.serving(changed, jpeg_bytes(2)), changed) == jpeg_bytes(2)
    assert fake.api.calls == [f.id, f.id]
    assert len(entries(tmp_path / "thumbnails")) == 2


def test_a_file_without_thumbnail_asks_nothing_of_the_server(tmp_path: Path) -> None:
    thumbs = ThumbnailCache(tmp_path / "thumbnails")
    fake = FakeSession()
    with pytest.raises(NoThumbnail):
        thumbs.get(cast(Session, fake), library_file(thumbnail_size=0))
    assert fake.api.calls == []


def test_the_server_s_refusal_is_passed_on_and_nothing_is_kept(tmp_path: Path) -> None:
    thumbs = ThumbnailCache(tmp_path / "thumbnails")
    with pytest.raises(ApiError):
        thumbs.get(cast(Session, FakeSession()), library_file())
    assert entries(tmp_path / "thumbnails") == []


@pytest.mark.parametrize(
    "where",
    [0, HEADER_BYTES - 1, HEADER_BYTES, HEADER_BYTES + 100, -17, -1],
    ids=["header-first", "header-last", "chunk-first", "chunk-middle", "tag", "mac-last"],
)
def test_a_flipped_byte_on_disk_fails_and_the_entry_goes(tmp_path: Path, where: int) -> None:
    thumbs = ThumbnailCache(tmp_path / "thumbnails")
    f = library_file()
    fake = FakeSession()
    session = fake.serving(f)
    thumbs.get(session, f)
    [kept] = entries(tmp_path / "thumbnails")
    sealed = bytearray(kept.read_bytes())
    sealed[where] ^= 0x01
    kept.write_bytes(bytes(sealed))
    with pytest.raises(IntegrityFailure, match=f"file {f.id}"):
        thumbs.get(session, f)
    assert not kept.exists()
    assert thumbs.get(session, f) == JPEG  # fetched again, and good
    assert fake.api.calls == [f.id, f.id]


@pytest.mark.parametrize("change", ["truncated", "appended", "other-key"])
def test_a_bad_thumbnail_from_the_server_is_not_kept(tmp_path: Path, change: str) -> None:
    thumbs = ThumbnailCache(tmp_path / "thumbnails")
    f = library_file()
    fake = FakeSession()
    session = fake.serving(f)
    sealed = fake.api.sealed[f.id]
    fake.api.sealed[f.id] = {
        "truncated": sealed[:-1],
        "appended": sealed + b"\0",
        "other-key": encrypt_bytes(new_key(), JPEG),
    }[change]
    with pytest.raises(IntegrityFailure):
        thumbs.get(session, f)
    assert entries(tmp_path / "thumbnails") == []


def test_thumbnail_folders_are_private(tmp_path: Path) -> None:
    root = tmp_path / "thumbnails"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    thumbs = ThumbnailCache(root)
    f = library_file()
    thumbs.get(FakeSession().serving(f), f)
    [kept] = entries(root)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def _old_entry(root: Path, name: str, size: int, mtime: float) -> Path:
    path = root / "ab" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))
    return path


def test_the_oldest_thumbnails_go_above_the_bound(tmp_path: Path) -> None:
    root = tmp_path / "thumbnails"
    oldest = _old_entry(root, "1-100", 100, 1_000)
    middle = _old_entry(root, "2-100", 100, 2_000)
    newest = _old_entry(root, "3-100", 100, 3_000)
    (root / "stray-file").write_bytes(b"not a folder")
    ThumbnailCache(root, max_bytes=250)
    assert not oldest.exists()
    assert middle.exists() and newest.exists()
    ThumbnailCache(root, max_bytes=100)
    assert not middle.exists()
    assert newest.exists()


def test_thumbnails_within_the_bound_stay(tmp_path: Path) -> None:
    root = tmp_path / "thumbnails"
    kept = [_old_entry(root, f"{i}-100", 100, 1_000 + i) for i in range(3)]
    ThumbnailCache(root, max_bytes=300)
    assert all(p.exists() for p in kept)


# -- originals ----------------------------------------------------------------------------------


@dataclass
class Downloads:
    """Stands in for ``download_to``: writes ``size`` bytes per part, counts the downloads;
    ``fail`` makes the next one raise, ``gate`` holds them until set."""

    calls: list[int] = field(default_factory=list)
    fail: Exception | None = None
    gate: threading.Event | None = None

    def __call__(self, session: Session, f: LibraryFile, target: Path) -> int:
        self.calls.append(f.id)
        if self.gate is not None:
            assert self.gate.wait(5)
        if self.fail is not None:
            err, self.fail = self.fail, None
            raise err
        total = 0
        for path, size, _ in part_targets(target, f):
            path.write_bytes(bytes([f.id % 256]) * size)
            total += size
        return total


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Downloads:
    fake = Downloads()
    monkeypatch.setattr(cache, "download_to", fake)
    return fake


SESSION = cast(Session, object())


def sized(file_id: int, size: int, name: str | None = None) -> LibraryFile:
    return replace(library_file(file_id, name=name or f"IMG_{file_id}.jpg"), size=size)


def test_leftover_originals_are_removed_at_start(tmp_path: Path) -> None:
    root = tmp_path / "originals"
    leftover = root / "5" / "IMG_5.jpg"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"decrypted photo of a previous run")
    OriginalCache(root)
    assert not leftover.exists()
    assert root.is_dir()
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_an_original_is_downloaded_once(tmp_path: Path, downloads: Downloads) -> None:
    originals = OriginalCache(tmp_path / "originals")
    f = sized(1, 100, "beach.jpg")
    first = originals.part(SESSION, f)
    assert originals.part(SESSION, f) == first
    assert downloads.calls == [1]
    assert first.name == "beach.jpg"
    assert first.read_bytes() == b"\x01" * 100
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700


def test_an_original_removed_from_disk_is_downloaded_again(
    tmp_path: Path, downloads: Downloads
) -> None:
    originals = OriginalCache(tmp_path / "originals")
    f = sized(1, 100)
    originals.part(SESSION, f).unlink()
    assert originals.part(SESSION, f).exists()
    assert downloads.calls == [1, 1]


def test_a_failed_download_is_not_remembered(tmp_path: Path, downloads: Downloads) -> None:
    originals = OriginalCache(tmp_path / "originals")
    f = sized(1, 100)
    downloads.fail = IntegrityFailure("wrong hash")
    with pytest.raises(IntegrityFailure):
        originals.part(SESSION, f)
    assert originals.part(SESSION, f).exists()
    assert downloads.calls == [1, 1]


def test_a_name_cannot_leave_the_cache(tmp_path: Path, downloads: Downloads) -> None:
    originals = OriginalCache(tmp_path / "originals")
    path = originals.part(SESSION, sized(1, 10, "../../escape.jpg"))
    assert (tmp_path / "originals" / "1") in path.parents
    assert path.parent == tmp_path / "originals" / "1"


def test_a_live_photo_s_video_is_its_second_part(tmp_path: Path, downloads: Downloads) -> None:
    originals = OriginalCache(tmp_path / "originals")
    parts = (
        LivePart(name="IMG_1.HEIC", size=30, hash="aa" * 32),
        LivePart(name="IMG_1.MOV", size=70, hash="bb" * 32),
    )
    f = replace(library_file(1, name="IMG_1.HEIC", type="live", parts=parts), size=100)
    still, video, beyond = (originals.part(SESSION, f, n) for n in (0, 1, 2))
    assert still.name == "IMG_1.HEIC" and still.stat().st_size == 30
    assert video.name == "IMG_1.MOV" and video.stat().st_size == 70
    assert beyond == video
    assert downloads.calls == [1]


def test_the_least_recently_used_original_goes_first(tmp_path: Path, downloads: Downloads) -> None:
    originals = OriginalCache(tmp_path / "originals", max_bytes=250)
    one, two, three = sized(1, 100), sized(2, 100), sized(3, 100)
    p1 = originals.part(SESSION, one)
    p2 = originals.part(SESSION, two)
    originals.part(SESSION, one)  # used again: now two is the oldest
    p3 = originals.part(SESSION, three)
    assert p1.exists() and p3.exists()
    assert not p2.exists() and not p2.parent.exists()
    assert downloads.calls == [1, 2, 3]


def test_the_original_asked_for_stays_even_above_the_bound(
    tmp_path: Path, downloads: Downloads
) -> None:
    originals = OriginalCache(tmp_path / "originals", max_bytes=50)
    small = originals.part(SESSION, sized(1, 40))
    big = originals.part(SESSION, sized(2, 100))
    assert big.exists()
    assert not small.exists()
    assert originals.part(SESSION, sized(2, 100)) == big
    assert downloads.calls == [1, 2]


def test_clear_removes_every_original(tmp_path: Path, downloads: Downloads) -> None:
    originals = OriginalCache(tmp_path / "originals")
    f = sized(1, 100)
    path = originals.part(SESSION, f)
    originals.clear()
    assert not path.exists()
    assert originals.part(SESSION, f).exists()  # and a later ask downloads it again
    assert downloads.calls == [1, 1]


def test_two_asks_for_one_original_share_one_download(tmp_path: Path, downloads: Downloads) -> None:
    originals = OriginalCache(tmp_path / "originals")
    f = sized(1, 100)
    downloads.gate = threading.Event()
    got: list[Path] = []
    askers = [threading.Thread(target=lambda: got.append(originals.part(SESSION, f))) for _ in "ab"]
    for t in askers:
        t.start()
    time.sleep(0.05)  # both are in: one downloads, the other waits for it
    downloads.gate.set()
    for t in askers:
        t.join(5)
    assert len(got) == 2 and got[0] == got[1]
    assert downloads.calls == [1]
