from __future__ import annotations

import dataclasses

from photoark.client.library.export import safe_component, target_names
from photoark.client.state.mirror import LibraryFile
from tests.optimize.builders import file_metadata


def _f(file_id: int, name: str) -> LibraryFile:
    return LibraryFile(
        file_id, "h", name, 1, "image", None, None, file_metadata(name=name), b"k" * 32, 1, 0, 0.0
    )


def test_clashing_names_never_map_to_one_target() -> None:
    files = [_f(2, "a~5.jpg"), _f(3, "a.jpg"), _f(5, "a.jpg"), _f(6, "A.JPG"), _f(7, "a.jpg")]
    names = target_names(files)
    assert len({n.casefold() for n in names.values()}) == len(files)
    assert names[3] == "a.jpg" and names[2] == "a~5.jpg"
    assert names == target_names(list(reversed(files)))  # stable whatever the order


def test_names_from_metadata_cannot_escape_the_album_folder() -> None:
    assert safe_component("../../etc/passwd") == "..\u2215..\u2215etc\u2215passwd"
    assert safe_component("..") == "_.._"
    assert safe_component("") == "__"


def test_a_live_photos_video_name_is_reserved_too() -> None:
    """A standalone ``IMG_1.MOV`` and a live item ``IMG_1.JPG`` (whose video exports as
    ``IMG_1.MOV``) never write to the same file, whichever came first."""
    parts = [{"name": n, "size": 1, "hash": "h"} for n in ("IMG_1.JPG", "IMG_1.MOV")]
    still = _f(9, "IMG_1.JPG")
    live = dataclasses.replace(
        still, type="live", metadata=file_metadata(name="IMG_1.JPG", type="live", parts=parts)
    )
    for files in ([_f(5, "IMG_1.MOV"), live], [live, _f(12, "img_1.mov")]):
        names = target_names(files)
        video = names[9].rsplit(".", 1)[0] + ".MOV"
        others = [n for i, n in names.items() if i != 9]
        assert all(n.casefold() not in (names[9].casefold(), video.casefold()) for n in others)
