"""The keeper prefers the original's name to a copy's (``IMG_4120.JPG`` over
``IMG_4120 copy.JPG``) when the content ties: in ``dedup`` (exact copies) and in the similar
keeper, after the content criteria and the albums, before the age."""

from __future__ import annotations

import pytest

from photoark.optimize.duplicates import find_duplicates, plan_json
from photoark.optimize.keeper import Candidate, copy_marks, keeper_order, why_first, why_not
from tests.builders import CORPUS
from tests.optimize.builders import Library, blake3_hex, candidate

EXAMPLES = CORPUS / "photoprism" / "assets" / "examples"


@pytest.mark.parametrize(
    "name",
    [
        "IMG_4120 copy.JPG",
        "IMG_4120 Copy 2.JPG",
        "IMG_4120 (1).JPG",
        "IMG_4120(12).JPG",
        "IMG_4120~2.JPG",
        "IMG_4120~1234-2.JPG",  # export's own clash names
        "IMG_4120-copy.JPG",
        "IMG_4120_copy.JPG",
        "IMG_4120 - Copy.JPG",
        "IMG_4120 - Copy (3).JPG",
        "Copy of IMG_4120.JPG",
        "Copy (2) of IMG_4120.JPG",
        "IMG_4120 copy",  # no extension
    ],
)
def test_copy_markers_are_recognised(name: str) -> None:
    assert copy_marks(name) == 1, name


@pytest.mark.parametrize(
    "name",
    ["IMG_4120.JPG", "Party (2019).jpg", "copy.jpg", "(1).jpg", "Photocopy.jpg", ".hidden"],
)
def test_an_original_name_has_none(name: str) -> None:
    assert copy_marks(name) == 0, name


def test_markers_add_up() -> None:
    assert copy_marks("Copy of IMG_1 (1) copy.JPG") == 3
    assert copy_marks("IMG_1 copy copy.JPG") > copy_marks("IMG_1 copy.JPG")


def _c(i: int, name: str, **changes: object) -> Candidate:
    return candidate(i, name=name, **changes)


def test_the_similar_keeper_prefers_the_original_name_over_the_older_copy() -> None:
    copy, original = _c(1, "IMG_1 copy.JPG"), _c(2, "IMG_1.JPG")
    assert keeper_order([copy, original]) == [original, copy]
    assert why_first([original, copy]) == "original name"
    assert why_not(original, copy) == "original name"
    assert why_not(copy, original) == ""


def test_the_name_comes_after_the_content_and_the_albums() -> None:
    bigger_copy, original = _c(1, "IMG_1 (1).JPG", pixels=20_000_000), _c(2, "IMG_1.JPG")
    assert keeper_order([original, bigger_copy])[0] is bigger_copy
    shared_copy = _c(3, "IMG_1 copy.JPG", album_count=2)
    assert keeper_order([original, shared_copy])[0] is shared_copy


def test_dedup_keeps_the_original_name_whatever_was_uploaded_first(library: Library) -> None:
    album = library.album("Pictures")
    data = b"same bytes"
    names = ["IMG_4120 copy.JPG", "IMG_4120 (1).JPG", "IMG_4120.JPG"]  # uploaded in this order
    files = {n: library.file(n, data=data, albums=[album]) for n in names}
    (group,) = find_duplicates(library.mirror)
    assert group.keep.id == files["IMG_4120.JPG"].id
    assert sorted(c.name for c in group.remove) == ["IMG_4120 (1).JPG", "IMG_4120 copy.JPG"]
    (shown,) = plan_json([group], library.mirror)["groups"]
    assert shown["keep"] == files["IMG_4120.JPG"].id and shown["hash"] == blake3_hex(data)


@pytest.mark.skipif(not (EXAMPLES / "IMG_4120.JPG").is_file(), reason="corpus absent")
def test_the_corpus_copies_keep_img_4120(library: Library) -> None:
    album = library.album("examples")
    names = ["IMG_4120 (1).JPG", "IMG_4120 copy.JPG", "IMG_4120.JPG"]
    contents = {n: (EXAMPLES / n).read_bytes() for n in names}
    assert len(set(contents.values())) == 1  # identical bytes
    files = {n: library.file(n, data=contents[n], albums=[album]) for n in names}
    (group,) = find_duplicates(library.mirror)
    assert group.keep.id == files["IMG_4120.JPG"].id
