"""The :class:`Bundler`: grouping, order, errors, lingering and bounded memory."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

import pytest

from photoark.client.pipeline.bundler import BundleLimits, Bundler
from tests.builders import wait_for


def test_items_are_grouped_and_results_come_back_in_order() -> None:
    sent: list[list[int]] = []

    def send(items: Sequence[int]) -> list[int]:
        sent.append(list(items))
        return [i * 10 for i in items]

    limits = BundleLimits(max_bytes=1000, max_items=4, linger=5, senders=1)
    with Bundler(send, lambda i: 1, limits) as bundler:
        futures = [bundler.submit(i) for i in range(10)]
    assert [f.result() for f in futures] == [i * 10 for i in range(10)]
    assert sent == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]  # the rest goes at close


def test_a_bundle_is_sent_when_full_by_bytes() -> None:
    sent: list[list[int]] = []

    def send(items: Sequence[int]) -> list[int]:
        sent.append(list(items))
        return list(items)

    with Bundler(
        send, lambda i: i, BundleLimits(max_bytes=10, max_items=100, linger=5, senders=1)
    ) as b:
        for size in (4, 4, 4, 1):
            b.submit(size)
    assert sent == [[4, 4, 4], [1]]


def test_a_lone_item_goes_after_the_linger() -> None:
    done = threading.Event()

    def send(items: Sequence[str]) -> list[str]:
        done.set()
        return list(items)

    with Bundler(send, len, BundleLimits(linger=0.05)) as bundler:
        future = bundler.submit("x")
        assert done.wait(2), "a partial bundle must not wait for more items forever"
        assert future.result(timeout=2) == "x"


def test_a_failed_send_fails_every_item_of_its_bundle_only() -> None:
    calls = 0

    def send(items: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("down")
        return list(items)

    limits = BundleLimits(max_items=2, linger=5, senders=1)
    with Bundler(send, lambda i: 1, limits) as bundler:
        futures = [bundler.submit(i) for i in range(4)]
    for f in futures[:2]:
        with pytest.raises(ConnectionError):
            f.result()
    assert [f.result() for f in futures[2:]] == [2, 3]


def _waiting_for_room(thread: threading.Thread) -> bool:
    """Whether ``thread`` is parked in :meth:`Bundler.submit`, waiting on its condition for
    the backlog to shrink (read from the thread's stack: the bundler publishes no such fact)."""
    frame = sys._current_frames().get(thread.ident) if thread.ident is not None else None
    codes = set()
    while frame is not None:
        codes.add(frame.f_code)
        frame = frame.f_back
    return Bundler.submit.__code__ in codes and threading.Condition.wait.__code__ in codes


def test_submit_blocks_while_the_backlog_is_full() -> None:
    release = threading.Event()

    def send(items: Sequence[int]) -> list[int]:
        release.wait(5)
        return list(items)

    limits = BundleLimits(max_bytes=10, max_items=1, linger=5, backlog_bytes=20, senders=2)
    with Bundler(send, lambda i: 10, limits) as bundler:
        bundler.submit(1)
        bundler.submit(2)  # backlog now 20: the next one must wait for a send to finish
        third_in = threading.Event()

        def third() -> None:
            bundler.submit(3)
            third_in.set()

        thread = threading.Thread(target=third)
        thread.start()
        wait_for(lambda: third_in.is_set() or _waiting_for_room(thread))
        assert not third_in.is_set()
        release.set()
        assert third_in.wait(5)
        thread.join()


def test_submit_outside_the_context_is_refused() -> None:
    bundler: Bundler[int, int] = Bundler(lambda items: list(items), lambda i: 1)
    with pytest.raises(RuntimeError):
        bundler.submit(1)
