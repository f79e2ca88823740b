"""Format sniffing: by content only, on built files and across the shared corpus."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from photoark.media import (
    FORMATS,
    SIDE_CAR_EXTENSIONS,
    MediaFormat,
    sniff,
    sniff_bytes,
    sniff_content,
)
from tests.media.builders import jpeg_bytes, write_jpeg, write_png


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\0\0\0\x08free"


def _tiff(entries: list[tuple[int, int, int, bytes]], order: str = "<") -> bytes:
    """A little TIFF: header, IFD0 at 8 with inline values (<= 4 bytes) or trailing data."""
    mark = b"II*\x00" if order == "<" else b"MM\x00*"
    head = mark + struct.pack(order + "I", 8)
    data_at = 8 + 2 + 12 * len(entries) + 4
    table, extra = b"", b""
    for tag, typ, count, value in entries:
        if len(value) <= 4:
            table += struct.pack(order + "HHI", tag, typ, count) + value.ljust(4, b"\0")
        else:
            table += struct.pack(order + "HHII", tag, typ, count, data_at + len(extra))
            extra += value
    return head + struct.pack(order + "H", len(entries)) + table + b"\0\0\0\0" + extra


def _make(make: str) -> tuple[int, int, int, bytes]:
    raw = make.encode() + b"\0"
    return (0x010F, 2, len(raw), raw)


SUBFILE_REDUCED = (0x00FE, 4, 1, struct.pack("<I", 1))


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0" + b"\0" * 20, "jpeg"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "png"),
        (b"GIF89a" + b"\0" * 20, "gif"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "webp"),
        (b"RIFF\0\0\0\0AVI LIST", "avi"),
        (b"\xff\x0a\xba\x21", "jxl"),
        (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jxl"),
        (_ftyp(b"heic", b"mif1", b"heic"), "heic"),
        (_ftyp(b"mif1", b"mif1", b"heic"), "heic"),
        (_ftyp(b"mif1", b"mif1"), "heif"),
        (_ftyp(b"avif", b"mif1", b"avif"), "avif"),
        (_ftyp(b"crx ", b"crx ", b"isom"), "cr3"),
        (_ftyp(b"qt  ", b"qt  "), "mov"),
        (_ftyp(b"isom", b"isom", b"mp41"), "mp4"),
        (_ftyp(b"mp42", b"isom"), "mp4"),
        (_ftyp(b"M4V ", b"M4V ", b"mp42"), "m4v"),
        (_ftyp(b"3gp5", b"3gp5"), "3gp"),
        (b"\x00\x00\x00\x10moov\x00\x00\x00\x08mvhd", "mov"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "mkv"),
        (b"FUJIFILMCCD-RAW 0201", "raf"),
        (b"IIRO\x08\0\0\0", "orf"),
        (b"IIU\x00\x08\0\0\0", "rw2"),
        (b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0", "bmp"),
        ((b"\x47" + b"\0" * 187) * 5, "mts"),
        ((b"\0\0\0\0\x47" + b"\0" * 187) * 5, "mts"),
    ],
)
def test_sniff_bytes_magics(head: bytes, expected: str) -> None:
    fmt = sniff_bytes(head)
    assert fmt is not None and fmt.name == expected


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello world, this is text\n",
        b"PK\x03\x04" + b"\0" * 30,
        b"%PDF-1.7\n",
        b"BM but a text file about BMW",
        _ftyp(b"zzzz", b"yyyy"),
        b'{"json": true}',
    ],
)
def test_sniff_bytes_rejects_non_media(head: bytes) -> None:
    assert sniff_bytes(head) is None


def test_sniff_ignores_extension(tmp_path: Path) -> None:
    jpeg_as_png = write_jpeg(tmp_path / "photo.png")
    png_as_jpg = write_png(tmp_path / "photo.jpg")
    no_extension = tmp_path / "IMG_0001"
    no_extension.write_bytes(jpeg_bytes())
    text_as_jpg = tmp_path / "notes.jpg"
    text_as_jpg.write_text("not a photo\n")
    empty = tmp_path / "empty.heic"
    empty.write_bytes(b"")
    assert sniff(jpeg_as_png) == FORMATS["jpeg"]
    assert sniff(png_as_jpg) == FORMATS["png"]
    assert sniff(no_extension) == FORMATS["jpeg"]
    assert sniff(text_as_jpg) is None
    assert sniff(empty) is None


def test_truncated_jpeg_is_still_a_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes(jpeg_bytes()[:200])
    assert sniff(path) == FORMATS["jpeg"]


@pytest.mark.parametrize(
    ("name", "tiff", "expected"),
    [
        ("a.tif", _tiff([_make("Canon")]), "tiff"),
        ("a.dng", _tiff([(0xC612, 1, 4, b"\x01\x04\x00\x00"), _make("Canon")]), "dng"),
        ("a.tif", _tiff([(0xC612, 1, 4, b"\x01\x04\x00\x00")]), "dng"),
        ("a.tif", _tiff([SUBFILE_REDUCED, _make("NIKON CORPORATION")]), "nef"),
        ("a.tif", _tiff([SUBFILE_REDUCED, _make("SONY")]), "arw"),
        ("a.tif", _tiff([SUBFILE_REDUCED, _make("PENTAX Corporation")]), "pef"),
        ("a.tif", _tiff([SUBFILE_REDUCED, _make("SAMSUNG")]), "srw"),
        ("a.arw", _tiff([SUBFILE_REDUCED, _make("NIKON CORPORATION")]), "nef"),
        # a scanner TIFF made by Nikon is not a NEF: nothing raw-like in IFD0
        ("scan.tif", _tiff([_make("Nikon SUPER COOLSCAN")]), "tiff"),
        # extension is only a tiebreak between TIFF-family raw types
        ("a.nef", _tiff([_make("Unknown")]), "nef"),
        ("a.NEF", _tiff([]), "nef"),
        ("a.jpg", _tiff([_make("Unknown")]), "tiff"),
    ],
)
def test_tiff_family(tmp_path: Path, name: str, tiff: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(tiff)
    assert sniff(path) == FORMATS[expected]
    assert sniff_content(tiff, path.suffix) == FORMATS[expected]  # the in-memory twin


def test_cr2_signature(tmp_path: Path) -> None:
    path = tmp_path / "no_ext"
    path.write_bytes(b"II*\x00\x10\x00\x00\x00CR\x02\x00" + b"\0" * 64)
    assert sniff(path) == FORMATS["cr2"]


def test_extension_never_makes_media(tmp_path: Path) -> None:
    path = tmp_path / "x.nef"
    path.write_text("text")
    assert sniff(path) is None


def test_format_table() -> None:
    assert all(isinstance(f, MediaFormat) for f in FORMATS.values())
    assert {f.name for f in FORMATS.values() if f.raw} >= {"dng", "cr2", "cr3", "nef", "arw"}
    assert FORMATS["mov"].kind == "video" and FORMATS["heic"].kind == "image"
    assert {".xmp", ".aae"} <= SIDE_CAR_EXTENSIONS


# --- the shared corpus ------------------------------------------------------------------


def test_sniff_whole_corpus(corpus_files: list[Path]) -> None:
    results = {p: sniff(p) for p in corpus_files}
    assert all(r is None or isinstance(r, MediaFormat) for r in results.values())
    for path, fmt in results.items():
        if path.suffix.lower() in {".txt", ".json", ".md", ".csv", ".xmp", ".aae", ".rst"}:
            assert fmt is None, path
    recognised = [r for r in results.values() if r is not None]
    assert len(recognised) > 250
    small = [p for p in corpus_files if p.stat().st_size <= 8 * 1024 * 1024]
    for path in small:  # a backup sniffs small files from the bytes it read: same answer
        assert sniff_content(path.read_bytes(), path.suffix) == results[path], path


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("photoprism/assets/examples/this-is-a-jpeg.png", "jpeg"),
        ("neardup-imagededup/tests/data/formats_images/ukbench09380.png", "jpeg"),
        ("photoprism/internal/photoprism/testdata/wrong.heic", "jpeg"),
        ("metadata-extractor-images/nef/Issue 247-1.nef", "jpeg"),
        ("lychee-samples/tests/Samples/mongolia", "jpeg"),
        ("exiftool-t-images/t/images/DNG.dng", "dng"),
        ("exiftool-t-images/t/images/Nikon.nef", "nef"),
        ("exiftool-t-images/t/images/CanonRaw.cr2", "cr2"),
        ("exiftool-t-images/t/images/CanonRaw.cr3", "cr3"),
        ("exiftool-t-images/t/images/QuickTime.heic", "heic"),
        ("exiftool-t-images/t/images/QuickTime.mov", "mov"),
        ("exiftool-t-images/t/images/RIFF.webp", "webp"),
        ("photoprism/assets/examples/canon_eos_6d.dng", "dng"),
        ("lychee-samples/tests/Samples/tiff.tif", "tiff"),
        ("lychee-samples/tests/Samples/train.mov", "mov"),
        ("immich-test-assets/formats/avif/8bit-sRGB.avif", "avif"),
        ("immich-test-assets/formats/jxl/8bit-sRGB.jxl", "jxl"),
        ("metadata-extractor-images/mp4/with-gps.mp4", "mp4"),
        ("exif-samples/heic/mobile/HMD_Nokia_8.3_5G.heif", "heic"),
        ("neardup-imagededup/tests/data/mixed_images/ukbench09268_corrupt.jpg", None),
        ("photoprism/assets/examples/IMG_4120.AAE", None),
    ],
)
def test_corpus_traps(corpus: Path, relative: str, expected: str | None) -> None:
    path = corpus / relative
    if not path.exists():
        pytest.skip(f"{relative} not in this corpus")
    fmt = sniff(path)
    assert (fmt.name if fmt else None) == expected
