"""Metadata parsed from a file's bytes already in memory (a small file the backup read once to
hash it) is the metadata read from its path: every field and warning, over the whole corpus,
and the motion-photo markers (Samsung's SEF trailer and ``mpvd`` box) without opening the file
again."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from photoark.media import FORMATS, extract_metadata, sniff
from photoark.media.markers import has_mpvd_box, samsung_trailer_names
from tests.media.builders import ExifSpec, corpus_file, jpeg_bytes, write_jpeg

JPEG = FORMATS["jpeg"]
SAMSUNG_HEIC = "immich-test-assets/formats/motionphoto/samsung-one-ui-6.heic"


def sef_trailer(content: bytes, blocks: list[str]) -> bytes:
    """``content`` followed by a Samsung SEF trailer listing ``blocks`` (each with a payload)."""
    out, offsets = bytearray(content), []
    for name in blocks:
        offsets.append(len(out))
        out += struct.pack("<HHI", 0, 0x0A30, len(name)) + name.encode() + b"payload"
    directory = bytearray(b"SEFH" + struct.pack("<II", 107, len(blocks)))
    dir_start = len(out)
    for name, start in zip(blocks, offsets, strict=True):
        directory += struct.pack("<III", 0x0A30, dir_start - start, len(name) + 15)
    return bytes(out + directory + struct.pack("<I", len(directory)) + b"SEFT")


def test_every_corpus_file_reads_the_same_from_its_bytes(corpus_files: list[Path]) -> None:
    compared = 0
    for path in corpus_files:
        fmt = sniff(path)
        if fmt is None:
            continue
        from_bytes = extract_metadata(path, fmt, path.read_bytes())
        assert from_bytes == extract_metadata(path, fmt), path
        compared += 1
    assert compared > 250


@pytest.mark.parametrize(
    "relative",
    [
        "exif-samples/jpg/gps/DSCN0010.jpg",
        "exif-samples/jpg/orientation/portrait_6.jpg",
        "photoprism/assets/examples/iphone_15_pro.heic",
        "lychee-samples/tests/Samples/train.jpg",
    ],
)
def test_date_gps_orientation_and_size_come_from_the_bytes(corpus: Path, relative: str) -> None:
    path, fmt = corpus_file(corpus, relative)
    meta = extract_metadata(path, fmt, path.read_bytes())
    assert meta == extract_metadata(path, fmt)
    assert meta.width and meta.height and meta.orientation
    assert meta.taken_at or "orientation" in relative


def test_the_samsung_motion_photo_is_found_in_its_bytes_alone(corpus: Path, tmp_path: Path) -> None:
    original, fmt = corpus_file(corpus, SAMSUNG_HEIC)
    path = tmp_path / "motion.heic"
    shutil.copyfile(original, path)
    data = path.read_bytes()
    expected = extract_metadata(path, fmt)
    assert expected.motion_photo and expected.make == "samsung"
    path.write_bytes(b"\0" * len(data))  # nothing but the bytes given can say so now
    assert extract_metadata(path, fmt, data) == expected
    assert "MotionPhoto_Data" in samsung_trailer_names(data)
    assert has_mpvd_box(data) and not has_mpvd_box(path)


def test_a_samsung_jpeg_trailer_is_read_from_the_bytes(tmp_path: Path) -> None:
    data = sef_trailer(jpeg_bytes(), ["Image_UTC_Data", "MotionPhoto_Data"])
    path = tmp_path / "motion.jpg"
    path.write_bytes(data)
    assert samsung_trailer_names(data) == samsung_trailer_names(path)
    assert samsung_trailer_names(data) == ["Image_UTC_Data", "MotionPhoto_Data"]
    assert extract_metadata(path, JPEG, data).motion_photo
    assert extract_metadata(path, JPEG).motion_photo
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(sef_trailer(jpeg_bytes(), ["Image_UTC_Data"]))
    assert not extract_metadata(plain, JPEG, plain.read_bytes()).motion_photo


def test_bytes_that_are_no_image_warn_as_the_file_does(tmp_path: Path) -> None:
    path = tmp_path / "not-a.jpg"
    path.write_bytes(b"\xff\xd8 not really a JPEG" * 10)
    from_bytes = extract_metadata(path, JPEG, path.read_bytes())
    assert from_bytes == extract_metadata(path, JPEG)
    assert any(str(path) in w for w in from_bytes.warnings)


def test_exif_written_by_a_builder_reads_the_same(tmp_path: Path) -> None:
    spec = ExifSpec(orientation=8, gps=(43.5, 11.25, 12.0), taken="2024:05:06 07:08:09")
    path = write_jpeg(tmp_path / "a.jpg", (64, 48), spec)
    meta = extract_metadata(path, JPEG, path.read_bytes())
    assert meta == extract_metadata(path, JPEG)
    assert (meta.orientation, meta.taken_at, meta.width) == (8, "2024-05-06T07:08:09+02:00", 64)
    assert meta.gps is not None and meta.gps["lat"] == pytest.approx(43.5)
