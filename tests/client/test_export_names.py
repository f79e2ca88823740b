from __future__ import annotations

from photoark.client.exporter import safe_component, target_names
from photoark.client.state.mirror import LibraryFile


def _f(file_id: int, name: str) -> LibraryFile:
    return LibraryFile(
        file_id, "h", name, 1, "image", None, None, {"name": name}, b"k" * 32, 1, 0, 0.0
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
