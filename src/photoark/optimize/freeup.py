"""Free up device space: delete local copies of photos that are safely in the backup.

A local media file is a **candidate** only when all of these hold:

1. its content hash *now* (the stat cache's, or read again if the file changed since) equals a
   live file of the user's own library — not one that is only in the trash;
2. no upload of that path is in progress (the upload queue, the daemon's queue);
3. the server confirms the file's content object exists with the expected size
   (``POST /files/verify``); with ``verify_download``, the server copy is also downloaded,
   decrypted and its BLAKE3 checked.

Every other media file is **kept**, with its reason (:class:`~.reasons.KeptReason`). Applying
re-hashes each candidate right before deleting it (it may have changed since the listing) and
moves it to the desktop trash (freedesktop.org trash, through send2trash) or, with
``permanent``, unlinks it. The daemon sees these as ordinary local deletions: nothing is
re-uploaded, nothing deleted remotely.

A Live Photo's still and video are each a candidate when the library holds their live item
(its ``parts`` record each part's hash) or the file alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from photoark.client.batches import in_batches
from photoark.client.errors import ApiError, FileChangedError, IntegrityFailure, NothingToScan
from photoark.client.library import sync
from photoark.client.library.export import verify_server_copy
from photoark.client.library.holding import LibraryContents
from photoark.client.pipeline.identify import content_hash as identify
from photoark.client.pipeline.identify import hash_unchanged
from photoark.client.pipeline.scanner import scan_split
from photoark.client.session import Session
from photoark.client.state.daemonstate import DaemonQueue
from photoark.client.state.pathversions import PathVersions
from photoark.client.state.queue import UploadQueue
from photoark.client.state.statcache import StatCache
from photoark.client.state.watches import WatchList
from photoark.optimize.reasons import KeptReason
from photoark.protocol.models import VerifiedFile

__all__ = [
    "Candidate",
    "FreeUpPlan",
    "FreeUpResult",
    "Kept",
    "KeptReason",
    "NothingToScan",
    "apply_free_up",
    "plan_free_up",
]


@dataclass(frozen=True)
class Candidate:
    path: str
    size: int
    file_id: int
    hash: str  # the content hash the decision was made on


@dataclass(frozen=True)
class Kept:
    path: str
    reason: KeptReason


@dataclass
class FreeUpPlan:
    candidates: list[Candidate] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(c.size for c in self.candidates)

    def as_json(self) -> dict[str, Any]:
        return {
            "candidates": [
                {"path": c.path, "size": c.size, "file_id": c.file_id} for c in self.candidates
            ],
            "bytes": self.bytes,
            "kept": [{"path": k.path, "reason": k.reason.value} for k in self.kept],
        }


@dataclass
class FreeUpResult:
    deleted: list[Candidate] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    permanent: bool = False

    @property
    def bytes_freed(self) -> int:
        return sum(c.size for c in self.deleted)

    def as_json(self) -> dict[str, Any]:
        return {
            "deleted": [
                {"path": c.path, "size": c.size, "file_id": c.file_id} for c in self.deleted
            ],
            "bytes_freed": self.bytes_freed,
            "kept": [{"path": k.path, "reason": k.reason.value} for k in self.kept],
            "failed": self.failed,
            "to": "deleted" if self.permanent else "desktop trash",
        }


def plan_free_up(
    session: Session,
    paths: Sequence[str] = (),
    verify_download: bool = False,
    trashed_hashes: Callable[[], set[str]] = set,
    on_file: Callable[[str], None] = lambda path: None,
    pull: bool = True,
) -> FreeUpPlan:
    """What can be deleted locally under ``paths`` (default: the watched folders), and why
    every other media file is kept. Changes nothing. ``trashed_hashes()`` (asked only when
    needed) names the contents that are in the user's trash. ``pull`` false: the caller keeps
    the mirror current itself (the daemon's change follower, which alone pulls there)."""
    roots = list(paths) or [w.path for w in WatchList(session.db).list()]
    if not roots:
        raise NothingToScan("no folders to free up")
    if pull:
        sync.pull(session)
    library = LibraryContents(session.mirror)
    cache = StatCache(session.db)
    versions = PathVersions(session.db)
    busy = {os.fsdecode(p) for p in UploadQueue(session.db).paths()}
    busy |= DaemonQueue(session.db).paths()
    trash: set[str] | None = None
    plan = FreeUpPlan()
    found, _ = scan_split(roots)
    pending: list[Candidate] = []
    for item in found:
        on_file(item.path)
        try:
            content_hash = identify(cache, item.path, item.stat)
        except (OSError, FileChangedError):
            plan.kept.append(Kept(item.path, KeptReason.UNREADABLE))
            continue
        if content_hash is None:
            continue  # not a photo or video
        if item.path in busy:
            plan.kept.append(Kept(item.path, KeptReason.UPLOAD_IN_PROGRESS))
            continue
        held = library.holding(content_hash)
        if held is not None:
            pending.append(Candidate(item.path, item.stat.st_size, held.id, content_hash))
            continue
        if trash is None:
            trash = trashed_hashes()
        if content_hash in trash:
            reason = KeptReason.ONLY_IN_TRASH
        elif versions.backed_up_as(item.path):
            reason = KeptReason.MODIFIED_SINCE_BACKUP
        else:
            reason = KeptReason.NOT_BACKED_UP
        plan.kept.append(Kept(item.path, reason))
    _confirm_on_server(session, pending, plan, verify_download)
    return plan


def _confirm_on_server(
    session: Session, pending: list[Candidate], plan: FreeUpPlan, verify_download: bool
) -> None:
    """Keep only candidates whose server object exists with the expected size (and, with
    ``verify_download``, decrypts to the recorded hash)."""
    mirror = session.mirror
    ids = sorted({c.file_id for c in pending})
    sound: set[int] = set()
    for batch in in_batches(ids):
        for v in _verify(session, batch):
            f = mirror.file(v.id)
            if (
                f is not None
                and not v.trashed
                and v.object_size == v.content_size == f.content_size
            ):
                sound.add(v.id)
    corrupt: set[int] = set()
    if verify_download:
        for file_id in sorted(sound):
            f = mirror.file(file_id)
            try:
                if f is None:
                    raise IntegrityFailure(f"file {file_id} left the library")
                verify_server_copy(session, f)
            except IntegrityFailure:
                corrupt.add(file_id)
    for c in pending:
        if c.file_id in corrupt:
            plan.kept.append(Kept(c.path, KeptReason.SERVER_COPY_CORRUPT))
        elif c.file_id in sound:
            plan.candidates.append(c)
        else:
            plan.kept.append(Kept(c.path, KeptReason.SERVER_COPY_MISSING))


def _verify(session: Session, ids: list[int]) -> list[VerifiedFile]:
    """``POST /files/verify``; files deleted for good meanwhile (the server names them in its
    all-or-none refusal) are left out and the rest asked again."""
    while ids:
        try:
            return session.api.verify_files(ids)
        except ApiError as err:
            gone = err.details.get("file_ids") if err.code == "not_found" else None
            if not isinstance(gone, list) or not gone:
                raise
            ids = [i for i in ids if i not in set(gone)]
    return []


def _send_to_trash(path: str) -> None:
    from send2trash import send2trash  # imported here: only this command needs it

    send2trash(path)


def apply_free_up(
    session: Session,
    candidates: Iterable[Candidate],
    permanent: bool = False,
    remove: Callable[[str], None] | None = None,
) -> FreeUpResult:
    """Delete the candidates, each re-hashed right before: a file whose content is no longer
    the one the plan checked is kept (:attr:`~KeptReason.CHANGED_WHILE_CHECKED`), one no longer
    there too (:attr:`~KeptReason.GONE`)."""
    result = FreeUpResult(permanent=permanent)
    remove = remove or (os.unlink if permanent else _send_to_trash)
    cache = StatCache(session.db)
    for c in candidates:
        try:
            st = os.stat(c.path)
            if st.st_size != c.size or hash_unchanged(c.path, st) != c.hash:
                result.kept.append(Kept(c.path, KeptReason.CHANGED_WHILE_CHECKED))
                continue
            remove(c.path)
        except FileNotFoundError:
            result.kept.append(Kept(c.path, KeptReason.GONE))
            continue
        except (OSError, FileChangedError) as err:
            result.failed.append({"path": c.path, "error": str(err)})
            continue
        except Exception as err:  # send2trash's own errors (no trash on that disk, …)
            result.failed.append({"path": c.path, "error": f"{type(err).__name__}: {err}"})
            continue
        cache.forget(c.path)
        result.deleted.append(c)
    return result
