"""What keeps password guessing slow and the login hash from eating the server.

Two independent guards, both in this process's memory:

- :class:`LoginThrottle` counts failed logins (wrong credentials only: a login refused before
  its key was checked, or one that succeeded, is not a failure) per account (the normalised
  email, whether or not it exists, so the answers do not tell) and per client address (an
  IPv6 address by its /64: one host usually holds the whole prefix). Past a few free failures
  each further failure blocks the key for a delay that doubles up to a cap; while blocked, a
  login is refused at once with :class:`~photoark.server.errors.RateLimited` (429 and
  ``Retry-After``), before any hashing. The address allows fewer free failures than the
  account and has the longer cap, so one guessing machine is slowed down long before the
  account it aims at, and the account's own delay stays short (:data:`ACCOUNT`): a stranger can
  never lock the owner out for more than that cap at a time. An address that logged in to the
  account recently (a device of the owner) is not held back by the account's delay at all,
  only by its own. A success clears the account's failures; an address's failures are only
  forgotten with time (``forget_after`` seconds without a failure), so logging in to one's own
  account between guesses buys an attacker nothing.
- :class:`WorkerSlots` bounds how many password hashes run at once (Argon2id with the
  interactive limits takes 64 MiB each). A login that cannot get a slot within its wait is
  refused with :class:`~photoark.server.errors.Busy` (503 and ``Retry-After``). Waiting holds
  no thread (other requests, ``/health`` included, keep their worker threads), and the hash
  runs in a thread that gives the slot back when it is done, even if the request was
  cancelled meanwhile.

Several replicas each count their own failures and bound their own hashes: an attacker spread
over N replicas gets N times the rate, which a load balancer's affinity by address removes.
Tables are bounded (least recently failed first out) and swept as they go.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from photoark.server.errors import Busy, RateLimited

__all__ = [
    "ACCOUNT",
    "ADDRESS",
    "BackoffPolicy",
    "LoginThrottle",
    "WorkerSlots",
    "address_key",
]

T = TypeVar("T")


@dataclass(frozen=True)
class BackoffPolicy:
    """``free`` failures cost nothing; the n-th after them blocks for ``base * 2**(n-1)``
    seconds, at most ``cap``; ``forget_after`` seconds without a failure forget them all."""

    free: int
    base: float
    cap: float
    forget_after: float

    def delay(self, failures: int) -> float:
        over = failures - self.free
        if over <= 0:
            return 0.0
        return float(min(self.cap, self.base * 2 ** min(over - 1, 32)))


ADDRESS = BackoffPolicy(free=5, base=1.0, cap=300.0, forget_after=3600.0)
ACCOUNT = BackoffPolicy(free=10, base=1.0, cap=30.0, forget_after=900.0)
TRUSTED_FOR = 30 * 86400.0  # an address that logged in to an account skips its delay this long
MAX_ENTRIES = 100_000  # per table: a few MB at most


def address_key(address: str) -> str:
    """The address a client is counted under: IPv4 as is, IPv6 by its /64 (an IPv4-mapped
    IPv6 address as the IPv4 one); anything else (a test client's name) as is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass
class _Failures:
    count: int
    last: float
    blocked_until: float


class _Counter:
    """Failures per key under one policy, least recently failed first (for the sweep)."""

    def __init__(self, policy: BackoffPolicy, max_entries: int) -> None:
        self.policy = policy
        self._max = max_entries
        self._entries: OrderedDict[str, _Failures] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def wait(self, key: str, now: float) -> float:
        """Seconds ``key`` is still blocked (0: free to try)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        if now - entry.last > self.policy.forget_after:
            del self._entries[key]
            return 0.0
        return max(0.0, entry.blocked_until - now)

    def fail(self, key: str, now: float) -> None:
        entry = self._entries.get(key)
        if entry is None or now - entry.last > self.policy.forget_after:
            entry = _Failures(0, now, now)
        entry.count += 1
        entry.last = now
        entry.blocked_until = max(entry.blocked_until, now + self.policy.delay(entry.count))
        self._entries[key] = entry
        self._entries.move_to_end(key)
        self._sweep(now)

    def clear(self, key: str) -> None:
        self._entries.pop(key, None)

    def _sweep(self, now: float) -> None:
        """Drop forgotten entries (the oldest come first) and the oldest beyond the bound."""
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if now - entry.last <= self.policy.forget_after and len(self._entries) <= self._max:
                return
            del self._entries[key]


class LoginThrottle:
    """Failed logins per account and per address (see the module doc). Thread-safe.

    Contract: :meth:`check` before checking credentials (raises :class:`RateLimited` with the
    longer of the two waits); then exactly one of :meth:`failed` (wrong credentials) or
    :meth:`succeeded`.
    """

    def __init__(
        self,
        address_policy: BackoffPolicy = ADDRESS,
        account_policy: BackoffPolicy = ACCOUNT,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._addresses = _Counter(address_policy, max_entries)
        self._accounts = _Counter(account_policy, max_entries)
        self._trusted: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()

    def check(self, email: str, address: str) -> None:
        """Raise :class:`RateLimited` if this address, or this account (from an address not
        trusted for it), must wait."""
        address = address_key(address)
        with self._lock:
            now = self._clock()
            wait = self._addresses.wait(address, now)
            if not self._is_trusted(email, address, now):
                wait = max(wait, self._accounts.wait(email, now))
        if wait > 0:
            raise RateLimited(
                f"too many failed logins: try again in {math.ceil(wait)} s",
                wait,
                {"reason": "failed_logins"},
            )

    def failed(self, email: str, address: str) -> None:
        address = address_key(address)
        with self._lock:
            now = self._clock()
            self._addresses.fail(address, now)
            self._accounts.fail(email, now)

    def succeeded(self, email: str, address: str) -> None:
        address = address_key(address)
        with self._lock:
            now = self._clock()
            self._accounts.clear(email)
            self._trusted[(email, address)] = now
            self._trusted.move_to_end((email, address))
            while self._trusted:
                first, since = next(iter(self._trusted.items()))
                if now - since <= TRUSTED_FOR and len(self._trusted) <= self._max:
                    break
                del self._trusted[first]

    def _is_trusted(self, email: str, address: str, now: float) -> bool:
        since = self._trusted.get((email, address))
        return since is not None and now - since <= TRUSTED_FOR

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Entries held: addresses, accounts, trusted pairs (tests, metrics)."""
        with self._lock:
            return len(self._addresses), len(self._accounts), len(self._trusted)


class _Waiter:
    __slots__ = ("future", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.granted = False


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class WorkerSlots:
    """At most ``size`` jobs at once, run in threads; waiters queue first come, first served.

    Thread-safe and tied to no event loop (each waiter wakes on its own loop: the in-process
    test client runs every request on a fresh one). :meth:`run` is the whole contract.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one slot")
        self.size = size
        self._free = size
        self._queue: deque[_Waiter] = deque()
        self._lock = threading.Lock()

    @property
    def busy(self) -> int:
        """Slots taken now."""
        with self._lock:
            return self.size - self._free

    async def run(self, job: Callable[[], T], wait: float) -> T:
        """``job()`` in a thread once a slot is free; :class:`Busy` if none frees up within
        ``wait`` seconds (the job never ran). Cancelling the caller while the job runs does
        not stop it; its slot comes back when it ends."""
        if not await self._acquire(wait):
            raise Busy(
                "the server is busy checking other logins: try again shortly",
                max(1.0, wait),
                {"reason": "login_workers"},
            )

        def in_slot() -> T:
            try:
                return job()
            finally:
                self._release()

        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(None, in_slot)
        except BaseException:
            self._release()
            raise
        return await asyncio.shield(future)

    async def _acquire(self, wait: float) -> bool:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free > 0 and not self._queue:
                self._free -= 1
                return True
            waiter = _Waiter(loop)
            self._queue.append(waiter)
        try:
            await asyncio.wait_for(waiter.future, wait)
        except BaseException as err:
            with self._lock:
                if waiter.granted:  # handed a slot just as the wait ended: give it back
                    self._release_locked()
                else:
                    with contextlib.suppress(ValueError):
                        self._queue.remove(waiter)
            if isinstance(err, TimeoutError):
                return False
            raise
        return True

    def _release(self) -> None:
        with self._lock:
            self._release_locked()

    def _release_locked(self) -> None:
        """Hand the slot to the first live waiter, else put it back."""
        while self._queue:
            waiter = self._queue.popleft()
            try:
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
            except RuntimeError:  # its event loop is closed: that request is gone
                continue
            waiter.granted = True
            return
        self._free += 1
