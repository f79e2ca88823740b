"""Making a batch of new files durable together: one ``syncfs`` per filesystem, not one
``fdatasync`` per file and one ``fsync`` per directory.

:meth:`~.local.LocalBlobStore.put_objects` stores up to a few hundred small objects per call
(a bundle of small files, a page of thumbnails). Each object is a new file written under a
temporary name, made durable, then linked to its name; the names are made durable after the
links. On ext4 every ``fdatasync`` of a new file and every directory ``fsync`` is a journal
commit of its own, and those were most of a bundle commit's time. ``syncfs`` writes back and
commits the whole filesystem at once, the files' data as well as the directories' entries:
Linux waits for the I/O, so it gives what ``fsync`` on every file of the filesystem gives
(syncfs(2)).

Measured on the project's VM (ext4 on virtio, 2 cores; medians, milliseconds for the whole
batch; "sync" makes the data durable, "names" the links; "busy": other sessions were writing
~200 MB/s to the same disk)::

                                      128 x 110 KB            16 x 4 MiB   128 x 110 KB, busy
    fdatasync each (before)           70 (sync 42, names 14)  64           433
    the same in 4 / 8 threads         52 / 47                 65 / 66      257 / 246
    sync_file_range, fdatasync each   51                      58           355
    syncfs, fdatasync each            44                      57           293
    syncfs, directory fsyncs          42 (sync 15, names 14)  63           143
    syncfs, syncfs (this module)      28 (sync 14, names 1)   54            60

**The cost depends on other writers**: ``syncfs`` also writes back everything else that is
dirty on the filesystem (other programs' writes, other requests' files), up to the kernel's
dirty limits (``vm.dirty_*``), so one batch may wait for someone else's data. With
a neighbour dirtying the same filesystem the per-file way suffered as much or more here (a
neighbour rewriting 64 MB: 485 vs 72 ms; 256 MB left dirty by another program: 631 vs
146 ms; 1 GB: ~600 ms either way), so the batch path does not back off when much is dirty.

**Errors.** Since Linux 5.8 ``syncfs`` reports a write-back error anywhere on the filesystem
since its file descriptor was opened; the first file of the batch on each filesystem is that
descriptor, opened before any of the batch was written. (An error in another program's file
fails the batch too: the caller retries.) Before 5.8 it reported none, so older kernels take
the per-file path. (An ``fdatasync`` of each file after the ``syncfs`` would report errors on
any kernel, but each of those flushes the device again and waits behind other writers: 293 vs
60 ms on the busy disk above.) So do non-Linux systems, and filesystems not known to make
``syncfs`` durable: only ext2/3/4, XFS and btrfs take the batch path. FUSE (mergerfs, unRAID's
user shares) may not pass ``syncfs`` on to its daemon at all; NFS, SMB, ZFS and overlayfs are
untested here.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["SYNCFS_FILESYSTEMS", "BatchSync", "fsync_directory"]

# statfs(2) f_type magic numbers (linux/magic.h) whose syncfs writes back, commits and flushes
# everything, file data and directory entries alike.
_EXT4 = 0xEF53  # also ext2 and ext3
_XFS = 0x58465342
_BTRFS = 0x9123683E
SYNCFS_FILESYSTEMS = frozenset({_EXT4, _XFS, _BTRFS})
_SYNCFS_ERRORS_SINCE = (5, 8)  # the first kernel whose syncfs reports write-back errors
_STATFS_SIZE = 512  # more than any architecture's struct statfs; f_type is its first field


def _kernel_version(release: str) -> tuple[int, int]:
    """``(major, minor)`` of a Linux release string such as ``6.8.0-45-generic``."""
    match = re.match(r"(\d+)\.(\d+)", release)
    return (int(match[1]), int(match[2])) if match else (0, 0)


def _load_libc() -> ctypes.CDLL | None:
    """The C library, when its ``syncfs`` reports write-back errors (Linux 5.8 and later)."""
    if not sys.platform.startswith("linux"):
        return None
    if _kernel_version(os.uname().release) < _SYNCFS_ERRORS_SINCE:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the process's own libc: no search
        libc.syncfs.argtypes = [ctypes.c_int]
        libc.fstatfs.argtypes = [ctypes.c_int, ctypes.c_void_p]
    except (OSError, AttributeError):  # a C library without them
        return None
    libc.syncfs.restype = libc.fstatfs.restype = ctypes.c_int
    return libc


_LIBC = _load_libc()


def _check(result: int) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _syncfs(fd: int) -> None:
    """Write back and commit the filesystem holding ``fd``; raise its write-back errors."""
    assert _LIBC is not None
    _check(_LIBC.syncfs(fd))


def _filesystem_type(fd: int) -> int:
    """The ``f_type`` magic number of the filesystem holding ``fd``."""
    assert _LIBC is not None
    buffer = ctypes.create_string_buffer(_STATFS_SIZE)
    _check(_LIBC.fstatfs(fd, buffer))
    return ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF  # a 32-bit magic


def _one_per_filesystem(fds: Sequence[int]) -> list[int] | None:
    """The first of ``fds`` on each filesystem, or ``None`` if ``syncfs`` cannot stand in for
    ``fdatasync`` on one of them (no suitable ``syncfs`` here, or a filesystem not known to)."""
    if _LIBC is None:
        return None
    first: dict[int, int] = {}
    for fd in fds:
        first.setdefault(os.fstat(fd).st_dev, fd)
    if any(_filesystem_type(fd) not in SYNCFS_FILESYSTEMS for fd in first.values()):
        return None
    return list(first.values())


def fsync_directory(path: Path) -> None:
    """Make the entries of the directory at ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BatchSync:
    """New files made durable together: :meth:`data` before any of them is linked to its name,
    :meth:`names` after the links. The file descriptors stay open until :meth:`names` returns.

    ``fds`` must be in the order the files were opened, each opened before its data was
    written: the first one on a filesystem then carries that filesystem's write-back errors
    from before the batch's first write."""

    def __init__(self, fds: Sequence[int]) -> None:
        self._fds = list(fds)
        self._whole = _one_per_filesystem(self._fds)

    @property
    def whole_filesystem(self) -> bool:
        """Whether it syncs whole filesystems (``syncfs``) rather than file by file."""
        return self._whole is not None

    def data(self) -> None:
        """Every file's data, and the metadata to read it back, is on disk when this returns:
        one ``syncfs`` per filesystem, or an ``fdatasync`` per file."""
        if self._whole is None:
            for fd in self._fds:
                os.fdatasync(fd)
            return
        for fd in self._whole:
            _syncfs(fd)

    def names(self, directories: Iterable[Path]) -> None:
        """The names linked since :meth:`data` in ``directories`` (the files' own directories)
        are on disk when this returns: one ``syncfs`` per filesystem again, or an ``fsync``
        per directory."""
        if self._whole is None:
            for directory in directories:
                fsync_directory(directory)
            return
        for fd in self._whole:
            _syncfs(fd)
