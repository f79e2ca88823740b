"""A minimal, bounded ISO-BMFF/QuickTime reader: ``moov/mvhd`` creation time and duration.

Only the fallback for :mod:`photoark.media.video` when libmediainfo cannot be loaded. It
walks box headers with seeks (16 bytes per box) and reads just the ``mvhd`` payload, so a
video of any size costs a few KiB of reads.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

from photoark.media._bmff import find_box
from photoark.media.metadata import MediaMetadata

__all__ = ["read_mvhd"]

_EPOCH_1904 = -2082844800  # 1904-01-01T00:00:00Z in Unix seconds


def read_mvhd(path: Path, meta: MediaMetadata) -> None:
    """Fill ``taken_at``/``taken_at_utc``/``duration`` from ``moov/mvhd``."""
    try:
        with path.open("rb") as fh:
            end = fh.seek(0, 2)
            moov = find_box(fh, 0, end, b"moov")
            mvhd = find_box(fh, moov[0], moov[1], b"mvhd") if moov else None
            if mvhd is None:
                meta.warnings.append("mp4: no moov/mvhd box")
                return
            fh.seek(mvhd[0])
            payload = fh.read(min(mvhd[1] - mvhd[0], 32))
        if payload[:1] == b"\x01":
            created, _, scale, duration = struct.unpack_from(">QQIQ", payload, 4)
        else:
            created, _, scale, duration = struct.unpack_from(">IIII", payload, 4)
    except (OSError, struct.error) as err:
        meta.warnings.append(f"mp4: {type(err).__name__}: {err}")
        return
    if scale:
        meta.duration = round(duration / scale, 3)
    unix = created + _EPOCH_1904
    if created and unix > 0:
        meta.taken_at = datetime.fromtimestamp(unix, UTC).isoformat()
        meta.taken_at_utc = float(unix)
