"""Thumbnails: size bound, orientation, failures reported not raised, and the corpus."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

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


@pytest.mark.parametrize(
    ("size", "decoded"),
    [
        ((4000, 2250), (1000, 563)),  # 16:9: 1/4, not the 1/2 a square (720, 720) request gives
        ((2400, 1600), (1200, 800)),  # 1/3 is not a DCT scale: 1/2
        ((6000, 4000), (750, 500)),  # 1/8 still covers 720 x 480
        ((700, 500), (700, 500)),  # fits already: full decode
    ],
)
def test_jpeg_decoded_at_smallest_sufficient_scale(
    tmp_path: Path, size: tuple[int, int], decoded: tuple[int, int]
) -> None:
    path = write_jpeg(tmp_path / "big.jpg", size, ExifSpec(orientation=6))
    im, orientation = thumbnails._open_image(path, 720)
    assert im.size == decoded and orientation == 6
    width, height = _size(make_thumbnail(path, JPEG))
    assert max(width, height) == min(720, max(size)) and height > width  # rotated after shrinking


def test_draft_request_is_the_final_size() -> None:
    assert thumbnails._draft_request((4032, 3024), 720) == (720, 540)
    assert thumbnails._draft_request((3024, 4032), 720) == (540, 720)
    assert thumbnails._draft_request((100_000, 10), 720) == (720, 1)
    assert thumbnails._draft_request((720, 300), 720) is None


def test_thumbnail_quality_close_to_full_lanczos(tmp_path: Path) -> None:
    """The cheap path (DCT scaling, box reduce, LANCZOS) looks like a full-resolution LANCZOS."""
    im = Image.radial_gradient("L").resize((3200, 2400)).convert("RGB")
    im = Image.merge("RGB", (im.getchannel(0), im.getchannel(0).rotate(90), im.getchannel(0)))
    path = tmp_path / "g.jpg"
    im.save(path, quality=95)
    reference = im.copy()
    reference.thumbnail((720, 720), Image.Resampling.LANCZOS, reducing_gap=None)
    data = make_thumbnail(path, JPEG)
    assert data is not None
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.size == reference.size
        diff = ImageChops.difference(thumb.convert("RGB"), reference)
        mean_error = sum(ImageStat.Stat(diff).mean) / 3
    assert mean_error < 2.0


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
    # 720 px from a full decode, or the phone's embedded 320-512 px preview
    assert 320 <= max(width, height) <= 720 and height > width


@pytest.mark.parametrize(
    ("relative", "thumb_size", "small"),
    [
        ("immich-test-assets/formats/motionphoto/samsung-one-ui-6.heic", (384, 512), (375, 500)),
        ("lychee-samples/tests/Samples/sewing-threads.heic", (512, 384), (500, 375)),
        ("photoprism/assets/examples/iphone_15_pro.heic", (240, 320), (225, 300)),  # irot too
    ],
)
def test_corpus_heic_embedded_thumbnail(
    corpus: Path, relative: str, thumb_size: tuple[int, int], small: tuple[int, int]
) -> None:
    """A HEIC's embedded thumbnail is decoded instead of the image when it is large enough."""
    path, fmt = corpus_file(corpus, relative)
    im, _ = thumbnails._open_image(path, max(small))
    assert im.size == thumb_size
    assert _size(make_thumbnail(path, fmt, max_px=max(small))) == small
    # at 720 px the embedded preview (>= HEIF_EMBEDDED_MIN_PX) is still preferred to a full
    # HEVC decode; below that size it is not
    im, _ = thumbnails._open_image(path, 720)
    assert im.size == thumb_size


def test_heic_without_a_large_enough_preview_is_fully_decoded(corpus: Path) -> None:
    path, _ = corpus_file(corpus, "photoprism/assets/examples/iphone_7.heic")
    im, _ = thumbnails._open_image(path, 720)
    assert max(im.size) > 3000


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
