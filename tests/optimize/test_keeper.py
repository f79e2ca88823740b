"""The keep rule (optimize/keeper.py): pixels, then the camera's format, then metadata, albums,
age; and the reason shown for it."""

from __future__ import annotations

from photoark.optimize.keeper import format_rank, keeper_order, why_first, why_not
from tests.optimize.builders import candidate as _c


def test_more_pixels_wins_first() -> None:
    big, heic = _c(1, pixels=20_000_000), _c(2, format="heic")
    assert keeper_order([heic, big]) == [big, heic]
    assert why_first([big, heic]) == "more pixels"


def test_the_camera_format_beats_a_re_encode_of_the_same_size() -> None:
    raw, heic, jpeg, png = _c(1, format="dng"), _c(2, format="heic"), _c(3), _c(4, format="png")
    assert keeper_order([png, jpeg, heic, raw]) == [raw, heic, jpeg, png]
    assert why_not(heic, jpeg) == "original format"
    assert format_rank("webp") > format_rank("jpeg") > format_rank("heic") > format_rank("nef")


def test_then_metadata_then_albums_then_the_oldest() -> None:
    dated, undated = _c(1), _c(2, has_date=False)
    assert keeper_order([undated, dated])[0] is dated
    located, plain = _c(3, has_gps=True), _c(4)
    assert why_first(keeper_order([plain, located])) == "has location"
    shared, single = _c(5, album_count=3), _c(6)
    assert why_first(keeper_order([single, shared])) == "in more albums"
    older, newer = _c(7, taken=1.0), _c(8, taken=2.0)
    assert keeper_order([newer, older]) == [older, newer]
    assert why_not(older, newer) == "oldest"
    assert why_not(newer, older) == ""  # the keeper is not better: nothing to say
