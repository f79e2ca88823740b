from __future__ import annotations

from photoark.client.pipeline.decide import Action, decide
from photoark.client.state.mirror import LibraryFile
from photoark.protocol.metadata import FileMetadata


def _file(file_id: int) -> LibraryFile:
    meta = FileMetadata(name="a.jpg", hash="h", size=1, type="image")
    return LibraryFile(file_id, "h", "a.jpg", 1, "image", None, None, meta, b"k" * 32, 1, 0, 0.0)


def test_unknown_content_is_uploaded() -> None:
    assert decide([], lambda i: set(), 1).action is Action.UPLOAD


def test_known_in_target_album_is_skipped() -> None:
    d = decide([_file(5), _file(7)], lambda i: {1} if i == 7 else {2}, 1)
    assert d.action is Action.SKIP and d.file is not None and d.file.id == 7


def test_known_elsewhere_is_added_by_reference_oldest_first() -> None:
    d = decide([_file(5), _file(7)], lambda i: {2}, 1)
    assert d.action is Action.ADD and d.file is not None and d.file.id == 5
