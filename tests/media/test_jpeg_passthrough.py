"""A small JPEG as its own thumbnail: metadata really gone, pixels unchanged, doubt refused."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from photoark.media import FORMATS, render_thumbnail
from photoark.media import jpeg_passthrough as jp
from tests.media.builders import ExifSpec, corpus_file, photo_jpeg_bytes

JPEG = FORMATS["jpeg"]
_GPS_EXIF = ExifSpec(orientation=1, gps=(48.8584, 2.2945, 35.0)).to_exif().tobytes()
_XMP = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF>secret-xmp-place</rdf:RDF></x:xmpmeta>"
_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
_KEPT = {0xD8, 0xD9, 0xC0, 0xC1, 0xC2, 0xC4, 0xDB, 0xDD, 0xDA, 0xE0, 0xEE}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _with_everything(progressive: bool = False) -> bytes:
    return photo_jpeg_bytes(
        exif=_GPS_EXIF,
        xmp=_XMP,
        icc_profile=_ICC,
        comment=b"secret comment",
        progressive=progressive,
    )


def _markers(data: bytes) -> list[int]:
    """The markers of ``data``'s segments, scan data skipped (progressive scans included)."""
    found, pos = [0xD8], 2
    while True:
        marker = data[pos + 1]
        found.append(marker)
        if marker == 0xD9:
            return found
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:
            match = jp._SCAN_END.search(data, end)
            assert match is not None
            end = match.start()
        pos = end


def _pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        return im.tobytes()


@pytest.mark.parametrize("progressive", [False, True])
def test_metadata_gone_pixels_identical(tmp_path: Path, progressive: bool) -> None:
    original = _with_everything(progressive=progressive)
    assert b"Exif\x00\x00" in original and b"secret-xmp" in original and b"ICC_PROFILE" in original
    thumb = jp.passthrough_thumbnail(_write(tmp_path / "p.jpg", original), 720)
    assert thumb is not None and len(thumb) < len(original)
    for secret in (b"Exif", b"GPS", b"secret-xmp", b"adobe:ns:meta", b"ICC_PROFILE", b"secret"):
        assert secret not in thumb
    assert set(_markers(thumb)) <= _KEPT
    with Image.open(io.BytesIO(thumb)) as im:
        assert not im.getexif() and im.format == "JPEG"
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(im.info)
        assert im.info.get("progressive", 0) == int(progressive)
    assert _pixels(thumb) == _pixels(original)


def test_render_thumbnail_passes_it_through(tmp_path: Path) -> None:
    original = _with_everything()
    result = render_thumbnail(_write(tmp_path / "p.jpg", original), JPEG)
    assert result.data is not None
    # not a re-encode: the scan is the original's, byte for byte
    assert result.data[result.data.index(b"\xff\xda") :] == original[original.index(b"\xff\xda") :]


def test_segments_between_progressive_scans_dropped(tmp_path: Path) -> None:
    original = photo_jpeg_bytes(progressive=True)
    second_scan = original.index(b"\xff\xda", original.index(b"\xff\xda") + 2)
    secret = b"\xff\xfe\x00\x0asecret!!" + b"\xff\xe1\x00\x0eExif\x00\x00GPS!!!"
    doctored = original[:second_scan] + secret + original[second_scan:]
    thumb = jp.passthrough_thumbnail(_write(tmp_path / "p.jpg", doctored), 720)
    assert thumb == original  # the inserted comment and APP1 are all that went
    assert _pixels(doctored) == _pixels(thumb)


def test_jfif_preview_dropped() -> None:
    original = photo_jpeg_bytes((64, 48))
    assert original[2:4] == b"\xff\xe0"  # Pillow's own JFIF APP0, replaced below
    preview = bytes(range(256)) * 3  # a 16x16 RGB preview
    app0 = b"JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x10\x10" + preview
    segment = b"\xff\xe0" + (len(app0) + 2).to_bytes(2, "big") + app0
    doctored = original[:2] + segment + original[4 + int.from_bytes(original[4:6], "big") :]
    assert _pixels(doctored) == _pixels(original)
    stripped = jp.strip_metadata(doctored)
    assert stripped is not None and (stripped.width, stripped.height) == (64, 48)
    header = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x00\x00"
    assert stripped.data.startswith(header) and preview[:64] not in stripped.data
    assert _pixels(stripped.data) == _pixels(original)


