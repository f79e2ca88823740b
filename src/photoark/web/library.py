"""The library as the pages show it: the timeline (every live photo once, newest first,
grouped by month), one photo's facts with its neighbours, the albums, and a picture the
browser can show for formats it cannot decode (HEIC, RAW, TIFF)."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from photoark.client.errors import ClientError
from photoark.client.session import Session
from photoark.client.state.mirror import LibraryFile, Mirror
from photoark.media.formats import get_format
from photoark.media.thumbnails import render_thumbnail
from photoark.web.cache import OriginalCache

__all__ = [
    "BROWSER_IMAGES",
    "Displayed",
    "NotFound",
    "Timeline",
    "Timelines",
    "albums",
    "display",
    "file_or_404",
    "photo_details",
    "photo_facts",
    "timeline",
    "timeline_order",
]

BROWSER_IMAGES: Final = frozenset({"jpeg", "png", "gif", "webp", "avif", "bmp"})
DISPLAY_MAX_PX: Final = 2560
_KIND: Final = {"image": "i", "video": "v", "live": "l"}


class NotFound(ClientError):
    """No live photo (or album) with that id in this library."""


def file_or_404(mirror: Mirror, file_id: int) -> LibraryFile:
    f = mirror.file(file_id)
    if f is None or f.is_trashed:
        raise NotFound(f"no photo {file_id} in the library", "it may have been deleted")
    return f


def _sort_key(taken_at: str | None, when: float) -> str:
    """The time a photo shows, as the camera wrote it (local); else ``when``, local."""
    if taken_at:
        return taken_at[:19]
    return datetime.fromtimestamp(when).strftime("%Y-%m-%dT%H:%M:%S")


def timeline_order(mirror: Mirror, album_id: int | None = None) -> list[tuple[str, int, str, bool]]:
    """``(sort key, id, kind, has thumbnail)`` of every live file, newest first."""
    rows = [(_sort_key(t, w), i, k, n) for i, k, t, w, n in mirror.timeline_rows(album_id)]
    rows.sort(reverse=True)
    return rows


def timeline(mirror: Mirror, album_id: int | None = None) -> dict[str, Any]:
    """``{"count", "months": [{"key": "2024-05", "label": "May 2024", "items": [[id, kind]]}]}``
    where kind is ``i`` (photo), ``v`` (video) or ``l`` (Live Photo), in capitals when the file
    has no thumbnail (the page shows a placeholder instead of asking for one)."""
    if album_id is not None and mirror.album(album_id) is None:
        raise NotFound(f"no album {album_id}")
    months: list[dict[str, Any]] = []
    count = 0
    for key, file_id, kind, thumbnail in timeline_order(mirror, album_id):
        month = key[:7]
        if not months or months[-1]["key"] != month:
            months.append({"key": month, "label": _month_label(month), "items": []})
        letter = _KIND.get(kind, "i")
        months[-1]["items"].append([file_id, letter if thumbnail else letter.upper()])
        count += 1
    return {"count": count, "months": months}


@dataclass(frozen=True)
class Timeline:
    """One timeline, made once per mirror version: its JSON (what ``/api/timeline`` sends) and
    each id's position (a photo view's neighbours)."""

    ids: list[int]
    position: dict[int, int]
    body: bytes


class Timelines:
    """The timelines asked for lately (the library's, an album's), kept until the mirror's
    version changes: scrolling pages and arrow keys never sort 20 000 photos again."""

    def __init__(self, keep: int = 8) -> None:
        self._keep = keep
        self._made: OrderedDict[tuple[int | None, int], Timeline] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, mirror: Mirror, album_id: int | None = None) -> Timeline:
        key = (album_id, mirror.sync_version())
        with self._lock:
            made = self._made.get(key)
            if made is not None:
                self._made.move_to_end(key)
                return made
        shown = timeline(mirror, album_id)
        ids = [item[0] for month in shown["months"] for item in month["items"]]
        made = Timeline(ids, {i: n for n, i in enumerate(ids)}, json.dumps(shown).encode())
        with self._lock:
            self._made[key] = made
            while len(self._made) > self._keep:
                self._made.popitem(last=False)
        return made


def _month_label(month: str) -> str:
    try:
        return datetime.strptime(month, "%Y-%m").strftime("%B %Y")
    except ValueError:
        return "Unknown date"


def albums(mirror: Mirror) -> list[dict[str, Any]]:
    counts, covers = mirror.album_file_counts(), mirror.album_covers()
    return [
        {"id": a.id, "name": a.name, "files": counts.get(a.id, 0), "cover": covers.get(a.id)}
        for a in mirror.albums()
    ]


def photo_facts(mirror: Mirror, f: LibraryFile, album_names: dict[int, str]) -> dict[str, Any]:
    """What a page shows of one file, and what a review compares."""
    meta = f.metadata
    gps = meta.gps or {}
    lat, lon = gps.get("lat"), gps.get("lon")
    camera = " ".join(x for x in (meta.make, meta.model) if x) or None
    in_albums = sorted(album_names.get(a, str(a)) for a in mirror.albums_of_file(f.id))
    return {
        "id": f.id,
        "name": f.name,
        "type": f.type,
        "format": meta.format,
        "mime": meta.mime,
        "size": f.size,
        "stored": f.content_size + f.thumbnail_size,
        "width": meta.width,
        "height": meta.height,
        "taken_at": meta.taken_at,
        "camera": camera,
        "location": None if lat is None or lon is None else {"lat": lat, "lon": lon},
        "has_location": bool(meta.gps),
        "albums": in_albums,
        "album_count": len(in_albums),
        "duration": meta.duration,
        "has_thumbnail": f.thumbnail_size > 0,
        "uploaded_at": f.created_at,
    }


def photo_details(
    mirror: Mirror,
    file_id: int,
    album_id: int | None = None,
    timelines: Timelines | None = None,
) -> dict[str, Any]:
    """The photo view's facts, with the previous and next photo of the timeline (or album)."""
    f = file_or_404(mirror, file_id)
    names = {a.id: a.name for a in mirror.albums()}
    shown = (timelines or Timelines(keep=1)).get(mirror, album_id)
    order = shown.ids
    at = shown.position.get(file_id, -1)
    facts = photo_facts(mirror, f, names)
    facts["previous"] = order[at - 1] if at > 0 else None
    facts["next"] = order[at + 1] if 0 <= at < len(order) - 1 else None
    facts["position"] = {"index": at + 1, "of": len(order)}
    facts["display"] = "original" if _browser_shows(f) else "rendered"
    facts["motion"] = f.type == "live" and f.metadata.parts is not None
    return facts


def _browser_shows(f: LibraryFile) -> bool:
    return f.type == "video" or (f.metadata.format or "") in BROWSER_IMAGES


@dataclass(frozen=True)
class Displayed:
    path: Path | None  # serve this file as it is
    data: bytes | None  # or these bytes (a JPEG rendered from a format browsers lack)
    mime: str


def display(session: Session, originals: OriginalCache, f: LibraryFile) -> Displayed:
    """What the photo view shows for ``f``: the original when a browser decodes it, else a
    JPEG of it (at most :data:`DISPLAY_MAX_PX`, upright) rendered in memory."""
    path = originals.part(session, f, 0)
    mime = f.metadata.mime or "application/octet-stream"
    if _browser_shows(f):
        return Displayed(path, None, mime)
    try:
        fmt = get_format(f.metadata.format or "")
    except KeyError as err:
        raise ClientError(f"{f.name}: format {f.metadata.format!r} cannot be shown") from err
    rendered = render_thumbnail(path, fmt, DISPLAY_MAX_PX)
    if rendered.data is None:
        raise ClientError(f"{f.name} cannot be shown: {rendered.error}")
    return Displayed(None, rendered.data, "image/jpeg")
