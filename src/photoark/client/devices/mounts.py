"""The mounted filesystems that may be a device, read from ``/proc/self/mountinfo``.

Why mountinfo and not ``/proc/mounts``: it has the same mount points, but also the device
numbers and the superblock options (``ro`` of the filesystem itself, not only of this mount
point). Fields are escaped by the kernel (a space is ``\\040``); :func:`parse_mountinfo`
undoes that. Only mounts that can hold photos are kept (:data:`PSEUDO_FILESYSTEMS` are not).
"""

from __future__ import annotations

import re
import select
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "MOUNTINFO",
    "NETWORK_FILESYSTEMS",
    "PSEUDO_FILESYSTEMS",
    "Mount",
    "MountChanges",
    "parse_mountinfo",
    "read_mounts",
]

MOUNTINFO = Path("/proc/self/mountinfo")

PSEUDO_FILESYSTEMS = frozenset(
    {
        "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "pstore",
        "debugfs", "tracefs", "configfs", "fusectl", "mqueue", "hugetlbfs", "bpf", "autofs",
        "binfmt_misc", "rpc_pipefs", "nsfs", "efivarfs", "overlay", "squashfs", "ramfs",
    }
)  # fmt: skip
"""Filesystems that are never a card, a camera or a phone."""

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "davfs",
        "fuse.sshfs", "fuse.rclone", "fuse.gvfsd-fuse",
    }
)  # fmt: skip
"""Left out too: listing a hung network share would hang ``photoark devices``, and gvfs's own
folder is looked into device by device (:mod:`.discovery`)."""

_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


@dataclass(frozen=True)
class Mount:
    """One line of mountinfo: where, what (``source``, e.g. ``/dev/sdb1``), which filesystem,
    and whether it is read-only (the mount or the filesystem)."""

    mount_point: str
    source: str
    fstype: str
    read_only: bool
    major_minor: str = ""

    @property
    def is_block(self) -> bool:
        """Backed by a device or image named by its path (a card in a reader, a camera as USB
        storage, a loop image): not a FUSE daemon of the desktop like gvfs, not tmpfs."""
        return self.source.startswith("/")


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts described by mountinfo ``text``, pseudo filesystems left out. Malformed
    lines are skipped (the kernel does not write any; a test fixture might)."""
    mounts: list[Mount] = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            fstype, source, super_options = fields[sep + 1], fields[sep + 2], fields[sep + 3]
        except (ValueError, IndexError):
            continue
        if fstype in PSEUDO_FILESYSTEMS or fstype in NETWORK_FILESYSTEMS:
            continue
        options = fields[5].split(",") + super_options.split(",")
        mounts.append(
            Mount(
                mount_point=_unescape(fields[4]),
                source=_unescape(source),
                fstype=fstype,
                read_only="ro" in options,
                major_minor=fields[2],
            )
        )
    return mounts


def read_mounts(path: Path = MOUNTINFO) -> list[Mount]:
    """The mounts of this process's namespace; none when mountinfo cannot be read."""
    try:
        return parse_mountinfo(path.read_text(encoding="utf-8", errors="surrogateescape"))
    except OSError:
        return []


class MountChanges:
    """Waits for the mount table to change: the kernel flags ``/proc/self/mountinfo`` with
    ``POLLPRI``/``POLLERR`` on every mount and unmount, until the file is read again. Without
    it (no /proc) :meth:`wait` just sleeps its timeout: callers look again on a timer anyway.
    One reader thread; :meth:`close` when done."""

    def __init__(self, path: Path = MOUNTINFO) -> None:
        self._file: BinaryIO | None = None
        self._poll = select.poll()
        try:
            self._file = open(path, "rb")  # noqa: SIM115 (held open: that is the watch)
            self._file.read()
            self._poll.register(self._file.fileno(), select.POLLPRI | select.POLLERR)
        except OSError:
            self.close()

    def wait(self, timeout: float) -> bool:
        """True when the mounts changed within ``timeout`` seconds (and the flag is reset)."""
        if self._file is None:
            time.sleep(timeout)
            return False
        if not self._poll.poll(int(timeout * 1000)):
            return False
        self._file.seek(0)
        self._file.read()
        return True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