def test_grayscale_and_adobe_rgb_pass(tmp_path: Path) -> None:
    gray = photo_jpeg_bytes(mode="L")
    thumb = jp.passthrough_thumbnail(_write(tmp_path / "g.jpg", gray), 720)
    assert thumb is not None and _pixels(thumb) == _pixels(gray)
    # 3 components stored as RGB, which only the Adobe APP14 says: it must be kept
    with Image.open(io.BytesIO(photo_jpeg_bytes())) as im:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=80, keep_rgb=True)
    rgb = buf.getvalue()
    assert b"Adobe" in rgb
    thumb = jp.passthrough_thumbnail(_write(tmp_path / "rgb.jpg", rgb), 720)
    assert thumb is not None and b"Adobe" in thumb and _pixels(thumb) == _pixels(rgb)


def _noise_jpeg(size: tuple[int, int], quality: int) -> bytes:
    rnd = random.Random(7)
    im = Image.frombytes("RGB", size, rnd.randbytes(size[0] * size[1] * 3))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _mpo() -> bytes:
    first = Image.open(io.BytesIO(photo_jpeg_bytes()))
    buf = io.BytesIO()
    first.save(buf, "MPO", save_all=True, append_images=[first.copy()], quality=80)
    return buf.getvalue()


def _cmyk() -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(photo_jpeg_bytes())).convert("CMYK").save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _bad_huffman_table() -> bytes:
    data = bytearray(photo_jpeg_bytes())
    table = data.index(b"\xff\xc4")
    data[table + 5 : table + 21] = bytes([255] * 16)  # code counts no Huffman table can have
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(photo_jpeg_bytes(exif=ExifSpec(orientation=6).to_exif()), id="orientation 6"),
        pytest.param(photo_jpeg_bytes(exif=ExifSpec(orientation=3).to_exif()), id="orientation 3"),
        pytest.param(_cmyk(), id="CMYK"),
        pytest.param(_mpo(), id="MPO"),
        pytest.param(photo_jpeg_bytes((721, 400)), id="larger than the thumbnail"),
        pytest.param(photo_jpeg_bytes(quality=95), id="finer than quality 85"),
        pytest.param(_noise_jpeg((400, 300), 80), id="over the bytes-per-pixel cap"),
        pytest.param(photo_jpeg_bytes()[:-2000], id="truncated"),
        pytest.param(photo_jpeg_bytes()[:-2], id="no EOI"),
        pytest.param(photo_jpeg_bytes() + b"MotionPhoto_Data" + bytes(64), id="trailer after EOI"),
        pytest.param(_bad_huffman_table(), id="undecodable Huffman table"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(100), id="not a JPEG"),
        pytest.param(
            photo_jpeg_bytes().replace(b"\xff\xc0", b"\xff\xc9", 1), id="arithmetic coding"
        ),
    ],
)
def test_doubt_takes_the_normal_path(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path / "x.jpg", data)
    assert jp.passthrough_thumbnail(path, 720) is None
    result = render_thumbnail(path, JPEG)
    if result.data is not None:  # re-encoded: quality 80, no metadata, fits
        with Image.open(io.BytesIO(result.data)) as im:
            assert max(im.size) <= 720 and not im.getexif()


def test_orientation_six_is_rotated_not_passed(tmp_path: Path) -> None:
    path = _write(tmp_path / "o.jpg", photo_jpeg_bytes(exif=ExifSpec(orientation=6).to_exif()))
    data = render_thumbnail(path, JPEG).data
    assert data is not None
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (480, 640)
        top_right = im.convert("RGB").getpixel((470, 10))  # the red corner, turned clockwise
    assert isinstance(top_right, tuple) and top_right[0] > 200 and top_right[1] < 60


def test_max_px_is_the_limit(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.jpg", photo_jpeg_bytes((640, 480)))
    assert jp.passthrough_thumbnail(path, 640) is not None
    assert jp.passthrough_thumbnail(path, 639) is None


def test_luma_table_measure() -> None:
    assert jp.ijg_luma_sum(80) > jp.ijg_luma_sum(85) > jp.ijg_luma_sum(90)
    for quality, passes in ((75, True), (85, True), (86, False), (95, False)):
        with Image.open(io.BytesIO(photo_jpeg_bytes((64, 48), quality))) as im:
            luma = getattr(im, "quantization", {})[0]
        assert (sum(luma) >= jp.ijg_luma_sum(jp.PASSTHROUGH_MAX_QUALITY)) is passes, quality


def test_corpus_small_jpeg_passes(corpus: Path) -> None:
    path, fmt = corpus_file(
        corpus, "neardup-imagehash-php/tests/images/orientation/match-r0-f0.jpg"
    )
    original = path.read_bytes()
    thumb = jp.passthrough_thumbnail(path, 720)
    assert thumb is not None and render_thumbnail(path, fmt).data == thumb
    assert _pixels(thumb) == _pixels(original)


def test_corpus_gps_jpeg_stripped(corpus: Path, tmp_path: Path) -> None:
    """A real camera JPEG with GPS, re-saved at quality 80 with its EXIF: none of it is left."""
    path, _ = corpus_file(corpus, "exif-samples/jpg/gps/DSCN0010.jpg")
    with Image.open(path) as im:
        assert im.getexif().get_ifd(0x8825)  # it has GPS
        exif = im.info["exif"]
        im.thumbnail((640, 640))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=80, exif=exif)
    resaved = _write(tmp_path / "gps.jpg", buf.getvalue())
    thumb = jp.passthrough_thumbnail(resaved, 720)
    assert thumb is not None and b"Exif" not in thumb and b"NIKON" not in thumb
    assert _pixels(thumb) == _pixels(buf.getvalue())


