"""Splitting work into requests the server accepts: at most ``MAX_BUNDLE_FILES`` items each."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from photoark.protocol.models import MAX_BUNDLE_FILES

__all__ = ["in_batches"]

T = TypeVar("T")


def in_batches(items: Sequence[T], size: int = MAX_BUNDLE_FILES) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most ``size``, in order."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
