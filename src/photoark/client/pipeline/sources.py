"""What an upload reads: one file, or several read back to back as one stream (a Live Photo's
still and video travel as one item: the still's bytes, then the video's).

A source knows its total size, opens a reader over its bytes in order, and tells whether any
member changed (size or mtime) since it was described: the uploader never commits content
read from a file that moved under it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import BinaryIO

__all__ = ["ContentSource", "file_source"]


@dataclass(frozen=True)
class ContentSource:
    """``members``: ``(path, stat)`` in stream order; the first path names the upload."""

    members: tuple[tuple[str, os.stat_result], ...]

    @property
    def path(self) -> str:
        return self.members[0][0]

    @property
    def size(self) -> int:
        return sum(st.st_size for _, st in self.members)

    @property
    def mtime_ns(self) -> int:
        """A change marker for the upload queue: the newest member's mtime."""
        return max(st.st_mtime_ns for _, st in self.members)

    def open(self) -> _ConcatReader:
        return _ConcatReader([path for path, _ in self.members])

    def changed(self) -> bool:
        for path, st in self.members:
            try:
                now = os.stat(path)
            except OSError:
                return True
            if (now.st_size, now.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
                return True
        return False


def file_source(path: str, st: os.stat_result) -> ContentSource:
    return ContentSource(((path, st),))


class _ConcatReader:
    """``read(n)`` across the files in order (each opened when reached, closed when done).

    What was read is dropped from the page cache as the reader moves on: these sources are
    the large files (a part-by-part upload reads each byte once), and backing up a 4 GiB video
    should not push out of memory what the user had cached.
    """

    def __init__(self, paths: Sequence[str]) -> None:
        self._paths = list(paths)
        self._current: BinaryIO | None = None

    def __enter__(self) -> _ConcatReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def read(self, size: int = -1, /) -> bytes:
        pieces: list[bytes] = []
        want = size
        while want != 0:
            if self._current is None:
                if not self._paths:
                    break
                self._current = open(self._paths.pop(0), "rb")  # noqa: SIM115 - closed below
            piece = self._current.read(want)
            _drop_read(self._current)
            if not piece or (want > 0 and len(piece) < want):
                self._current.close()
                self._current = None
            if piece:
                pieces.append(piece)
                if want > 0:
                    want -= len(piece)
        return b"".join(pieces)

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        self._paths = []


def _drop_read(f: BinaryIO) -> None:
    """Advise the kernel that the pages of ``f`` before its position are not needed again."""
    with contextlib.suppress(OSError):  # advice only: refused, it changes nothing
        os.posix_fadvise(f.fileno(), 0, f.tell(), os.POSIX_FADV_DONTNEED)