def test_corpus_jpeg_cut_short(corpus: Path, tmp_path: Path) -> None:
    path, _ = corpus_file(corpus, "neardup-imagehash-php/tests/images/orientation/match-r0-f0.jpg")
    data = path.read_bytes()
    half = data[: len(data) // 2]
    for cut in (half, half + bytes(len(data) - len(half))):  # cut, or zero-filled to its size
        assert jp.passthrough_thumbnail(_write(tmp_path / "cut.jpg", cut), 720) is None
    # cut, then given an end marker: libjpeg decodes the rest as grey with only a warning, the
    # normal path would show the same picture; the pass-through shows exactly that
    ended = half + b"\xff\xd9"
    thumb = jp.passthrough_thumbnail(_write(tmp_path / "ended.jpg", ended), 720)
    assert thumb is not None and _pixels(thumb) == _pixels(ended)


def _upright_coarse_both_ways(data: bytes) -> tuple[bool, bool] | None:
    """The pass-through's upright-and-coarse answer from the header walk and from Pillow's
    ``Image.open``, for a JPEG :func:`~.jp.strip_metadata` takes (else ``None``)."""
    stripped = jp.strip_metadata(data)
    if stripped is None:
        return None
    return jp._upright_and_coarse(data, stripped.luma_sum), jp._upright_and_coarse_by_pillow(data)


@pytest.mark.parametrize("quality", [75, 85, 86, 95])
@pytest.mark.parametrize("orientation", [None, 1, 6])
def test_upright_and_coarse_as_pillow_decides(quality: int, orientation: int | None) -> None:
    exif = ExifSpec(orientation=orientation).to_exif()
    for progressive in (False, True):
        data = photo_jpeg_bytes((96, 72), quality, exif=exif, progressive=progressive)
        both = _upright_coarse_both_ways(data)
        assert both is not None and both[0] == both[1], (quality, orientation, progressive)
        assert both[0] is (orientation in (None, 1) and quality <= jp.PASSTHROUGH_MAX_QUALITY)


def test_upright_and_coarse_as_pillow_decides_on_mutants_and_the_corpus(
    corpus_files: list[Path],
) -> None:
    """Every header byte of a built JPEG flipped, and every corpus JPEG the walk takes."""
    data = photo_jpeg_bytes((96, 72), 80, exif=ExifSpec(orientation=1).to_exif())
    samples = [data]
    end = data.index(b"\xff\xda")
    for pos in range(2, end):
        mutant = bytearray(data)
        mutant[pos] ^= 0x04
        samples.append(bytes(mutant))
    samples += [p.read_bytes() for p in corpus_files if p.suffix.lower() in (".jpg", ".jpeg")]
    compared = 0
    for sample in samples:
        both = _upright_coarse_both_ways(sample)
        if both is not None:
            assert both[0] == both[1]
            compared += 1
    assert compared > 100


def test_an_orientation_pillow_cannot_decode_is_rendered_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An EXIF tag is decoded when it is read: if that raises, the pass-through asks Pillow
    (which refuses), and the picture is rendered the normal way."""
    data = photo_jpeg_bytes((96, 72), 80, exif=ExifSpec(orientation=1).to_exif())

    def broken(self: Image.Exif, key: int, default: object = None) -> object:
        raise SyntaxError("bad tag")

    monkeypatch.setattr(Image.Exif, "get", broken, raising=False)
    path = _write(tmp_path / "a.jpg", data)
    assert jp.passthrough_thumbnail(path, 720) is None
    result, stripped = render_thumbnail(path, JPEG), jp.strip_metadata(data)
    assert stripped is not None and result.data is not None and result.data != stripped.data
