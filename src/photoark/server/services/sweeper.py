"""The sweeper: removes what crashes, refused requests and deletions leave in the blob store.

Blobs are written before the transaction that records them and deleted after the one that
forgets them, so a crash (``kill -9``, power loss, a full disk) between the two leaves bytes no
row names: never a row naming missing bytes, but garbage. A round (:meth:`Sweeper.sweep`):

1. expired upload sessions are deleted with their parts (:meth:`UploadService.collect_expired`);
2. uploads (parts) that belong to no open session are aborted;
3. objects no row names (:class:`~photoark.server.store.sweep.SweepStore`) are deleted;
4. temporaries of interrupted writes are removed (:meth:`BlobStore.remove_temporary`); last,
   because removing a file changes its directory's time, which steps 2 and 3 go by.

Steps 2–4 leave alone anything that changed less than ``grace`` seconds ago, whatever the
database says: a write may be between its blob and its transaction (a bundle, an inline
thumbnail, a part), and only a new blob can gain a reference (keys are fresh random values), so
an object that is old and unreferenced stays unreferenced. ``grace`` must exceed the longest
write-to-commit gap of any replica (the default is an hour; 0 is for tests and for a server no
client is talking to).

Several replicas sharing one database and blob store may sweep at once: the collector decides
row by row inside its transaction, every blob deletion is idempotent, and a blob is deleted
only after the database said nothing names it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from photoark.server.blobs.base import BlobStore, StoredKey
from photoark.server.services.uploads import UploadService
from photoark.server.store.sweep import SweepStore

__all__ = ["BATCH", "SweepReport", "Sweeper"]

BATCH = 1000  # blobs looked up in the database at once


@dataclass
class SweepReport:
    """What one round removed."""

    expired_sessions: int = 0
    temporaries: int = 0
    uploads: int = 0
    objects: int = 0

    def __bool__(self) -> bool:
        return any((self.expired_sessions, self.temporaries, self.uploads, self.objects))

    def __str__(self) -> str:
        return (
            f"{self.expired_sessions} expired upload sessions, {self.temporaries} temporary"
            f" files, {self.uploads} abandoned uploads, {self.objects} unreferenced objects"
        )


class Sweeper:
    def __init__(
        self,
        store: SweepStore,
        blobs: BlobStore,
        uploads: UploadService,
        grace: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if grace < 0:
            raise ValueError("the sweep grace period must be >= 0")
        self._store = store
        self._blobs = blobs
        self._uploads = uploads
        self._grace = grace
        self._clock = clock  # wall clock: compared with the blob store's modification times

    def sweep(self) -> SweepReport:
        """One round (see the module docstring); what it removed."""
        report = SweepReport(expired_sessions=self._uploads.collect_expired())
        cutoff = self._clock() - self._grace
        for batch in _old_batches(self._blobs.list_uploads(), cutoff):
            live = self._store.open_sessions(batch)
            for key in batch:
                if key not in live:
                    self._blobs.abort(key)
                    report.uploads += 1
        for batch in _old_batches(self._blobs.list_objects(), cutoff):
            referenced = self._store.referenced_objects(batch)
            for key in batch:
                if key not in referenced:
                    self._blobs.delete(key)
                    report.objects += 1
        report.temporaries = self._blobs.remove_temporary(cutoff)
        return report


def _old_batches(listed: Iterable[StoredKey], cutoff: float) -> Iterable[list[str]]:
    """The keys last changed before ``cutoff``, in lists of at most :data:`BATCH`."""
    old = (item.key for item in listed if item.modified < cutoff)
    while batch := list(itertools.islice(old, BATCH)):
        yield batch
