"""The fast pass: files settled without being read, before any worker starts.

A file whose stat matches the stat cache has the content the cache says. If that content is
already in the target album, the file is counted skipped (the whole of an unchanged re-run:
no thread, no per-file query); if the library holds it elsewhere, it is added to the album by
reference in batches (the whole of a re-backup into a new album). Everything else is left to
the workers; those the cache holds nothing for (new or changed files: all of a first backup)
are marked :attr:`~.scanner.Found.uncached`, so a worker does not look them up again. The
stat cache and the album's contents are read once per run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from photoark.client.batches import in_batches
from photoark.client.errors import ClientError, ServerUnreachable
from photoark.client.library.albums import add_many_by_reference
from photoark.client.library.records import display_name
from photoark.client.pipeline.decide import Action, MatchProfile
from photoark.client.pipeline.known import KnownContent
from photoark.client.pipeline.outcome import IgnoreReason, Outcome
from photoark.client.pipeline.scanner import Found
from photoark.client.pipeline.tally import Tally
from photoark.client.session import Session
from photoark.client.state.db import subtree_bounds
from photoark.client.state.mirror import Album, LibraryFile
from photoark.client.state.pathversions import PathVersions
from photoark.client.state.queue import UploadQueue
from photoark.client.state.statcache import StatCache

__all__ = ["Settler"]

_CacheSnapshot = dict[
    bytes, tuple[tuple[int, ...], str, str]
]  # raw path → (stat key, format, hash)


@dataclass(frozen=True)
class _FastLookups:
    cache: _CacheSnapshot
    contents: set[tuple[str, str]]  # the target album's (hash, name)
    hashes: set[str]  # the target album's hashes
    roots: frozenset[bytes]  # the raw roots the cache snapshot was read under
    under: tuple[bytes, ...]  # the same, each ending in b"/": what their subtrees start with

    def covers(self, raw: bytes) -> bool:
        """Whether the cache snapshot holds the entry of the raw path ``raw``, if the cache
        has one (``raw`` is one of the roots or under one)."""
        return raw in self.roots or raw.startswith(self.under)


class Settler:
    def __init__(
        self,
        session: Session,
        album: Album,
        match: MatchProfile,
        stat_cache: StatCache,
        known: KnownContent,
        tally: Tally,
    ) -> None:
        self.session = session
        self.album = album
        self.match = match
        self.stat_cache = stat_cache
        self.queue = UploadQueue(session.db)
        self.known = known
        self.tally = tally
        self._fast: _FastLookups | None = None

    def _lookups(self, roots: Sequence[str]) -> _FastLookups:
        """The stat cache under ``roots`` and the target album's contents, read once per run
        for the fast passes (Live Photo pairs, then single files)."""
        if self._fast is None:
            contents = self.session.mirror.album_contents(self.album.id)
            bounds = [subtree_bounds(root) for root in roots]
            self._fast = _FastLookups(
                self.stat_cache.snapshot(roots),
                contents,
                {h for h, _ in contents},
                frozenset(exact for exact, _, _ in bounds),
                tuple(under for _, under, _ in bounds),
            )
        return self._fast

    def _in_album(self, lookups: _FastLookups, content_hash: str, path: str) -> bool:
        """Whether the target album holds this content (under this name, for name+hash)."""
        if self.match == "name+hash":
            return (content_hash, display_name(path)["name"]) in lookups.contents
        return content_hash in lookups.hashes

    def settle_unchanged(self, roots: Sequence[str], found: list[Found]) -> list[Found]:
        """Count, without a thread or a per-file query, the files whose stat matches the cache
        and whose content is already in the target album (the whole of an unchanged re-run),
        add by reference those whose content is elsewhere in the library (:meth:`_add_known`);
        return the others for the workers, marked :attr:`~.scanner.Found.uncached` when the
        cache holds nothing for their stat."""
        lookups = self._lookups(roots)
        cache = lookups.cache
        queued = self.queue.paths()
        rest: list[Found] = []
        elsewhere: list[Found] = []  # unchanged, content maybe known in other albums
        skipped: list[Found] = []
        for item in found:
            raw = os.fsencode(item.path)
            hit = cache.get(raw)
            if hit is None or hit[0] != StatCache.key_of(item.stat):
                rest.append(replace(item, uncached=True) if lookups.covers(raw) else item)
                continue
            if raw in queued:
                rest.append(item)
                continue
            _, fmt, content_hash = hit
            if not fmt:
                self.tally.count(
                    item.path, item.stat.st_size, Outcome.IGNORED, IgnoreReason.NOT_MEDIA
                )
            elif self._in_album(lookups, content_hash, item.path):
                skipped.append(item)
            else:
                elsewhere.append(item)
        self.tally.count_skipped(skipped)
        return rest + self._add_known(elsewhere, cache)

    def live_pair_settled(self, roots: Sequence[str]) -> Callable[[Found, Found], bool]:
        """For :func:`.livephotos.pair_live_photos`: whether (still, video) are both unchanged
        in the stat cache and their live item is already in the target album (no file is
        opened)."""

        def settled(still: Found, video: Found) -> bool:
            lookups = self._lookups(roots)  # read at the first candidate pair, if any
            hits = [lookups.cache.get(os.fsencode(f.path)) for f in (still, video)]
            if any(
                hit is None or not hit[1] or hit[0] != StatCache.key_of(f.stat)
                for hit, f in zip(hits, (still, video), strict=True)
            ):
                return False
            live_hash = ":".join(hit[2] for hit in hits if hit is not None)
            return self._in_album(lookups, live_hash, still.path)

        return settled

    def count_settled_pair(self, still: Found, video: Found) -> None:
        self.tally.count(still.path, still.stat.st_size + video.stat.st_size, Outcome.SKIPPED)

    def _add_known(self, found: list[Found], cache: _CacheSnapshot) -> list[Found]:
        """Add to the album, in batches and without a thread, the unchanged files whose content
        the library holds elsewhere (the whole of a re-backup into a new album); return the
        others. One indexed lookup per file; files that need more (a missing thumbnail, a
        batch the server refused) are left to the workers."""
        rest: list[Found] = []
        adds: dict[int, tuple[LibraryFile, list[Found]]] = {}
        for item in found:
            decision = self.known.decide(cache[os.fsencode(item.path)][2], item.path)
            known = decision.file
            if decision.action is not Action.ADD or known is None or known.thumbnail_size == 0:
                rest.append(item)
                continue
            adds.setdefault(known.id, (known, []))[1].append(item)
        batch = list(adds.values())
        for chunk in in_batches(batch):
            try:
                add_many_by_reference(self.session, self.album, [known for known, _ in chunk])
            except ServerUnreachable:
                raise
            except ClientError:
                rest.extend(item for _, items in chunk for item in items)
                continue
            with self.session.db.transaction() as conn:
                for known, items in chunk:
                    for item in items:
                        PathVersions.record(conn, item.path, self.album.id, known.id)
            for _, items in chunk:
                first, *copies = items
                self.tally.count(first.path, first.stat.st_size, Outcome.ADDED)
                for copy in copies:  # the same content again: now in the album
                    self.tally.count(copy.path, copy.stat.st_size, Outcome.SKIPPED)
        return rest
