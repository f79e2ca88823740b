"""How often the daemon looks at things, and how it backs off: one place for its periods."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DaemonTiming"]


@dataclass(frozen=True)
class DaemonTiming:
    policy_every: float = 5.0  # seconds between battery/network probes
    watches_every: float = 2.0  # seconds between re-reading the watch list and settings
    batch_files: int = 2000  # settled paths taken per batch (bounds memory)
    reconcile_every: float = 3600.0  # full rescan of a watched folder, a safety net
    unwatched_every: float = 60.0  # rescan of a folder inotify cannot watch
    devices_every: float = 2.0  # seconds between looks for a plugged-in card, camera or phone
    backoff_first: float = 1.0
    backoff_max: float = 60.0
