"""What every route of one running web app shares, built once by :func:`~.app.create_app`
and handed to the routes (no module-level state)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from photoark.client.session import Session
from photoark.client.state.mirror import LibraryFile
from photoark.optimize.freeup import FreeUpPlan
from photoark.optimize.removal import CleanupResult
from photoark.web.cache import OriginalCache, ThumbnailCache
from photoark.web.hub import Hub
from photoark.web.jobs import Jobs
from photoark.web.library import Timelines
from photoark.web.security import Guard

__all__ = ["WebContext"]


@dataclass
class WebContext:
    session: Session
    guard: Guard
    hub: Hub
    jobs: Jobs
    thumbnails: ThumbnailCache
    originals: OriginalCache
    timelines: Timelines = field(default_factory=Timelines)  # made once per mirror version
    # one change of the library at a time (the pages' applies, the follower's pulls)
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    applied: list[CleanupResult] = field(default_factory=list)  # what undo takes back, last first
    freeup_plan: FreeUpPlan | None = None  # the plan the free-up page shows (apply is checked)
    trash_files: dict[int, LibraryFile] = field(default_factory=dict)  # last trash listing
