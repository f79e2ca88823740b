"""BodySlots: at most N large bodies per account at once, a short wait, then Busy (issue 19)."""

from __future__ import annotations

import asyncio
import time

import pytest

from photoark.server.api.bodyslots import BodySlots
from photoark.server.errors import Busy


async def _hold_until(slots: BodySlots, account: int, release: asyncio.Event) -> None:
    async with slots.hold(account):
        await release.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_cap_then_busy_after_the_wait() -> None:
    async def scene() -> tuple[float, Busy]:
        slots = BodySlots(2, wait_seconds=0.3)
        release = asyncio.Event()
        holders = [asyncio.create_task(_hold_until(slots, 1, release)) for _ in range(2)]
        await _settle()
        assert slots.held(1) == 2
        started = time.monotonic()
        with pytest.raises(Busy) as refused:
            async with slots.hold(1):
                raise AssertionError("a third slot was given")
        waited = time.monotonic() - started
        release.set()
        await asyncio.gather(*holders)
        assert slots.held(1) == 0
        return waited, refused.value

    waited, busy = asyncio.run(scene())
    assert 0.25 < waited < 1.0
    assert busy.retry_after == 1 and busy.details["bodies_per_account"] == 2


def test_other_accounts_do_not_wait() -> None:
    async def scene() -> None:
        slots = BodySlots(1, wait_seconds=5)
        release = asyncio.Event()
        holder = asyncio.create_task(_hold_until(slots, 1, release))
        await _settle()
        async with asyncio.timeout(0.5), slots.hold(2):
            assert slots.held(2) == 1 and slots.held(1) == 1
        release.set()
        await holder

    asyncio.run(scene())


def test_a_freed_slot_goes_to_the_oldest_waiter_and_not_to_a_newcomer() -> None:
    async def scene() -> list[str]:
        slots = BodySlots(1, wait_seconds=5)
        order: list[str] = []
        release = asyncio.Event()
        first = asyncio.create_task(_hold_until(slots, 1, release))
        await _settle()

        async def take(name: str) -> None:
            async with slots.hold(1):
                order.append(name)
                await asyncio.sleep(0.01)

        waiters = [asyncio.create_task(take("a")), asyncio.create_task(take("b"))]
        await _settle()
        release.set()
        await first
        newcomer = asyncio.create_task(take("c"))  # arrives while "a" and "b" still wait
        await asyncio.gather(*waiters, newcomer)
        assert slots.held(1) == 0
        return order

    assert asyncio.run(scene()) == ["a", "b", "c"]


def test_a_cancelled_waiter_takes_no_slot() -> None:
    async def scene() -> None:
        slots = BodySlots(1, wait_seconds=5)
        release = asyncio.Event()
        holder = asyncio.create_task(_hold_until(slots, 1, release))
        await _settle()
        waiter = asyncio.create_task(_hold_until(slots, 1, asyncio.Event()))
        await _settle()
        waiter.cancel()  # the request went away while waiting
        with pytest.raises(asyncio.CancelledError):
            await waiter
        release.set()
        await holder
        assert slots.held(1) == 0
        async with asyncio.timeout(0.5), slots.hold(1):  # the slot is free again
            assert slots.held(1) == 1

    asyncio.run(scene())


def test_slot_is_released_when_the_block_fails() -> None:
    async def scene() -> None:
        slots = BodySlots(1, wait_seconds=0.1)
        with pytest.raises(ValueError):
            async with slots.hold(7):
                raise ValueError("the body was bad")
        assert slots.held(7) == 0
        async with slots.hold(7):
            assert slots.held(7) == 1

    asyncio.run(scene())


def test_usable_from_two_event_loops() -> None:
    """One app's slots outlive a test client's loop: nothing is bound to a loop."""
    slots = BodySlots(1, wait_seconds=0.2)

    async def contended() -> None:
        release = asyncio.Event()
        holder = asyncio.create_task(_hold_until(slots, 1, release))
        await _settle()
        with pytest.raises(Busy):
            async with slots.hold(1):
                pass
        release.set()
        await holder

    asyncio.run(contended())
    asyncio.run(contended())
    assert slots.held(1) == 0


def test_at_least_one_slot() -> None:
    with pytest.raises(ValueError):
        BodySlots(0)
