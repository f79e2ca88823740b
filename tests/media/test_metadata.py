"""Metadata extraction: built files with known EXIF, hostile input, and the shared corpus."""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path

import pytest

from photoark.media import FORMATS, MediaMetadata, extract_metadata, sniff
from photoark.media.markers import apple_content_identifier, xmp_says_motion_photo
from photoark.media.video import parse_iso6709
from tests.media.builders import ExifSpec, corpus_file, jpeg_bytes, write_jpeg, write_png

JPEG = FORMATS["jpeg"]


def test_jpeg_with_full_exif(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "a.jpg", (64, 48), ExifSpec(orientation=6))
    meta = extract_metadata(path, JPEG)
    assert meta.taken_at == "2019-07-14T10:21:33+02:00"
    assert meta.taken_at_utc == datetime.fromisoformat("2019-07-14T08:21:33+00:00").timestamp()
    assert meta.make == "Photoark" and meta.model == "Builder 1"
    assert meta.orientation == 6
    assert (meta.width, meta.height) == (64, 48)
    assert meta.gps is not None
    assert meta.gps["lat"] == pytest.approx(48.8584, abs=1e-5)
    assert meta.gps["lon"] == pytest.approx(2.2945, abs=1e-5)
    assert meta.gps["alt"] == pytest.approx(35.0)
    assert meta.warnings == []


def test_southern_western_hemisphere_and_below_sea_level(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "a.jpg", exif=ExifSpec(gps=(-33.5, -70.25, -12.5)))
    gps = extract_metadata(path, JPEG).gps
    assert gps == {"lat": -33.5, "lon": -70.25, "alt": -12.5}


def test_without_offset_no_utc(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "a.jpg", exif=ExifSpec(offset=None, gps=None))
    meta = extract_metadata(path, JPEG)
    assert meta.taken_at == "2019-07-14T10:21:33"
    assert meta.taken_at_utc is None
    assert meta.gps is None


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_values(tmp_path: Path, orientation: int) -> None:
    path = write_jpeg(tmp_path / "a.jpg", exif=ExifSpec(orientation=orientation))
    assert extract_metadata(path, JPEG).orientation == orientation


def test_bad_values_become_warnings(tmp_path: Path) -> None:
    spec = ExifSpec(taken="0000:00:00 00:00:00", offset="+99:99", orientation=42)
    meta = extract_metadata(write_jpeg(tmp_path / "a.jpg", exif=spec), JPEG)
    assert meta.taken_at is None and meta.orientation is None
    assert any("DateTimeOriginal" in w for w in meta.warnings)
    assert any("orientation" in w for w in meta.warnings)


def test_png_without_exif(tmp_path: Path) -> None:
    meta = extract_metadata(write_png(tmp_path / "a.png", (40, 30)), FORMATS["png"])
    assert (meta.width, meta.height) == (40, 30)
    assert meta.taken_at is None and meta.warnings == []


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xd8\xff", b"hello", jpeg_bytes(exif=ExifSpec())[:300], b"\xff\xd8\xff\xe1" * 500],
)
@pytest.mark.parametrize("fmt", ["jpeg", "heic", "nef", "mp4", "mov", "webp"])
def test_garbage_never_raises(tmp_path: Path, content: bytes, fmt: str) -> None:
    path = tmp_path / "bad"
    path.write_bytes(content)
    meta = extract_metadata(path, FORMATS[fmt])
    assert isinstance(meta, MediaMetadata)
    if fmt != "mp4" and fmt != "mov":
        assert meta.warnings


