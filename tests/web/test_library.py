"""The library as the pages show it, over a real mirror: the timeline by month, newest first
(an album's alone), albums with counts and covers, one photo's facts and neighbours, what the
photo view shows; and the library routes around them."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from photoark.client.errors import ClientError
from photoark.client.session import Session
from photoark.client.state.mirror import Album, LibraryFile
from photoark.web import cache
from photoark.web.cache import OriginalCache
from photoark.web.library import (
    NotFound,
    albums,
    display,
    file_or_404,
    photo_details,
    photo_facts,
    timeline,
)
from tests.builders import jpeg_bytes
from tests.optimize.builders import Library, file_metadata
from tests.web.builders import WebApp, sign_in, web_app, web_library


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    built = web_library(tmp_path / "home")
    yield built
    built.close()


def photo(
    library: Library,
    name: str,
    taken_at: str | None,
    *,
    albums: Sequence[Album] = (),
    type: str = "image",
    trashed: bool = False,
    thumbnail_size: int = 100,
    **meta: Any,
) -> LibraryFile:
    """A file of the mirror taken at ``taken_at`` (as the camera wrote it)."""
    metadata = file_metadata(name=name, type=type, taken_at=taken_at, **meta)
    f = library.file(
        name,
        data=name.encode(),
        albums=albums,
        type=type,
        trashed=trashed,
        metadata=metadata,
        thumbnail_size=thumbnail_size,
    )
    f = replace(f, taken_at=taken_at)
    with library.db.transaction() as conn:
        library.mirror.put_file(conn, f)
    return f


# -- timeline -----------------------------------------------------------------------------------


def test_the_timeline_groups_by_month_newest_first(library: Library) -> None:
    march = photo(library, "march.jpg", "2024-03-02T09:00:00")
    may_late = photo(library, "may-late.mov", "2024-05-30T18:00:00", type="video")
    december = photo(library, "dec.heic", "2023-12-24T20:00:00+01:00", type="live")
    may_early = photo(library, "may-early.jpg", "2024-05-01T07:00:00")
    shown = timeline(library.mirror)
    assert shown == {
        "count": 4,
        "months": [
            {
                "key": "2024-05",
                "label": "May 2024",
                "items": [[may_late.id, "v"], [may_early.id, "i"]],
            },
            {"key": "2024-03", "label": "March 2024", "items": [[march.id, "i"]]},
            {"key": "2023-12", "label": "December 2023", "items": [[december.id, "l"]]},
        ],
    }


def test_a_photo_without_date_is_placed_by_its_upload_time(library: Library) -> None:
    dated = photo(library, "dated.jpg", "2024-05-01T07:00:00")
    upload = datetime(2022, 7, 15, 12, 0).timestamp()  # local, as the timeline shows it
    undated = library.file("undated.jpg", data=b"undated", created_at=upload)
    months = timeline(library.mirror)["months"]
    assert [m["key"] for m in months] == ["2024-05", "2022-07"]
    assert months[1]["items"] == [[undated.id, "i"]]
    assert months[0]["items"] == [[dated.id, "i"]]


def test_trashed_files_are_left_out(library: Library) -> None:
    kept = photo(library, "kept.jpg", "2024-05-01T07:00:00")
    photo(library, "gone.jpg", "2024-05-02T07:00:00", trashed=True)
    assert timeline(library.mirror) == {
        "count": 1,
        "months": [{"key": "2024-05", "label": "May 2024", "items": [[kept.id, "i"]]}],
    }


def test_an_album_s_timeline_has_its_photos_only(library: Library) -> None:
    trip = library.album("Trip")
    in_trip = photo(library, "beach.jpg", "2024-05-01T07:00:00", albums=[trip])
    photo(library, "home.jpg", "2024-05-02T07:00:00")
    photo(library, "trashed.jpg", "2024-05-03T07:00:00", albums=[trip], trashed=True)
    shown = timeline(library.mirror, trip.id)
    assert shown["count"] == 1
    assert shown["months"][0]["items"] == [[in_trip.id, "i"]]


def test_an_unknown_album_is_not_found(library: Library) -> None:
    photo(library, "beach.jpg", "2024-05-01T07:00:00")
    with pytest.raises(NotFound):
        timeline(library.mirror, 42)


def test_an_empty_library_has_an_empty_timeline(library: Library) -> None:
    assert timeline(library.mirror) == {"count": 0, "months": []}


def test_albums_count_live_files_and_show_the_latest_as_cover(library: Library) -> None:
    trip, empty = library.album("Trip"), library.album("Empty")
    photo(library, "a.jpg", "2024-05-01T07:00:00", albums=[trip])
    b = photo(library, "b.jpg", "2024-05-02T07:00:00", albums=[trip])
    photo(library, "c.jpg", "2024-05-03T07:00:00", albums=[trip], trashed=True)
    assert albums(library.mirror) == [
        {"id": empty.id, "name": "Empty", "files": 0, "cover": None},
        {"id": trip.id, "name": "Trip", "files": 2, "cover": b.id},
    ]


# -- one photo ----------------------------------------------------------------------------------


def test_a_photo_knows_its_neighbours_in_the_timeline(library: Library) -> None:
    old = photo(library, "old.jpg", "2020-01-01T00:00:00")
    mid = photo(library, "mid.jpg", "2022-01-01T00:00:00")
    new = photo(library, "new.jpg", "2024-01-01T00:00:00")
    first, middle, last = (photo_details(library.mirror, f.id) for f in (new, mid, old))
    assert (first["previous"], first["next"]) == (None, mid.id)
    assert (middle["previous"], middle["next"]) == (new.id, old.id)
    assert (last["previous"], last["next"]) == (mid.id, None)
    assert [d["position"] for d in (first, middle, last)] == [
        {"index": 1, "of": 3},
        {"index": 2, "of": 3},
        {"index": 3, "of": 3},
    ]


def test_in_an_album_the_neighbours_are_the_album_s(library: Library) -> None:
    trip = library.album("Trip")
    old = photo(library, "old.jpg", "2020-01-01T00:00:00", albums=[trip])
    photo(library, "between.jpg", "2022-01-01T00:00:00")
    new = photo(library, "new.jpg", "2024-01-01T00:00:00", albums=[trip])
    details = photo_details(library.mirror, new.id, trip.id)
    assert (details["previous"], details["next"]) == (None, old.id)
    assert details["position"] == {"index": 1, "of": 2}


def test_a_trashed_or_unknown_photo_is_not_found(library: Library) -> None:
    gone = photo(library, "gone.jpg", "2024-05-02T07:00:00", trashed=True)
    for file_id in (gone.id, 999):
        with pytest.raises(NotFound):
            photo_details(library.mirror, file_id)
        with pytest.raises(NotFound):
            file_or_404(library.mirror, file_id)


@pytest.mark.parametrize(
    ("format", "type", "shown"),
    [
        ("jpeg", "image", "original"),
        ("png", "image", "original"),
        ("webp", "image", "original"),
        ("heic", "image", "rendered"),
        ("tiff", "image", "rendered"),
        ("dng", "image", "rendered"),
        ("mov", "video", "original"),
    ],
)
def test_what_the_photo_view_shows(
    library: Library, format: str | None, type: str, shown: str
) -> None:
    f = photo(library, "x", "2024-05-02T07:00:00", type=type, format=format)
    assert photo_details(library.mirror, f.id)["display"] == shown


def test_a_live_photo_has_motion(library: Library) -> None:
    parts = [
        {"name": "IMG_1.HEIC", "size": 30, "hash": "aa" * 32},
        {"name": "IMG_1.MOV", "size": 70, "hash": "bb" * 32},
    ]
    live = photo(library, "IMG_1.HEIC", "2024-05-02T07:00:00", type="live", parts=parts)
    still = photo(library, "IMG_2.jpg", "2024-05-02T07:00:00")
    assert photo_details(library.mirror, live.id)["motion"] is True
    assert photo_details(library.mirror, still.id)["motion"] is False


def test_a_photo_s_facts(library: Library) -> None:
    trip, family = library.album("Trip"), library.album("Family")
    f = photo(
        library,
        "IMG_1.jpg",
        "2024-05-02T07:00:00+02:00",
        albums=[trip, family],
        format="jpeg",
        mime="image/jpeg",
        width=4032,
        height=3024,
        make="Apple",
        model="iPhone 12",
        gps={"lat": 48.8584, "lon": 2.2945, "alt": 35.0},
    )
    facts = photo_facts(library.mirror, f, {a.id: a.name for a in library.mirror.albums()})
    assert facts["camera"] == "Apple iPhone 12"
    assert facts["location"] == {"lat": 48.8584, "lon": 2.2945}
    assert facts["has_location"] is True
    assert facts["albums"] == ["Family", "Trip"]
    assert facts["album_count"] == 2
    assert facts["stored"] == f.content_size + f.thumbnail_size
    assert (facts["width"], facts["height"]) == (4032, 3024)
    assert facts["taken_at"] == "2024-05-02T07:00:00+02:00"
    assert facts["has_thumbnail"] is True
    assert facts["uploaded_at"] == f.created_at


def test_a_photo_without_camera_or_place(library: Library) -> None:
    bare = photo(library, "scan.png", None, thumbnail_size=0)
    only_make = photo(library, "x.jpg", None, make="Canon")
    facts = photo_facts(library.mirror, bare, {})
    assert facts["camera"] is None
    assert facts["location"] is None
    assert facts["has_location"] is False
    assert facts["albums"] == []
    assert facts["has_thumbnail"] is False
    assert photo_facts(library.mirror, only_make, {})["camera"] == "Canon"


# -- what the photo view shows ------------------------------------------------------------------


def _tiff_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (3000, 1500), (200, 30, 30)).save(out, "TIFF")
    return out.getvalue()


@pytest.fixture
def originals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OriginalCache:
    """Originals "downloaded" as the bytes of ``CONTENT[name]``."""

    def download_to(session: Session, f: LibraryFile, target: Path) -> int:
        data = CONTENT[f.name]
        target.write_bytes(data)
        return len(data)

    monkeypatch.setattr(cache, "download_to", download_to)
    return OriginalCache(tmp_path / "originals")


CONTENT = {"photo.jpg": jpeg_bytes(3), "scan.tif": _tiff_bytes(), "odd.xyz": b"??"}


def test_a_browser_image_is_shown_as_it_is(library: Library, originals: OriginalCache) -> None:
    f = photo(library, "photo.jpg", None, format="jpeg", mime="image/jpeg")
    shown = display(library.session, originals, f)
    assert shown.data is None and shown.path is not None
    assert shown.path.read_bytes() == CONTENT["photo.jpg"]
    assert shown.mime == "image/jpeg"


def test_another_format_is_rendered_as_a_bounded_jpeg(
    library: Library, originals: OriginalCache
) -> None:
    f = photo(library, "scan.tif", None, format="tiff", mime="image/tiff")
    shown = display(library.session, originals, f)
    assert shown.path is None and shown.data is not None
    assert shown.mime == "image/jpeg"
    with Image.open(io.BytesIO(shown.data)) as image:
        assert image.format == "JPEG"
        assert image.size == (2560, 1280)


def test_an_unknown_format_cannot_be_shown(library: Library, originals: OriginalCache) -> None:
    f = photo(library, "odd.xyz", None, format="xyz")
    with pytest.raises(ClientError, match="cannot be shown"):
        display(library.session, originals, f)


# -- the routes ---------------------------------------------------------------------------------


@pytest.fixture
def web(library: Library) -> WebApp:
    return web_app(library)


def test_the_timeline_route_answers_the_service(library: Library, web: WebApp) -> None:
    trip = library.album("Trip")
    photo(library, "a.jpg", "2024-05-01T07:00:00", albums=[trip])
    photo(library, "b.jpg", "2023-05-01T07:00:00")
    with web.client() as client:
        sign_in(client, web.ctx)
        assert client.get("/api/timeline").json() == timeline(library.mirror)
        assert client.get(f"/api/timeline?album={trip.id}").json() == timeline(
            library.mirror, trip.id
        )
        missing = client.get("/api/timeline?album=99")
        assert client.get("/api/albums").json() == albums(library.mirror)
    assert missing.status_code == 404
    assert missing.json() == {"error": "no album 99", "hint": ""}


def test_the_photo_route_answers_its_details(library: Library, web: WebApp) -> None:
    f = photo(library, "a.jpg", "2024-05-01T07:00:00", format="jpeg")
    with web.client() as client:
        sign_in(client, web.ctx)
        details = client.get(f"/api/photos/{f.id}").json()
    assert details["name"] == "a.jpg"
    assert details["display"] == "original"


def test_the_thumbnail_route_decrypts_the_cached_thumbnail(library: Library, web: WebApp) -> None:
    f = photo(library, "a.jpg", "2024-05-01T07:00:00")
    jpeg = jpeg_bytes(5)
    web.api.seal_thumbnail(f, jpeg)
    with web.client() as client:
        assert client.get(f"/api/photos/{f.id}/thumbnail").status_code == 401
        sign_in(client, web.ctx)
        first = client.get(f"/api/photos/{f.id}/thumbnail")
        second = client.get(f"/api/photos/{f.id}/thumbnail")
    assert first.status_code == 200
    assert first.content == second.content == jpeg
    assert first.headers["content-type"] == "image/jpeg"
    assert first.headers["cache-control"] == "private, no-store"
    assert web.api.thumbnail_calls == [f.id]


def test_thumbnail_errors_are_mapped(library: Library, web: WebApp) -> None:
    none = photo(library, "none.jpg", None, thumbnail_size=0)
    bad = photo(library, "bad.jpg", None)
    sealed = bytearray(web.api.seal_thumbnail(bad, jpeg_bytes(6)))
    sealed[-1] ^= 0x01
    web.api.thumbnails[bad.id] = bytes(sealed)
    with web.client() as client:
        sign_in(client, web.ctx)
        unknown = client.get("/api/photos/999/thumbnail")
        missing = client.get(f"/api/photos/{none.id}/thumbnail")
        broken = client.get(f"/api/photos/{bad.id}/thumbnail")
    assert unknown.status_code == 404
    assert missing.status_code == 404
    assert missing.json()["error"] == "none.jpg has no thumbnail"
    assert broken.status_code == 502  # the server's copy is wrong, not the request
    assert "bad.jpg" in broken.json()["error"]
    assert broken.json()["hint"]
