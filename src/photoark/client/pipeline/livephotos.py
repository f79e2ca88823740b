"""Apple Live Photos: a still and a video with one basename in one folder, paired when both
carry the same ContentIdentifier, backed up as ONE library item of type ``live``.

The item's content is the still's bytes followed by the video's (one encrypted stream, so no
size cap on either and the usual resumable upload); its metadata lists the ``parts`` (name,
size, BLAKE3 of each) and its ``hash`` is ``"<stillHash>:<videoHash>"``, the dedup key.
Export splits the stream back into both files and checks each part's hash.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from photoark.client.library.records import display_name
from photoark.client.pipeline.scanner import Found
from photoark.media import extract_metadata, sniff
from photoark.protocol.metadata import LivePart

__all__ = [
    "LivePair",
    "live_parts",
    "pair_key",
    "pair_live_photos",
]


@dataclass(frozen=True)
class LivePair:
    still: Found
    video: Found
    content_identifier: str


def _identifier(found: Found, kind: str) -> str | None:
    fmt = sniff(found.path)
    if fmt is None or fmt.kind != kind:
        return None
    try:
        return extract_metadata(found.path, fmt).content_identifier
    except Exception:  # an unreadable candidate is simply not paired
        return None


def pair_key(path: str) -> tuple[str, str]:
    """(folder, case-folded basename without extension): a Live Photo's two files share it.
    Plain string splits: this runs over every file of every backup."""
    folder, _, name = path.rpartition(os.sep)
    stem = name.rpartition(".")[0] or name
    return folder, stem.casefold()


def pair_live_photos(
    found: Sequence[Found], settled: Callable[[Found, Found], bool] = lambda a, b: False
) -> tuple[list[Found], list[LivePair], list[tuple[Found, Found]]]:
    """Split ``found`` into single files, Live Photo pairs, and pairs already backed up.

    Candidates are exactly two files sharing a folder and a basename (case-insensitive), one
    sniffed as an image and one as a video; they pair only when both carry the same Apple
    ContentIdentifier. Everything else stays a single file. ``settled(still, video)`` is asked
    first, for both orders: true means the pair is unchanged and backed up (the caller knows
    from its stat cache), and it is returned as such without opening either file, so an
    unchanged re-run reads nothing.
    """
    groups: dict[tuple[str, str], list[Found]] = defaultdict(list)
    for item in found:
        groups[pair_key(item.path)].append(item)
    pairs: list[LivePair] = []
    known: list[tuple[Found, Found]] = []
    paired: set[str] = set()
    for members in groups.values():
        if len(members) != 2:
            continue
        done = next(((a, b) for a, b in (members, members[::-1]) if settled(a, b)), None)
        if done is not None:
            known.append(done)
            paired.update(m.path for m in members)
            continue
        for still, video in (members, members[::-1]):
            still_id = _identifier(still, "image")
            if still_id is None:
                continue
            if _identifier(video, "video") == still_id:
                pairs.append(LivePair(still, video, still_id))
                paired.update((still.path, video.path))
            break
    return [item for item in found if item.path not in paired], pairs, known


def live_parts(pair: LivePair, still_hash: str, video_hash: str) -> list[LivePart]:
    """The ``parts`` metadata of a pair, in stream order."""
    return [
        LivePart.model_validate(
            {
                **display_name(f.path),
                "size": f.stat.st_size,
                "hash": h,
                "mtime_ns": f.stat.st_mtime_ns,
            }
        )
        for f, h in ((pair.still, still_hash), (pair.video, video_hash))
    ]