def test_hostile_exif_ifd_pointer(tmp_path: Path) -> None:
    """An Exif APP1 whose IFD offsets point far outside the segment."""
    tiff = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHII", 0x8769, 4, 1, 0x7FFFFFF0) + b"\0\0\0\0"
    app1 = b"Exif\0\0" + tiff
    body = jpeg_bytes()
    path = tmp_path / "hostile.jpg"
    path.write_bytes(body[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + body[2:])
    meta = extract_metadata(path, JPEG)
    assert (meta.width, meta.height) == (64, 48)


def test_missing_file_is_a_warning(tmp_path: Path) -> None:
    meta = extract_metadata(tmp_path / "gone.jpg", JPEG)
    assert meta.warnings


def test_json_round_trip() -> None:
    meta = MediaMetadata(taken_at="2020-01-01T00:00:00", width=3, height=2, warnings=["x"])
    data = meta.to_json()
    assert "gps" not in data and "duration" not in data
    assert MediaMetadata.from_json({**data, "future_field": 1}) == meta
    assert "warnings" not in MediaMetadata().to_json()


def test_apple_maker_note() -> None:
    ident = b"E905E6C6-C747-4805-942F-9904A0281F02\0"
    ifd = struct.pack(">H", 1) + struct.pack(">HHII", 0x11, 2, len(ident), 14 + 2 + 12 + 4)
    note = b"Apple iOS\0" + b"\0\x01MM" + ifd + b"\0\0\0\0" + ident
    assert apple_content_identifier(note) == "E905E6C6-C747-4805-942F-9904A0281F02"
    assert apple_content_identifier(b"Nikon\0" + note) is None
    assert apple_content_identifier(note[:20]) is None


def test_xmp_motion_markers() -> None:
    assert xmp_says_motion_photo(b'<x GCamera:MotionPhoto="1"/>')
    assert xmp_says_motion_photo("<GCamera:MicroVideo>1</GCamera:MicroVideo>")
    assert not xmp_says_motion_photo(b'<x GCamera:MotionPhoto="0"/>')
    assert not xmp_says_motion_photo(None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+52.2097-000.8955+103.640/", {"lat": 52.2097, "lon": -0.8955, "alt": 103.64}),
        ("+51.4169-000.0806/", {"lat": 51.4169, "lon": -0.0806, "alt": None}),
        ("+4030.00-07400.00/", {"lat": 40.5, "lon": -74.0, "alt": None}),
        ("garbage", None),
        ("+95.0+000.0/", None),
    ],
)
def test_iso6709(text: str, expected: dict[str, float | None] | None) -> None:
    assert parse_iso6709(text) == expected


# --- the shared corpus ------------------------------------------------------------------


def _meta(corpus: Path, relative: str) -> MediaMetadata:
    return extract_metadata(*corpus_file(corpus, relative))


def _dms(text: str) -> float:
    d, m, s = (float(x) for x in text.replace("°", " ").replace("'", " ").replace('"', " ").split())
    return abs(d) + m / 60 + s / 3600  # some dumps also sign the degrees ("-6° 15'")


@pytest.mark.parametrize(
    "name", ["Apple iPhone 4", "Apple iPhone 6", "HTC Desire", "Nokia Lumia 800"]
)
def test_against_metadata_extractor_reference(corpus: Path, name: str) -> None:
    ref_path = corpus / "metadata-extractor-images/jpg/metadata/java" / f"{name}.jpg.txt"
    if not ref_path.exists():
        pytest.skip("no reference dump")
    ref: dict[str, str] = {}
    for line in ref_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("[") and " = " in line:
            key, _, value = line.partition(" = ")
            ref.setdefault(key.split("] ", 1)[1], value)
    meta = _meta(corpus, f"metadata-extractor-images/jpg/{name}.jpg")
    assert meta.make == ref["Make"] and meta.model == ref["Model"]
    if "Date/Time Original" in ref:
        assert meta.taken_at is not None
        assert meta.taken_at.replace("-", ":").replace("T", " ")[:19] == ref["Date/Time Original"]
    if "GPS Latitude" in ref:
        assert meta.gps is not None
        sign = -1 if ref["GPS Latitude Ref"] == "S" else 1
        assert meta.gps["lat"] == pytest.approx(sign * _dms(ref["GPS Latitude"]), abs=1e-4)
        sign = -1 if ref["GPS Longitude Ref"] == "W" else 1
        assert meta.gps["lon"] == pytest.approx(sign * _dms(ref["GPS Longitude"]), abs=1e-4)


def test_gps_samples(corpus: Path) -> None:
    folder = corpus / "exif-samples/jpg/gps"
    if not folder.is_dir():
        pytest.skip("no gps folder")
    for path in sorted(folder.glob("*.jpg")):
        meta = extract_metadata(path, JPEG)
        assert meta.gps is not None, path
        lat, lon = meta.gps["lat"], meta.gps["lon"]
        assert lat is not None and lon is not None, path
        assert 40 < lat < 50 and 10 < lon < 12.5  # Tuscany


