"""The embedder against a real server, with a stand-in model (the real one is exercised by
test_similar.py): forged or damaged embeddings on the server are ignored and replaced, work
done while the server is unreachable is kept and sent later, a photo without a thumbnail is
recorded (and retried once it has one), and one embedding serves every copy of a content."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from photoark.client.errors import ServerUnreachable
from photoark.client.library import sync
from photoark.client.library.embedder import embed_missing
from photoark.client.pipeline.backup import BackupOptions, backup_found
from photoark.client.pipeline.scanner import scan_split
from photoark.client.pipeline.thumbnailer import make_thumbnails
from photoark.client.session import Session
from photoark.client.state.embeddings import NO_THUMBNAIL, EmbeddingCache
from photoark.crypto.boxes import new_key, open_box, seal
from photoark.crypto.stream import decrypt_bytes
from photoark.ml.codec import decode_embedding, decode_fingerprint, encode_embedding
from photoark.ml.fingerprint import Fingerprint, fingerprint
from photoark.ml.preprocess import load_image_bytes
from photoark.protocol.models import EmbeddingItem
from tests.builders import jpeg_bytes, make_tree
from tests.ml.builders import a_fingerprint

pytestmark = pytest.mark.e2e

MODEL = "test-model.v1"
DIM = 8


class FakeModel:
    """Embeds an image as its mean colour and size (deterministic), counting calls."""

    dim = DIM

    def __init__(self) -> None:
        self.images = 0

    def embed(self, images: Sequence[Image.Image]) -> npt.NDArray[np.float32]:
        self.images += len(images)
        out = np.zeros((len(images), DIM), dtype=np.float32)
        for i, image in enumerate(images):
            mean = np.asarray(image.convert("RGB"), dtype=np.float32).mean(axis=(0, 1))
            out[i, :3] = mean / 255
            out[i, 3:5] = image.size
            out[i, 5] = 1.0
            out[i] /= np.linalg.norm(out[i])
        return out


def _library(tmp_path: Path, session: Session, thumbnails: bool = True) -> dict[str, int]:
    make_tree(
        tmp_path / "p",
        {
            "a.jpg": jpeg_bytes(1, (120, 90)),
            "b.jpg": jpeg_bytes(2, (120, 90)),
            "a-copy.jpg": jpeg_bytes(1, (120, 90)),
        },
    )
    found, passed = scan_split([str(tmp_path / "p")])
    backup_found(
        session, found, passed, [str(tmp_path / "p")], "A", BackupOptions(), None, True, thumbnails
    )
    return {f.name: f.id for f in session.mirror.files_in_album(session.mirror.albums()[0].id)}


def _run(session: Session, model: FakeModel):  # type: ignore[no-untyped-def]
    return embed_missing(session, MODEL, DIM, lambda: model)


def _server_payloads(session: Session, ids: list[int]) -> dict[int, bytes]:
    out = {}
    for item in session.api.query_embeddings(MODEL, ids):
        key = session.mirror.file(item.file_id).file_key  # type: ignore[union-attr]
        out[item.file_id] = open_box(key, item.data)
    return out


def _server_vectors(session: Session, ids: list[int]) -> dict[int, npt.NDArray[np.float16]]:
    return {i: decode_embedding(data, DIM) for i, data in _server_payloads(session, ids).items()}


def _thumbnail_fingerprint(session: Session, file_id: int) -> Fingerprint:
    key = session.mirror.file(file_id).file_key  # type: ignore[union-attr]
    return fingerprint(load_image_bytes(decrypt_bytes(key, session.api.thumbnail(file_id))))


def test_made_once_per_content_sent_and_reused(tmp_path: Path, session: Session) -> None:
    ids = _library(tmp_path, session)
    model = FakeModel()
    report = _run(session, model)
    assert (report.computed, report.reused, report.fetched, report.failed) == (2, 1, 0, [])
    assert model.images == 2 and report.sent == 3
    on_server = _server_vectors(session, list(ids.values()))
    assert set(on_server) == set(ids.values())
    assert np.array_equal(on_server[ids["a.jpg"]], on_server[ids["a-copy.jpg"]])
    # each payload carries the fingerprint of the thumbnail its vector was made from
    payloads = _server_payloads(session, list(ids.values()))
    prints = {name: decode_fingerprint(payloads[i], DIM) for name, i in ids.items()}
    assert prints["a.jpg"] == _thumbnail_fingerprint(session, ids["a.jpg"]) == prints["a-copy.jpg"]
    assert prints["b.jpg"] == _thumbnail_fingerprint(session, ids["b.jpg"]) != prints["a.jpg"]
    assert prints["a.jpg"].side == 120
    # and the cache gives them back without the vectors
    cached = EmbeddingCache(session.db).fingerprints_of(MODEL, [*ids.values(), 999])
    assert cached == {i: prints[name] for name, i in ids.items()}
    again = _run(session, FakeModel())
    assert (again.computed, again.sent) == (0, 0)


def test_forged_and_damaged_server_embeddings_are_replaced(
    tmp_path: Path, session: Session
) -> None:
    ids = _library(tmp_path, session)
    a, b = ids["a.jpg"], ids["b.jpg"]
    ones = np.ones(DIM, dtype=np.float32)
    forged = seal(new_key(), encode_embedding(ones, a_fingerprint()))  # wrong key
    a_key = session.mirror.file(a).file_key  # type: ignore[union-attr]
    damaged = bytearray(seal(a_key, encode_embedding(ones, a_fingerprint())))
    damaged[-1] ^= 0x01
    session.api.put_embeddings(
        MODEL,
        [EmbeddingItem(file_id=a, data=bytes(damaged)), EmbeddingItem(file_id=b, data=forged)],
    )
    report = _run(session, FakeModel())
    assert report.fetched == 0 and report.computed == 2
    on_server = _server_vectors(session, [a, b])  # replaced by real ones: they open now
    assert not np.allclose(on_server[a].astype(np.float32), np.ones(DIM) / 1)


def test_work_done_offline_is_kept_and_sent_later(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _library(tmp_path, session)

    def unreachable(*_: object) -> None:
        raise ServerUnreachable("server down")

    with monkeypatch.context() as m:
        m.setattr(session.api, "put_embeddings", unreachable)
        model = FakeModel()
        with pytest.raises(ServerUnreachable):
            _run(session, model)
        assert model.images == 2
    assert EmbeddingCache(session.db).counts(MODEL)["embedded"] == 3
    later = FakeModel()
    report = _run(session, later)
    assert later.images == 0 and report.sent == 3
    assert set(_server_vectors(session, list(ids.values()))) == set(ids.values())


def test_a_photo_without_thumbnail_is_recorded_then_retried(
    tmp_path: Path, session: Session
) -> None:
    ids = _library(tmp_path, session, thumbnails=False)
    report = _run(session, FakeModel())
    assert report.computed == 0
    assert sorted(f["id"] for f in report.failed) == sorted(ids.values())
    assert {f["error"] for f in report.failed} == {NO_THUMBNAIL}
    assert _run(session, FakeModel()).failed == []  # recorded: not retried every run
    # once thumbnails exist (the next backup makes them), the photos are embedded
    make_thumbnails(session)
    sync.pull(session)
    retried = _run(session, FakeModel())
    assert retried.computed == 2 and retried.failed == []


def test_many_photos_go_in_several_requests(tmp_path: Path, session: Session) -> None:
    make_tree(tmp_path / "many", {f"{i}.jpg": jpeg_bytes(i, (24, 16)) for i in range(300)})
    found, passed = scan_split([str(tmp_path / "many")])
    backup_found(session, found, passed, [str(tmp_path / "many")], "M", BackupOptions())
    report = _run(session, FakeModel())
    # jpeg_bytes repeats its pictures every 256 seeds: 256 contents, 44 second copies
    assert (report.computed, report.reused, report.sent, report.failed) == (256, 44, 300, [])
    ids = [f.id for f in session.mirror.files_in_album(session.mirror.album_by_name("M").id)]  # type: ignore[union-attr]
    assert len(_server_vectors(session, ids)) == 300
    # a new device (empty cache) fetches them all, in pages
    with session.db.transaction() as conn:
        conn.execute("DELETE FROM embeddings")
    fetched = _run(session, FakeModel())
    assert (fetched.fetched, fetched.computed) == (300, 0)
