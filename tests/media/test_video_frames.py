"""Video frames: a key frame near 1 s, the fallbacks, the size, the rotation, the failures."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from photoark.media import FORMATS, render_thumbnail
from photoark.media import video_frames as vf
from tests.media.builders import corpus_file, write_video

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="no ffmpeg")
MP4 = FORMATS["mp4"]
RED, GREEN = "red", "green"  # the built clips: red before 1 s, green from 1 s on


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """The frame-extracting ffmpeg command lines run, in order (not those building clips)."""
    seen: list[list[str]] = []
    real = subprocess.run

    def recording(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        if "image2pipe" in cmd:
            seen.append(cmd)
        return real(cmd, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording)
    yield seen


def _colour(im: Image.Image) -> str:
    pixel = im.convert("RGB").getpixel((im.width // 2, im.height // 2))
    assert isinstance(pixel, tuple)
    red, green, _ = pixel
    assert max(red, green) > 200, pixel
    return RED if red > green else GREEN


def test_key_frame_at_one_second_first_try(tmp_path: Path, runs: list[list[str]]) -> None:
    path = write_video(tmp_path / "gop1s.mp4", 3.0, 10)  # key frames at 0, 1, 2 s
    im = vf.video_frame(path, 720)
    assert _colour(im) == GREEN and im.size == (320, 240) and im.format == "PPM"
    assert len(runs) == 1 and "nokey" in runs[0]


def test_long_gop_gives_the_first_key_frame(tmp_path: Path, runs: list[list[str]]) -> None:
    path = write_video(tmp_path / "longgop.mp4", 3.0, 1000)  # one key frame, at 0 s
    assert _colour(vf.video_frame(path, 720)) == RED
    assert len(runs) == 2 and "-ss" not in runs[1]


def test_shorter_than_one_second(tmp_path: Path) -> None:
    path = write_video(tmp_path / "short.mp4", 0.5, 10)
    assert _colour(vf.video_frame(path, 720)) == RED
    result = render_thumbnail(path, MP4)
    assert result.data is not None


def test_exact_seek_is_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runs: list[list[str]]
) -> None:
    """When the key-frame tries give nothing, the exact seek to 1 s still does."""
    path = write_video(tmp_path / "v.mp4", 3.0, 1000)
    nothing = ("-ss", "100")  # past the end: no frame, like a stream without key-frame flags
    monkeypatch.setattr(vf, "SEEKS", (nothing, nothing, *vf.SEEKS[2:]))
    assert _colour(vf.video_frame(path, 720)) == GREEN  # decoded up to 1 s, not a key frame
    assert len(runs) == 3


@pytest.mark.parametrize(
    ("size", "max_px", "expected"),
    [
        ("1280x720", 720, (720, 405)),
        ("1280x720", 100, (100, 56)),
        ("320x240", 720, (320, 240)),  # never enlarged
        ("240x320", 720, (240, 320)),
    ],
)
def test_scaled_by_ffmpeg_never_up(
    tmp_path: Path, size: str, max_px: int, expected: tuple[int, int]
) -> None:
    path = write_video(tmp_path / "v.mp4", 1.5, 10, size)
    assert vf.video_frame(path, max_px).size == expected


def test_rotation_applied_before_scaling(tmp_path: Path) -> None:
    plain = write_video(tmp_path / "plain.mp4", 1.5, 10, "640x360")
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-y", "-i", str(plain), "-c", "copy"),
            *("-metadata:s:v:0", "rotate=90", str(rotated)),
        ],
        check=True,
        capture_output=True,
    )
    assert vf.video_frame(rotated, 320).size == (180, 320)


@pytest.mark.parametrize(
    "relative",
    [
        "photoprism/pkg/media/video/testdata/quicktime-hvc1.mov",  # HEVC, rotation -90
        "metadata-extractor-images/mov/with-gps.mov",  # H.264, rotation -90
    ],
)
def test_corpus_rotated_videos_are_portrait(corpus: Path, relative: str) -> None:
    path, fmt = corpus_file(corpus, relative)
    data = render_thumbnail(path, fmt).data
    assert data is not None
    with Image.open(io.BytesIO(data)) as im:
        assert im.height > im.width and max(im.size) <= 720


@pytest.mark.parametrize(
    ("relative", "size"),
    [
        ("metadata-extractor-images/mp4/with-gps.mp4", (720, 405)),  # 0.17 s, 1080p
        ("photoprism/assets/examples/christmas.mp4", (640, 416)),  # 0.81 s
        ("lychee-samples/tests/Samples/train.mov", (720, 540)),  # a Live Photo's video
        ("metadata-extractor-images/mp4/sample_mpeg4.mp4", (190, 240)),  # MPEG-4 part 2
    ],
)
def test_corpus_videos(corpus: Path, relative: str, size: tuple[int, int]) -> None:
    path, fmt = corpus_file(corpus, relative)
    data = render_thumbnail(path, fmt).data
    assert data is not None
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == size and im.format == "JPEG"


def test_undecodable_video_reports_why(tmp_path: Path, runs: list[list[str]]) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(vf.NoVideoFrame, match="ffmpeg could not extract a frame"):
        vf.video_frame(path, 720)
    assert len(runs) == 2 and runs[-1][runs[-1].index("-i") - 1] == "error"  # then plain
    result = render_thumbnail(path, MP4)
    assert result.data is None and result.error and "ffmpeg" in result.error


def test_relative_name_with_a_colon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``concat:clip.mp4`` is a file, not ffmpeg's concat protocol reading ``clip.mp4``."""
    write_video(tmp_path / "concat:clip.mp4", 1.5, 10)
    monkeypatch.chdir(tmp_path)
    assert vf.video_frame(Path("concat:clip.mp4"), 720).size == (320, 240)


def test_corpus_stub_video_reports_why(corpus: Path) -> None:
    path, fmt = corpus_file(corpus, "exiftool-t-images/t/images/QuickTime.mov")
    result = render_thumbnail(path, fmt)
    assert result.data is None and result.error and "could not extract" in result.error


def test_timeout_is_no_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_video(tmp_path / "v.mp4", 1.0, 10)

    def slow(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    monkeypatch.setattr(subprocess, "run", slow)
    with pytest.raises(vf.NoVideoFrame, match="timed out"):
        vf.video_frame(path, 720)


def test_without_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(vf.NoVideoFrame, match="ffmpeg not on PATH"):
        vf.video_frame(tmp_path / "v.mp4", 720)