@pytest.mark.parametrize("kind", ["landscape", "portrait"])
def test_orientation_set(corpus: Path, kind: str) -> None:
    for n in range(1, 9):
        assert _meta(corpus, f"exif-samples/jpg/orientation/{kind}_{n}.jpg").orientation == n


def test_live_photo_pair(corpus: Path) -> None:
    still = _meta(corpus, "lychee-samples/tests/Samples/train.jpg")
    motion = _meta(corpus, "lychee-samples/tests/Samples/train.mov")
    assert still.content_identifier == "E905E6C6-C747-4805-942F-9904A0281F02"
    assert motion.content_identifier == still.content_identifier
    assert still.taken_at == "2021-04-10T11:44:00+01:00"
    assert motion.taken_at_utc is not None and still.taken_at_utc is not None
    assert abs(motion.taken_at_utc - still.taken_at_utc) < 5
    assert motion.duration == pytest.approx(1.233, abs=0.01)


def test_heic_iphone(corpus: Path) -> None:
    meta = _meta(corpus, "photoprism/assets/examples/iphone_15_pro.heic")
    assert (meta.make, meta.model) == ("Apple", "iPhone 15 Pro")
    assert meta.taken_at == "2023-10-31T11:44:43+01:00"
    assert meta.gps is not None and meta.gps["lat"] == pytest.approx(52.4596, abs=1e-3)
    assert meta.orientation == 6 and (meta.width, meta.height) == (4032, 3024)


def test_heic_content_identifier(corpus: Path) -> None:
    meta = _meta(corpus, "metadata-extractor-images/heic/IMG_2927.HEIC")
    assert meta.content_identifier == "1745E022-9712-43C7-B024-F308EC6413CB"


def test_avif_dimensions(corpus: Path) -> None:
    meta = _meta(corpus, "immich-test-assets/formats/avif/8bit-sRGB.avif")
    assert (meta.width, meta.height) == (1617, 1080)


def test_samsung_motion_photo(corpus: Path) -> None:
    meta = _meta(corpus, "immich-test-assets/formats/motionphoto/samsung-one-ui-6.heic")
    assert meta.motion_photo
    assert meta.make == "samsung" and meta.taken_at == "2024-01-12T21:38:53-08:00"
    assert not _meta(corpus, "lychee-samples/tests/Samples/train.jpg").motion_photo


def test_mov_with_gps(corpus: Path) -> None:
    meta = _meta(corpus, "metadata-extractor-images/mov/with-gps.mov")
    assert meta.taken_at == "2019-07-24T11:25:40+03:00"
    assert meta.gps == {"lat": 32.0929, "lon": 34.862, "alt": 28.516}
    assert meta.duration == pytest.approx(4.0, abs=0.01)
    assert (meta.width, meta.height, meta.orientation) == (568, 320, 6)


def test_mp4_with_gps(corpus: Path) -> None:
    meta = _meta(corpus, "metadata-extractor-images/mp4/with-gps.mp4")
    assert meta.taken_at == "2017-02-22T08:20:28+00:00"  # matches the reference dump (AEDT)
    assert meta.taken_at_utc == datetime.fromisoformat(meta.taken_at).timestamp()
    assert meta.gps is not None and meta.gps["lat"] == pytest.approx(51.4169)


def test_raw_files(corpus: Path) -> None:
    dng = _meta(corpus, "photoprism/assets/examples/canon_eos_6d.dng")
    assert (dng.make, dng.model) == ("Canon", "Canon EOS 6D")
    assert dng.taken_at == "2019-06-06T07:29:51"
    assert dng.width and dng.height
    nef = _meta(corpus, "exiftool-t-images/t/images/Nikon.nef")
    assert nef.model == "NIKON D70"


def test_corrupt_corpus_files_warn(corpus: Path) -> None:
    corrupt = corpus / "neardup-imagededup/tests/data/mixed_images/ukbench09268_corrupt.jpg"
    if not corrupt.exists():
        pytest.skip("no corrupt sample")
    meta = extract_metadata(corrupt, JPEG)  # sniff says "not media"; force it anyway
    assert meta.warnings


def test_extract_whole_corpus(corpus_files: list[Path]) -> None:
    seen = 0
    for path in corpus_files:
        fmt = sniff(path)
        if fmt is None:
            continue
        meta = extract_metadata(path, fmt)
        MediaMetadata.from_json(meta.to_json())
        seen += 1
    assert seen > 250
