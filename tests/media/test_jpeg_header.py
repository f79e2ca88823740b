"""The JPEG header walk that stands in for ``Image.open`` when a photo's metadata is read from
its bytes: it must give exactly what Pillow gives, or step aside (``None``) and let Pillow.

The whole corpus is compared in ``test_metadata_from_bytes.py`` (bytes: this walk; path:
Pillow). Here every header byte of built JPEGs (EXIF with GPS, XMP, ICC profile, comment,
JFIF) is mutated and each mutant's metadata compared both ways; named cases pin what the walk
must leave to Pillow.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from photoark.media import FORMATS, extract_metadata, sniff
from photoark.media import images as images_module
from photoark.media.jpeg_header import exif_of, read_jpeg_header
from photoark.media.metadata import MediaMetadata
from tests.media.builders import ExifSpec, photo_jpeg_bytes

JPEG = FORMATS["jpeg"]
_FLIPS = (0x01, 0x10, 0x80, 0xFF)
_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
    b'tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
)


def _by_pillow(data: bytes, monkeypatch: pytest.MonkeyPatch) -> MediaMetadata:
    """The metadata of ``data`` with the walk switched off: Pillow opens the bytes."""
    with monkeypatch.context() as patched:
        patched.setattr(images_module, "read_jpeg_header", lambda data: None)
        return extract_metadata(Path("x.jpg"), JPEG, data)


def _by_walk(data: bytes) -> MediaMetadata:
    return extract_metadata(Path("x.jpg"), JPEG, data)


def _with_segment(data: bytes, marker: int, body: bytes) -> bytes:
    """``data`` with a segment inserted right after SOI."""
    return data[:2] + bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body + data[2:]


def _header_end(data: bytes) -> int:
    return data.index(b"\xff\xda") + 2


def _rich_jpeg(**save: Any) -> bytes:
    exif = ExifSpec(orientation=3).to_exif()
    return photo_jpeg_bytes(
        (96, 72), exif=exif, comment=b"a comment", icc_profile=b"\0" * 200, **save
    )


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_rich_jpeg(), id="exif gps icc comment"),
        pytest.param(_rich_jpeg(xmp=_XMP, progressive=True), id="progressive with xmp"),
        pytest.param(photo_jpeg_bytes((96, 72), mode="L", xmp=_XMP), id="grey, xmp orientation"),
    ],
)
def test_every_header_mutant_reads_as_pillow_reads_it(
    data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert read_jpeg_header(data) is not None
    walked = deferred = 0
    for pos in range(2, _header_end(data)):
        for flip in _FLIPS:
            mutant = bytearray(data)
            mutant[pos] ^= flip
            mutant_bytes = bytes(mutant)
            header = read_jpeg_header(mutant_bytes)
            if header is None or exif_of(header) is None:
                deferred += 1
                continue
            walked += 1
            assert _by_walk(mutant_bytes) == _by_pillow(mutant_bytes, monkeypatch), (pos, flip)
    assert walked > deferred > 0  # most mutants are walked; some are left to Pillow


def test_the_walk_gives_size_tags_and_xmp(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _rich_jpeg(xmp=_XMP)
    meta = _by_walk(data)
    assert (meta.width, meta.height, meta.orientation, meta.make) == (96, 72, 3, "Photoark")
    assert meta.gps is not None and meta.taken_at == "2019-07-14T10:21:33+02:00"
    assert meta == _by_pillow(data, monkeypatch)
    header = read_jpeg_header(data)
    assert header is not None and header.xmp == _XMP


def test_xmp_orientation_stands_in_for_a_missing_exif_one(monkeypatch: pytest.MonkeyPatch) -> None:
    data = photo_jpeg_bytes((96, 72), xmp=_XMP)
    assert _by_walk(data).orientation == 6 == _by_pillow(data, monkeypatch).orientation


def test_a_second_exif_segment_is_appended_as_pillow_does() -> None:
    original = read_jpeg_header(_rich_jpeg())
    assert original is not None and original.exif is not None
    header = read_jpeg_header(_with_segment(_rich_jpeg(), 0xE1, b"Exif\x00\x00first"))
    assert header is not None and header.exif == b"Exif\x00\x00first" + original.exif[6:]


@pytest.mark.parametrize(
    ("marker", "body"),
    [
        pytest.param(0xE2, b"MPF\x00" + b"\0" * 16, id="a multi-picture index (MPO)"),
        pytest.param(0xE0, b"JFIF\x00\x01", id="JFIF too short for its version"),
        pytest.param(0xEE, b"Adobe\x00", id="Adobe too short"),
        pytest.param(0xE2, b"ICC_PROFILE\x00\x01", id="ICC chunk without its count"),
        pytest.param(0xDB, b"\x00" + b"\x01" * 10, id="a quantisation table cut short"),
        pytest.param(0xC3, b"\x08\x00\x10\x00\x10\x01\x01\x11\x00", id="lossless frame"),
        pytest.param(0xD8, b"", id="a second SOI"),
    ],
)
def test_what_pillow_might_refuse_is_left_to_pillow(
    marker: int, body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _with_segment(_rich_jpeg(), marker, body)
    assert read_jpeg_header(data) is None
    assert _by_walk(data) == _by_pillow(data, monkeypatch)


def test_junk_between_segments_and_no_scan_are_left_to_pillow() -> None:
    data = _rich_jpeg()
    assert read_jpeg_header(data[:2] + b"\x00" + data[2:]) is None
    assert read_jpeg_header(data[: _header_end(data) - 2]) is None
    assert read_jpeg_header(b"\xff\xd8\xff") is None
    assert read_jpeg_header(b"\x89PNG\r\n\x1a\n") is None


def test_a_picture_over_pillows_pixel_limit_is_left_to_pillow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _rich_jpeg()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 96 * 72 - 1)
    assert read_jpeg_header(data) is None
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 96 * 72)
    assert read_jpeg_header(data) is not None


def test_unreadable_exif_is_left_to_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    exif = ExifSpec().to_exif().tobytes()
    broken = b"Exif\x00\x00MM\x00\x2a" + exif[10:14] + b"\xff" * 8  # IFD0 with too many tags
    data = _with_segment(photo_jpeg_bytes((96, 72)), 0xE1, broken)
    header = read_jpeg_header(data)
    assert header is not None
    if exif_of(header) is None:  # Pillow raises on it: the walk steps aside
        assert _by_walk(data) == _by_pillow(data, monkeypatch)


def test_corpus_jpegs_mostly_take_the_walk(corpus_files: list[Path]) -> None:
    jpegs = [p for p in corpus_files if (fmt := sniff(p)) is not None and fmt.name == "jpeg"]
    headers = [read_jpeg_header(p.read_bytes()) for p in jpegs]
    walked = [h for h in headers if h is not None and exif_of(h) is not None]
    assert len(jpegs) > 200 and len(walked) > 0.9 * len(jpegs)


def test_bytes_that_are_not_a_jpeg_go_to_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (30, 20)).save(buf, "PNG")
    png = extract_metadata(Path("x.png"), FORMATS["png"], buf.getvalue())
    assert (png.width, png.height) == (30, 20)
