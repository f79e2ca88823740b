"""Per-account slots for large request bodies (upload parts, bundles, thumbnail bundles).

A large body stays in memory from its first byte until its service call returns, so how many
are in flight bounds the server's memory. :class:`BodySlots` lets each account have
``per_account`` of them at once (``--bodies-per-account``); a request beyond that waits up to
``wait_seconds`` for a slot to free up, first come first served, and is then refused with
:class:`~photoark.server.errors.Busy` (503 with ``Retry-After``, which the client retries).
Other accounts never wait for one account's bodies.

One instance per app (``app.state.body_slots``, made by
:func:`~photoark.server.app.create_app`). It binds no event loop: a waiter's future is made in
the loop that waits, so one app may be driven from several loops, as tests do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

from photoark.server.errors import Busy

__all__ = ["WAIT_SECONDS", "BodySlots"]

WAIT_SECONDS = 2.0  # how long a body past its account's cap waits for a slot before a 503


class BodySlots:
    """At most ``per_account`` large bodies in flight per account (see the module doc)."""

    def __init__(self, per_account: int, wait_seconds: float = WAIT_SECONDS) -> None:
        if per_account < 1:
            raise ValueError("per_account must be >= 1")
        self.per_account = per_account
        self.wait_seconds = wait_seconds
        self._held: dict[int, int] = {}
        self._waiters: dict[int, deque[asyncio.Future[None]]] = {}

    def held(self, account: int) -> int:
        """Slots ``account`` holds now (for tests and logs)."""
        return self._held.get(account, 0)

    @contextlib.asynccontextmanager
    async def hold(self, account: int) -> AsyncIterator[None]:
        """Hold one of ``account``'s slots for the block; :class:`Busy` when none frees up
        within ``wait_seconds``. Released however the block ends."""
        await self._acquire(account)
        try:
            yield
        finally:
            self._release(account)

    async def _acquire(self, account: int) -> None:
        if not self._waiters.get(account) and self.held(account) < self.per_account:
            self._held[account] = self.held(account) + 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._waiters.setdefault(account, deque())
        queue.append(waiter)
        try:
            async with asyncio.timeout(self.wait_seconds):
                await waiter
        except BaseException as err:
            if waiter.done() and not waiter.cancelled():
                # the slot was handed over just as the wait ended: keep it if only the wait
                # timed out, give it on if the request itself is being cancelled
                if isinstance(err, TimeoutError):
                    return
                self._release(account)
            if isinstance(err, TimeoutError):
                raise Busy(
                    f"this account already sends {self.per_account} large bodies at once",
                    self.wait_seconds,
                    {"bodies_per_account": self.per_account},
                ) from None
            raise
        finally:
            with contextlib.suppress(ValueError):  # not there if it was handed a slot
                queue.remove(waiter)
            if not queue and self._waiters.get(account) is queue:
                del self._waiters[account]

    def _release(self, account: int) -> None:
        """Hand the slot to the oldest live waiter, or give it back."""
        queue = self._waiters.get(account)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: the count is unchanged
                return
        held = self.held(account) - 1
        if held > 0:
            self._held[account] = held
        else:
            self._held.pop(account, None)
