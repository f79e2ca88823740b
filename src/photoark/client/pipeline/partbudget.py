"""The budget of encrypted parts alive at once in the process, across every upload.

A large file goes up part by part (:mod:`.uploader`): each part (up to ``PART_SIZE``, 8 MiB) is
read, encrypted and kept until its send is done, and each file sends a few at once. Without a
common budget the client's memory grew with the number of workers: four workers on four videos
held twelve parts (~100 MiB, a third of its peak). With :data:`PARTS` every part in the process
holds one of :data:`PARTS_IN_FLIGHT` permits, so the parts' memory no longer depends on the
number of workers or files. Small files never take one: they travel in bundles, whose backlog
the bundler bounds on its own.

A part takes a permit (:meth:`PartBudget.take`, which waits for one) before its plaintext is
read, and the permit is given back once the part's send has completed, failed or been
cancelled (:meth:`Permit.release_when_done`), or at once when the part never gets that far: a
:class:`Permit` is a context manager that gives it back if its block ends without handing it
to a send, so no read, encryption or send error ever keeps one.

Why it cannot deadlock, whatever the number of permits (even one): a permit is held either
(i) by a thread between :meth:`~PartBudget.take` and handing it over, which only reads,
hashes, encrypts and, in a one-thread window, sends that very part: it waits for no permit and
no other part; or (ii) by a part's send, which takes no permit either and ends (the HTTP
client's timeouts and retries are bounded). A thread hands its permit over before it waits for
anything else (a window retiring its oldest part waits on sends, which hold their own
permits), and holds none while it waits for the next one. Every permit is therefore given
back after steps that need no permit: no cycle of waits can form. Giving it back when the
window retires the part instead would break this: a window would hold permits while waiting
for another one, and with one permit a single file would stop.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from types import TracebackType
from typing import Any

__all__ = ["PARTS", "PARTS_IN_FLIGHT", "PartBudget", "Permit"]

PARTS_IN_FLIGHT = 4
"""Encrypted parts alive at once in the process, across every file being uploaded: 32 MiB at
most. Measured on five ~180 MB videos with four workers (local disk and S3): the originals take
as long as with no budget (twelve parts) or with 6 or 8, and the client's peak RSS is ~160 MiB
instead of ~250 (~180 with 6, ~205 with 8). One file alone is not slowed: its window sends
three parts at once."""


class PartBudget:
    """At most :attr:`parts` permits held at once; thread-safe."""

    def __init__(self, parts: int) -> None:
        if parts < 1:
            raise ValueError("a part budget needs at least one part")
        self.parts = parts
        self._held = 0
        self._changed = threading.Condition()

    @property
    def held(self) -> int:
        """Permits taken and not given back (0 once every upload has ended)."""
        with self._changed:
            return self._held

    def take(self) -> Permit:
        """Wait until fewer than :attr:`parts` permits are held, then take one. The caller
        must hand it to the part's send or give it back: use it as a context manager."""
        with self._changed:
            self._changed.wait_for(lambda: self._held < self.parts)
            self._held += 1
        return Permit(self)

    def _give_back(self) -> None:
        with self._changed:
            self._held -= 1
            self._changed.notify()


class Permit:
    """One part's place in a :class:`PartBudget`, given back exactly once: by its send once
    handed to it, else when the ``with`` block that holds it ends."""

    def __init__(self, budget: PartBudget) -> None:
        self._budget = budget
        self._lock = threading.Lock()
        self._released = self._handed = False

    def __enter__(self) -> Permit:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._handed:
            self.release()

    def release(self) -> None:
        """Give the permit back (a second time: nothing)."""
        with self._lock:
            if self._released:
                return
            self._released = True
        self._budget._give_back()

    def release_when_done(self, future: Future[Any]) -> None:
        """Hand the permit to ``future``, the part's send: given back when the send completes,
        fails or is cancelled (at once if it already has)."""
        self._handed = True
        future.add_done_callback(lambda _: self.release())


PARTS = PartBudget(PARTS_IN_FLIGHT)
"""The process's budget, shared by every :class:`~.uploader.ContentUploader` given no other."""
