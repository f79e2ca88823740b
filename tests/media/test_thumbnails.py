"""Thumbnails: size bound, orientation, failures reported not raised, and the corpus."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from photoark.media import FORMATS, make_thumbnail, render_thumbnail, sniff, thumbnails
from tests.media.builders import ExifSpec, corpus_file, jpeg_bytes, write_jpeg, write_png

JPEG = FORMATS["jpeg"]


def _size(data: bytes | None) -> tuple[int, int]:
    assert data is not None
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG"
        return im.size


def test_large_jpeg_scaled_down(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "big.jpg", (2400, 1600), ExifSpec(orientation=1))
    assert _size(make_thumbnail(path, JPEG)) == (720, 480)
    assert _size(make_thumbnail(path, JPEG, max_px=100)) == (100, 67)


def test_small_image_not_enlarged(tmp_path: Path) -> None:
    assert _size(make_thumbnail(write_jpeg(tmp_path / "s.jpg", (64, 48)), JPEG)) == (64, 48)


def test_orientation_six_gives_portrait(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "o.jpg", (1600, 1200), ExifSpec(orientation=6))
    data = make_thumbnail(path, JPEG)
    assert _size(data) == (540, 720)
    assert data is not None
    with Image.open(io.BytesIO(data)) as im:
        # the built picture is red on the left: rotated 90° clockwise, red is on top
        top = im.convert("RGB").getpixel((270, 10))
        bottom = im.convert("RGB").getpixel((270, 710))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and bottom[2] > 200


def test_png_with_alpha(tmp_path: Path) -> None:
    assert _size(make_thumbnail(write_png(tmp_path / "a.png", (40, 30)), FORMATS["png"])) == (
        40,
        30,
    )


@pytest.mark.parametrize("content", [b"", b"hello", b"\xff\xd8\xff\xe0garbage"])
def test_undecodable_gives_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    result = render_thumbnail(path, JPEG)
    assert result.data is None and result.error
    assert make_thumbnail(path, FORMATS["heic"]) is None
    assert make_thumbnail(path, FORMATS["nef"]) is None


def test_truncated_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes(jpeg_bytes((800, 600), ExifSpec())[:1500])
    result = render_thumbnail(path, JPEG)
    assert result.data is None and result.error and "truncated" in result.error


def test_decompression_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thumbnails, "MAX_PIXELS", 1000)
    result = render_thumbnail(write_jpeg(tmp_path / "b.jpg", (64, 48)), JPEG)
    assert result.data is None and result.error and "decompression bomb" in result.error


def test_pillow_bomb_error_is_no_thumbnail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    result = render_thumbnail(write_jpeg(tmp_path / "b.jpg", (64, 48)), JPEG)
    assert result.data is None and result.error and "decompression bomb" in result.error


def test_video_without_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    result = render_thumbnail(tmp_path / "v.mp4", FORMATS["mp4"])
    assert result.data is None and result.error and "ffmpeg" in result.error


# --- the shared corpus ------------------------------------------------------------------


def _thumb(corpus: Path, relative: str) -> bytes | None:
    return make_thumbnail(*corpus_file(corpus, relative))


@pytest.mark.parametrize("n", range(1, 9))
def test_corpus_orientation_set(corpus: Path, n: int) -> None:
    width, height = _size(_thumb(corpus, f"exif-samples/jpg/orientation/portrait_{n}.jpg"))
    assert height > width
    width, height = _size(_thumb(corpus, f"exif-samples/jpg/orientation/landscape_{n}.jpg"))
    assert width > height


@pytest.mark.parametrize(
    "relative",
    [
        "photoprism/assets/examples/iphone_15_pro.heic",  # rotated by the HEIF container
        "photoprism/assets/examples/iphone_7.heic",  # no irot: rotated by EXIF
        "lychee-samples/tests/Samples/classic-car.heic",
        "immich-test-assets/formats/motionphoto/samsung-one-ui-6.heic",
    ],
)
def test_corpus_heic_portraits(corpus: Path, relative: str) -> None:
    width, height = _size(_thumb(corpus, relative))
    assert max(width, height) == 720 and height > width


@pytest.mark.parametrize(
    "relative",
    [
        "immich-test-assets/formats/avif/8bit-sRGB.avif",
        "immich-test-assets/formats/avif/10bit-HDR-P3-nclx.avif",
        "photoprism/assets/examples/canon_eos_6d.dng",
        "lychee-samples/tests/Samples/tiff.tif",
        "metadata-extractor-images/webp/HTC Desire.webp",
        "lychee-samples/tests/Samples/gif.gif",
        "neardup-threatexchange-pdq/pdq/data/misc-images/modes/CMYK.jpg",
        "neardup-threatexchange-pdq/pdq/data/misc-images/modes/P.png",
    ],
)
def test_corpus_formats_thumbnail(corpus: Path, relative: str) -> None:
    width, height = _size(_thumb(corpus, relative))
    assert 0 < max(width, height) <= 720


def test_corpus_stubs_report_errors(corpus: Path) -> None:
    for relative in (
        "exiftool-t-images/t/images/Nikon.nef",
        "exiftool-t-images/t/images/QuickTime.heic",
    ):
        path = corpus / relative
        if path.exists():
            fmt = sniff(path)
            assert fmt is not None
            result = render_thumbnail(path, fmt)
            assert result.data is None and result.error


def test_corpus_video_thumbnail(corpus: Path) -> None:
    path = corpus / "metadata-extractor-images/mov/with-gps.mov"
    if not path.exists():
        pytest.skip("no video")
    result = render_thumbnail(path, FORMATS["mov"])
    if shutil.which("ffmpeg") is None:
        assert result.data is None and result.error and "ffmpeg" in result.error
    else:
        width, height = _size(result.data)
        assert height > width  # rotation matrix 90°: portrait


def test_thumbnail_whole_corpus_images(corpus_files: list[Path]) -> None:
    made = 0
    for path in corpus_files:
        fmt = sniff(path)
        if fmt is None or fmt.kind != "image" or path.stat().st_size > 8_000_000:
            continue
        result = render_thumbnail(path, fmt)
        assert (result.data is None) != (result.error is None)
        if result.data is not None:
            assert max(_size(result.data)) <= 720
            made += 1
    assert made > 200
