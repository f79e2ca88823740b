"""Walk the folders to back up: yields regular files with their stat, and says why others are
passed over.

- Symlinks to directories are followed, with loop detection on (device, inode): a link back to
  a parent is walked once.
- Hidden files and folders (leading ``.``) are passed over silently; sidecars (``.xmp``, ``.aae``)
  are reported as such; unreadable folders are reported, not fatal.
- Memory holds the stack of folders still to visit, not the tree.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import attrgetter

__all__ = ["SIDECAR_EXTENSIONS", "Found", "PassedOver", "scan", "scan_split"]

SIDECAR_EXTENSIONS = frozenset({".xmp", ".aae"})
_SIDECAR_ENDINGS = tuple(SIDECAR_EXTENSIONS)
_BY_NAME = attrgetter("name")


@dataclass(frozen=True, slots=True)
class Found:
    path: str
    stat: os.stat_result
    uncached: bool = False
    """Set by the run's settle pass (:mod:`.settle`): the stat cache held no entry for this
    stat when it looked, so identifying the file need not ask it again."""


@dataclass(frozen=True, slots=True)
class PassedOver:
    path: str
    reason: str
    is_error: bool = False


def _classify(path: str, name: str, st: os.stat_result) -> Found | PassedOver:
    """A non-hidden entry that is not a folder: found, or passed over with the reason."""
    if not stat.S_ISREG(st.st_mode):
        return PassedOver(path, "not a regular file")
    if name.lower().endswith(_SIDECAR_ENDINGS):
        return PassedOver(path, "sidecar file (not a photo)")
    return Found(path, st)


def scan(roots: Iterable[str]) -> Iterator[Found | PassedOver]:
    seen_dirs: set[tuple[int, int]] = set()
    for root in roots:
        root = os.path.abspath(root)
        try:
            st = os.stat(root)
        except OSError as err:
            yield PassedOver(root, f"cannot read: {err.strerror or err}", is_error=True)
            continue
        if not stat.S_ISDIR(st.st_mode):
            name = os.path.basename(root)
            yield PassedOver(root, "hidden file") if name[:1] == "." else _classify(root, name, st)
            continue
        stack = [root]
        seen_dirs.add((st.st_dev, st.st_ino))
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=_BY_NAME)
            except OSError as err:
                yield PassedOver(folder, f"cannot read folder: {err.strerror or err}", True)
                continue
            subdirs: list[str] = []
            for entry in entries:
                name = entry.name
                if name[:1] == ".":
                    continue
                try:
                    st = entry.stat(follow_symlinks=True)
                except OSError as err:
                    yield PassedOver(entry.path, f"cannot read: {err.strerror or err}", True)
                    continue
                if stat.S_ISDIR(st.st_mode):
                    key = (st.st_dev, st.st_ino)
                    if key not in seen_dirs:
                        seen_dirs.add(key)
                        subdirs.append(entry.path)
                    continue
                yield _classify(entry.path, name, st)
            stack.extend(reversed(subdirs))


def scan_split(roots: Iterable[str]) -> tuple[list[Found], list[PassedOver]]:
    """:func:`scan` into the files found and the paths passed over."""
    found: list[Found] = []
    passed: list[PassedOver] = []
    for item in scan(roots):
        if isinstance(item, PassedOver):
            passed.append(item)
        else:
            found.append(item)
    return found, passed
