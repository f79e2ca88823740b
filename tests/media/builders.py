"""Importable builders of small media files, so the tests mean something without the corpus."""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops
from PIL.TiffImagePlugin import IFDRational

from photoark.media import MediaFormat, sniff

__all__ = [
    "ExifSpec",
    "corpus_dir",
    "corpus_file",
    "jpeg_bytes",
    "photo_jpeg_bytes",
    "write_jpeg",
    "write_png",
    "write_video",
]


def corpus_dir() -> Path:
    """The shared test corpus: ``../shared/corpus`` from the repository root."""
    repo_root = Path(__file__).resolve().parents[2]
    return (repo_root / ".." / "shared" / "corpus").resolve()


def corpus_file(corpus: Path, relative: str) -> tuple[Path, MediaFormat]:
    """A corpus file and its sniffed format; skips the test when the file is absent."""
    path = corpus / relative
    if not path.exists():
        pytest.skip(f"{relative} not in this corpus")
    fmt = sniff(path)
    assert fmt is not None, relative
    return path, fmt


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return (
        IFDRational(degrees, 1),
        IFDRational(minutes, 1),
        IFDRational(int(seconds * 10000), 10000),
    )


@dataclass
class ExifSpec:
    """EXIF to write into a built JPEG; ``None`` fields are left out."""

    make: str | None = "Photoark"
    model: str | None = "Builder 1"
    orientation: int | None = 1
    taken: str | None = "2019:07:14 10:21:33"
    offset: str | None = "+02:00"
    gps: tuple[float, float, float] | None = (48.8584, 2.2945, 35.0)

    def to_exif(self) -> Image.Exif:
        exif = Image.Exif()
        if self.make:
            exif[0x010F] = self.make
        if self.model:
            exif[0x0110] = self.model
        if self.orientation is not None:
            exif[0x0112] = self.orientation
        sub = exif.get_ifd(0x8769)
        if self.taken:
            sub[0x9003] = self.taken
        if self.offset:
            sub[0x9011] = self.offset
        if self.gps:
            lat, lon, alt = self.gps
            gps = exif.get_ifd(0x8825)
            gps[1] = "N" if lat >= 0 else "S"
            gps[2] = _dms(lat)
            gps[3] = "E" if lon >= 0 else "W"
            gps[4] = _dms(lon)
            gps[5] = b"\x00" if alt >= 0 else b"\x01"
            gps[6] = IFDRational(int(abs(alt) * 100), 100)
        return exif


def jpeg_bytes(size: tuple[int, int] = (64, 48), exif: ExifSpec | None = None) -> bytes:
    """A JPEG with a left-half-red, right-half-blue picture and the given EXIF."""
    im = Image.new("RGB", size, (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    buf = io.BytesIO()
    if exif is None:
        im.save(buf, "JPEG", quality=90)
    else:
        im.save(buf, "JPEG", quality=90, exif=exif.to_exif())
    return buf.getvalue()


def write_jpeg(path: Path, size: tuple[int, int] = (64, 48), exif: ExifSpec | None = None) -> Path:
    path.write_bytes(jpeg_bytes(size, exif))
    return path


def write_png(path: Path, size: tuple[int, int] = (40, 30)) -> Path:
    Image.new("RGBA", size, (0, 128, 0, 128)).save(path, "PNG")
    return path


def photo_jpeg_bytes(
    size: tuple[int, int] = (640, 480), quality: int = 80, mode: str = "RGB", **save: Any
) -> bytes:
    """A photo-like JPEG (smooth gradients and mild grain: ~0.1-0.2 bytes per pixel at
    quality 80), red at the top left; ``save`` goes to Pillow (exif, xmp, icc_profile,
    comment, progressive, subsampling...)."""
    width, height = size
    gradient = Image.linear_gradient("L").resize(size)
    im = Image.merge(
        "RGB",
        (
            gradient,
            gradient.transpose(Image.Transpose.ROTATE_90).resize(size),
            gradient.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        ),
    )
    im = ImageChops.add(im, Image.effect_noise(size, 6).convert("RGB"), offset=-100)
    im.paste((255, 0, 0), (0, 0, width // 4, height // 4))
    buf = io.BytesIO()
    im.convert(mode).save(buf, "JPEG", quality=quality, **save)
    return buf.getvalue()


def write_video(path: Path, seconds: float = 3.0, gop: int = 10, size: str = "320x240") -> Path:
    """An H.264 MP4 at 10 fps made by ffmpeg's lavfi: red before 1 s, green from 1 s on, a key
    frame every ``gop`` frames."""
    picture = (
        f"color=c=black:s={size}:r=10:d={seconds},"
        "geq=r='if(lt(T,1),255,0)':g='if(gte(T,1),255,0)':b=0"
    )
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", picture]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop), "-pix_fmt", "yuv420p"]
    subprocess.run([*cmd, str(path)], check=True, capture_output=True)
    return path
