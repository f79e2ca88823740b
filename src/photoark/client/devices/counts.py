"""How many photos a device holds, and how many of them the library already has.

``backed_up`` counts the media files whose content is in the library (a live file, or a Live
Photo's part): the stat cache gives the content of a file seen before without reading it; a
file never seen is hashed (and cached: the import that follows does not read it again), but
only up to ``hash_budget`` bytes per listing, so ``photoark devices`` on a 128 GB card new to
this client answers in seconds rather than minutes. Files past the budget are ``unchecked``
(neither counted as backed up nor read). The mirror is used as it is (no network): after a
backup from another client, ``photoark sync`` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from photoark.client.devices.discovery import Device
from photoark.client.devices.seen import forget_another_devices_files
from photoark.client.errors import FileChangedError
from photoark.client.library.holding import LibraryContents
from photoark.client.pipeline.identify import content_hash
from photoark.client.pipeline.scanner import scan_split
from photoark.client.state.db import StateDB
from photoark.client.state.mirror import Mirror
from photoark.client.state.statcache import StatCache
from photoark.media import sniff

__all__ = ["HASH_BUDGET", "DeviceCounts", "count_device", "shared_budget"]

HASH_BUDGET = 512 << 20
"""Bytes a listing may read to hash files never seen before (all devices together)."""


@dataclass
class DeviceCounts:
    photos: int = 0  # photos and videos
    bytes: int = 0
    backed_up: int = 0
    unchecked: int = 0  # not hashed: past the budget, or unreadable

    def as_json(self) -> dict[str, Any]:
        return {
            "photos": self.photos,
            "bytes": self.bytes,
            "backed_up": self.backed_up,
            "unchecked": self.unchecked,
        }


class _Budget:
    def __init__(self, left: int) -> None:
        self.left = left


def count_device(db: StateDB, device: Device, budget: int | _Budget = HASH_BUDGET) -> DeviceCounts:
    """The device's counts (see the module). Reads nothing already in the stat cache."""
    left = budget if isinstance(budget, _Budget) else _Budget(budget)
    forget_another_devices_files(db, device)  # another card's entries would count as its own
    cache = StatCache(db)
    library = LibraryContents(Mirror(db))
    counts = DeviceCounts()
    found, _ = scan_split(list(device.dcims))
    for item in found:
        size = item.stat.st_size
        cached = cache.lookup(item.path, item.stat)
        if cached is not None:
            fmt, digest = cached
            if not fmt:
                continue
        else:
            try:
                if sniff(item.path) is None:
                    continue
            except OSError:
                counts.unchecked += 1
                continue
            if size > left.left:
                counts.photos += 1
                counts.bytes += size
                counts.unchecked += 1
                continue
            left.left -= size
            try:
                digest = content_hash(cache, item.path, item.stat) or ""
            except (OSError, FileChangedError):
                counts.unchecked += 1
                continue
        counts.photos += 1
        counts.bytes += size
        if digest and library.holding(digest) is not None:
            counts.backed_up += 1
    return counts


def shared_budget(total: int = HASH_BUDGET) -> _Budget:
    """One budget for several :func:`count_device` calls (a listing of all devices)."""
    return _Budget(total)
