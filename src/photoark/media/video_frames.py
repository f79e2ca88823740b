"""One still frame of a video, small, from ``ffmpeg``: what a video's thumbnail is made of.

The frame shown is a key frame near 1 s, found cheaply; the seeks tried, in order:

1. the first key frame at or after 1 s: the demuxer drops every other packet
   (``-discard nokey``) and the decoder decodes key frames only (``-skip_frame nokey``);
   ``-noaccurate_seek`` jumps to the key frame before 1 s and the frames before 1 s are
   dropped, so a clip whose only key frame is its first gives nothing here, fast;
2. the first key frame (a video shorter than 1 s, or one long group of pictures);
3. the old exact seek to 1 s, every frame decoded from the key frame before it (a stream
   whose container marks no key frames);
4. the first frame; ffmpeg failing outright (an exit status, not merely no frame where it
   looked) skips straight to this try, so an unreadable video costs two runs, as before.

An exact seek decoded every frame from the key frame before 1 s: ~1.4 s for a lossless 1080p
clip whose key frame is its first, against ~0.17 s for that key frame alone. The price: a
long-GOP video shows its first key frame, possibly a black fade-in, where the exact seek gave
the picture at 1 s (phones write a key frame about every second).

ffmpeg scales the frame down to the thumbnail's size, after its autorotation (the rotation
matrix of MOV/MP4), never up, and hands it over uncompressed (PPM): the full-size PNG it used
to encode (~0.7 s for a noisy 1080p frame) cost more than the decode.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from pathlib import Path

from PIL import Image

__all__ = ["FFMPEG_TIMEOUT", "SEEKS", "NoVideoFrame", "video_frame"]

FFMPEG_TIMEOUT = 60.0
"""Seconds one ffmpeg run may take; all the tries of one video together take at most twice
that (the two runs of the former exact seek then first frame), then it counts as undecodable."""

SEEKS: tuple[tuple[str, ...], ...] = (
    ("-discard", "nokey", "-skip_frame", "nokey", "-noaccurate_seek", "-ss", "1"),
    ("-discard", "nokey", "-skip_frame", "nokey"),
    ("-ss", "1"),
    (),
)
"""ffmpeg input options of each try, in order (see the module's docstring)."""


class NoVideoFrame(Exception):
    """No frame could be had: no ffmpeg, a timeout, or a video ffmpeg cannot decode."""


def video_frame(path: Path, max_px: int) -> Image.Image:
    """A frame of the video at ``path``, upright, at most ``max_px`` on its long side.

    Raises :class:`NoVideoFrame` (the message says why) when there is none.
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise NoVideoFrame("ffmpeg not on PATH: no video thumbnails")
    # min(): never enlarge a video smaller than the thumbnail
    scale = f"scale=w='min(iw,{max_px})':h='min(ih,{max_px})':force_original_aspect_ratio=decrease"
    deadline = time.monotonic() + 2 * FFMPEG_TIMEOUT
    stderr = b""
    tries = list(SEEKS)
    while tries:
        seek = tries.pop(0)
        # file: so that a name with a colon is not taken for a protocol
        cmd = [ffmpeg, "-nostdin", "-v", "error", *seek, "-i", f"file:{path}", "-an", "-sn", "-dn"]
        cmd += ["-frames:v", "1", "-vf", scale, "-f", "image2pipe", "-c:v", "ppm", "-"]
        timeout = min(FFMPEG_TIMEOUT, deadline - time.monotonic())
        try:
            if timeout <= 0:
                raise subprocess.TimeoutExpired(cmd, 0)
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as err:
            raise NoVideoFrame("ffmpeg timed out") from err
        if done.returncode == 0 and done.stdout:
            return Image.open(io.BytesIO(done.stdout))
        stderr = done.stderr or stderr
        if done.returncode != 0:  # an error, not just no frame there: the plainest try is left
            tries = tries[-1:]
    raise NoVideoFrame(f"ffmpeg could not extract a frame: {stderr[-300:]!r}")
