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

On S3 (:class:`~photoark.server.blobs.s3.S3BlobStore`) step 2 sees multipart uploads: a
multi-part session's upload is at the key ``id``, so an upload that belongs to no open session
(its client gave up and the session expired, or the server died between creating it and its
transaction) is aborted once it began more than ``grace`` ago. Step 4 has nothing to do there.

Replica stores (``--replicate-to``, the replicas of a
:class:`~photoark.server.blobs.replicated.ReplicatedStore`) are swept after the primary, each by
:meth:`Sweeper.sweep_replica`: bytes arrive there only through the replication worker, so

5. every upload older than the grace is aborted (a copy that died half-way: nothing on a replica
   is a session), except where a worker holds the copy of that key under a live lease;
6. objects older than the grace that nothing live references are deleted, with their
   ``object_copies`` rows (the delete that should have removed them failed, or a copy finished
   after its file was deleted);
7. ``object_copies`` rows of that store whose objects nothing references any more are dropped
   (the normal end of a deleted file's rows: its delete reached every store already).

A replica that cannot be reached is logged and skipped; the primary's round still counts.

Several replicas sharing one database and blob store may sweep at once: the collector decides
row by row inside its transaction, every blob deletion is idempotent, and a blob is deleted
only after the database said nothing names it. (The ``sweeper`` job lease, in
:mod:`.gc`, keeps it to one replica at a time anyway: listing a bucket is not free.)
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields

from photoark.server.blobs.base import BlobStore, StoredKey
from photoark.server.blobs.replicated import ReplicatedStore
from photoark.server.errors import ServerError
from photoark.server.services.uploads import UploadService
from photoark.server.store.copies import CopyStore
from photoark.server.store.sweep import SweepStore

__all__ = ["BATCH", "SweepReport", "Sweeper"]

log = logging.getLogger(__name__)

BATCH = 1000  # blobs looked up in the database at once


@dataclass
class SweepReport:
    """What one round removed."""

    expired_sessions: int = 0
    temporaries: int = 0
    uploads: int = 0
    objects: int = 0
    replica_uploads: int = 0  # half copies aborted on replica stores
    replica_objects: int = 0  # unreferenced objects deleted from replica stores
    copy_rows: int = 0  # object_copies rows dropped (their objects are not referenced)

    def __bool__(self) -> bool:
        return any(getattr(self, field.name) for field in fields(self))

    def __iadd__(self, other: SweepReport) -> SweepReport:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))
        return self

    def __str__(self) -> str:
        text = (
            f"{self.expired_sessions} expired upload sessions, {self.temporaries} temporary"
            f" files, {self.uploads} abandoned uploads, {self.objects} unreferenced objects"
        )
        if self.replica_uploads or self.replica_objects or self.copy_rows:
            text += (
                f"; on replicas {self.replica_uploads} abandoned uploads,"
                f" {self.replica_objects} unreferenced objects, {self.copy_rows} copy rows"
            )
        return text


class Sweeper:
    def __init__(
        self,
        store: SweepStore,
        blobs: BlobStore,
        uploads: UploadService,
        grace: float,
        clock: Callable[[], float] = time.time,
        copies: CopyStore | None = None,
    ) -> None:
        if grace < 0:
            raise ValueError("the sweep grace period must be >= 0")
        self._store = store
        self._blobs = blobs
        self._uploads = uploads
        self._grace = grace
        self._clock = clock  # wall clock: compared with the blob store's modification times
        self._copies = copies if copies is not None else CopyStore(store.engine)

    @property
    def replicas(self) -> Mapping[str, BlobStore]:
        """The replica stores by name (none unless ``blobs`` is a :class:`ReplicatedStore`)."""
        return self._blobs.replicas if isinstance(self._blobs, ReplicatedStore) else {}

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
        for name in self.replicas:
            try:
                report += self.sweep_replica(name)
            except (ServerError, OSError) as err:
                log.warning("could not sweep replica store %s: %s", name, err)
        return report

    def sweep_replica(self, name: str) -> SweepReport:
        """Steps 5-7 of the module docstring on the replica store ``name``; what it removed.
        :class:`KeyError` when there is no such replica."""
        replica = self.replicas[name]
        report = SweepReport()
        now = self._clock()
        cutoff = now - self._grace
        for batch in _old_batches(replica.list_uploads(), cutoff):
            in_flight = self._store.copying(name, batch, now)
            for key in batch:
                if key not in in_flight:
                    replica.abort(key)
                    report.replica_uploads += 1
        for batch in _old_batches(replica.list_objects(), cutoff):
            referenced = self._store.referenced_objects(batch)
            garbage = [key for key in batch if key not in referenced]
            for key in garbage:
                replica.delete(key)
            report.replica_objects += len(garbage)
            report.copy_rows += self._copies.drop(garbage, name) if garbage else 0
        after = 0
        while rows := self._store.copy_rows(name, after, BATCH):
            after = rows[-1][0]
            keys = sorted({key for _, key in rows})
            referenced = self._store.referenced_objects(keys)
            stale = [key for key in keys if key not in referenced]
            if stale:
                for key in stale:  # the copy may have landed after the file's delete
                    replica.delete(key)
                report.copy_rows += self._copies.drop(stale, name)
        return report


def _old_batches(listed: Iterable[StoredKey], cutoff: float) -> Iterable[list[str]]:
    """The keys last changed before ``cutoff``, in lists of at most :data:`BATCH`."""
    old = (item.key for item in listed if item.modified < cutoff)
    while batch := list(itertools.islice(old, BATCH)):
        yield batch
