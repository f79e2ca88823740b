"""Batching: items submitted one by one from many threads, sent in bundles by one thread.

A :class:`Bundler` gathers submitted items until a bundle holds ``max_bytes`` or ``max_items``,
or nothing new arrived for ``linger`` seconds, then hands the bundle to ``send`` (on one of
``senders`` threads, so that many bundles can be in flight) (which returns
one result per item, in order) and resolves each item's future with its result, or every
future of the bundle with the exception ``send`` raised. Memory is bounded: ``submit`` blocks
while the items submitted and not yet sent exceed ``backlog_bytes``.

Used for small files (one request commits many) and for thumbnails sent after the originals.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["BundleLimits", "Bundler"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class BundleLimits:
    max_bytes: int = 16 * 1024 * 1024
    max_items: int = 128
    linger: float = 0.05
    backlog_bytes: int = 48 * 1024 * 1024
    senders: int = 2  # bundles in flight at once (the server overlaps one's disk writes with
    # another's transaction)


class _Close:
    pass


class Bundler(Generic[T, R]):
    """See the module doc. Use as a context manager: leaving it sends what is left."""

    def __init__(
        self,
        send: Callable[[Sequence[T]], Sequence[R]],
        size_of: Callable[[T], int],
        limits: BundleLimits | None = None,
    ) -> None:
        self._send = send
        self._size_of = size_of
        self._limits = limits or BundleLimits()
        self._queue: queue.Queue[tuple[T, Future[R]] | _Close] = queue.Queue()
        self._backlog = 0
        self._room = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="bundler", daemon=True)
        self._senders = ThreadPoolExecutor(max(1, self._limits.senders), "bundle-sender")
        self._started = False

    def __enter__(self) -> Bundler[T, R]:
        self._thread.start()
        self._started = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, item: T) -> Future[R]:
        """Queue ``item``; its future resolves once the bundle holding it was sent."""
        if not self._started:
            raise RuntimeError("the bundler is not running (use it as a context manager)")
        size = self._size_of(item)
        with self._room:
            while self._backlog > 0 and self._backlog + size > self._limits.backlog_bytes:
                self._room.wait()
            self._backlog += size
        future: Future[R] = Future()
        self._queue.put((item, future))
        return future

    def close(self) -> None:
        """Send what is queued and stop the sending thread (idempotent)."""
        if self._started and self._thread.is_alive():
            self._queue.put(_Close())
            self._thread.join()
        self._senders.shutdown(wait=True)

    def _run(self) -> None:
        batch: list[tuple[T, Future[R]]] = []
        size = 0
        while True:
            try:
                got = self._queue.get(timeout=self._limits.linger if batch else None)
            except queue.Empty:
                got = None  # lingered long enough: send what we have
            if isinstance(got, _Close):
                self._dispatch(batch)
                return
            if got is not None:
                batch.append(got)
                size += self._size_of(got[0])
                if size < self._limits.max_bytes and len(batch) < self._limits.max_items:
                    continue
            self._dispatch(batch)
            batch, size = [], 0

    def _dispatch(self, batch: list[tuple[T, Future[R]]]) -> None:
        if batch:
            self._senders.submit(self._flush, batch)

    def _flush(self, batch: list[tuple[T, Future[R]]]) -> None:
        if not batch:
            return
        try:
            results = self._send([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"send returned {len(results)} results for {len(batch)}")
        except BaseException as err:
            for _, future in batch:
                future.set_exception(err)
        else:
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
        finally:
            with self._room:
                self._backlog -= sum(self._size_of(item) for item, _ in batch)
                self._room.notify_all()
