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

__all__ = ["SIDECAR_EXTENSIONS", "Found", "PassedOver", "scan", "scan_split"]

SIDECAR_EXTENSIONS = frozenset({".xmp", ".aae"})


@dataclass(frozen=True)
class Found:
    path: str
    stat: os.stat_result


@dataclass(frozen=True)
class PassedOver:
    path: str
    reason: str
    is_error: bool = False


def _classify(path: str, st: os.stat_result) -> Found | PassedOver | None:
    name = os.path.basename(path)
    if name.startswith("."):
        return None
    if not stat.S_ISREG(st.st_mode):
        return PassedOver(path, "not a regular file")
    if os.path.splitext(name)[1].lower() in SIDECAR_EXTENSIONS:
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
            item = _classify(root, st) if not os.path.basename(root).startswith(".") else None
            yield item if item is not None else PassedOver(root, "hidden file")
            continue
        stack = [root]
        seen_dirs.add((st.st_dev, st.st_ino))
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as err:
                yield PassedOver(folder, f"cannot read folder: {err.strerror or err}", True)
                continue
            subdirs: list[str] = []
            for entry in entries:
                if entry.name.startswith("."):
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
                item = _classify(entry.path, st)
                if item is not None:
                    yield item
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
