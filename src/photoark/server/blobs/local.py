"""The local-directory :class:`~.base.BlobStore`, the embedded default.

Layout under the data dir::

    uploads/<upload_key>/<number>.part      parts being uploaded (each written atomically)
    blobs/<ab>/<object_key>/<number>.part   a completed object: the same part files, moved
    blobs/<ab>/<object_key>/manifest.json   the parts' sizes, written before the move
    blobs/<ab>/<object_key>                 a one-part object written by ``put_objects``: one
                                            file, no directory (bundled small files, thumbnails)

``complete`` writes the manifest into the upload directory, fsyncs, and renames the directory
into ``blobs/``: no byte is copied, so completing a 4 GiB file is instant, and the rename makes
the object appear whole or not at all. ``put_object`` writes a one-part object the same way: part
and manifest into a private staging directory ``uploads/.put-<object_key>-<random>`` (never a
valid upload key), one directory fsync, rename into ``blobs/`` (never over an existing object).
``read_range`` maps byte offsets to part files through the manifest. ``ENOSPC``/``EDQUOT``
become :class:`~photoark.server.errors.StorageFull`.

Everything is private to the server's user: directories 0700, files 0600 (whatever the umask).
A write is staged under a name no listing takes for a key (``.<name>.<random>.tmp``, or the
``uploads/.put-*`` staging directories); a crash leaves those behind, and
:meth:`LocalBlobStore.remove_temporary` sweeps them once old enough.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from photoark.server.blobs.base import READ_CHUNK, StoredKey, check_key, check_range
from photoark.server.blobs.durability import BatchSync, fsync_directory
from photoark.server.errors import NotFound, StorageFull

__all__ = ["LocalBlobStore"]

_MANIFEST = "manifest.json"
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_STAGING = ".put-"  # put_object's staging directories under uploads/
DIR_MODE = 0o700
FILE_MODE = 0o600


def _private(path: str, flags: int) -> int:
    """``open`` opener: a new file is created 0600 (the umask may only narrow it)."""
    return os.open(path, flags, FILE_MODE)


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def _is_key(name: str) -> bool:
    try:
        check_key(name)
    except ValueError:
        return False
    return True


def _modified(entry: os.DirEntry[str]) -> float | None:
    """The entry's mtime, or ``None`` if it is gone meanwhile (deleted by another writer)."""
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return None


def _older(entry: os.DirEntry[str], than: float) -> bool:
    """Whether the entry last changed before ``than`` (not if it is gone meanwhile)."""
    modified = _modified(entry)
    return modified is not None and modified < than


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    """The directory's entries; none if it is gone (or was never made)."""
    try:
        with os.scandir(directory) as it:
            return list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []


@contextlib.contextmanager
def _disk_errors() -> Iterator[None]:
    """Turn "disk full" into the domain error; other OS errors pass unchanged."""
    try:
        yield
    except OSError as err:
        if err.errno in _FULL_ERRNOS:
            raise StorageFull() from err
        raise


def _part_name(number: int) -> str:
    return f"{number:08d}.part"


def _make_durable(fh: BinaryIO) -> None:
    """Flush a freshly written blob file to disk, then drop its pages from the page cache.

    ``fdatasync`` is enough for a new file: it writes the data and the metadata needed to read
    it back (size, blocks); its name is made durable by a directory fsync before the object
    counts (``complete``, ``put_object``). ``put_objects`` makes its batch durable at once
    (:class:`~.durability.BatchSync`)."""
    fh.flush()
    fd = fh.fileno()
    os.fdatasync(fd)
    _drop_cache(fd)


def _drop_cache(fd: int) -> None:
    """Drop a durable blob file's pages from the page cache.

    Blob data is written once and rarely read back soon (a download is a different day), so
    keeping it cached only pushes out pages that are useful, and makes every write take fresh
    memory: on this project's VMs a first-touched page costs as much as the disk write (see
    ARCHITECTURE.md, "Performance notes"). Only clean pages go, so call it after the sync."""
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


class LocalBlobStore:
    def __init__(self, data_dir: Path) -> None:
        self._uploads = data_dir / "uploads"
        self._blobs = data_dir / "blobs"
        for directory in (self._uploads, self._blobs):
            directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            with contextlib.suppress(PermissionError):  # not ours: its owner decides
                os.chmod(directory, DIR_MODE)  # one made by an earlier version may be 0755

    # -- paths -------------------------------------------------------------------------------

    def _upload_dir(self, upload_key: str) -> Path:
        return self._uploads / check_key(upload_key)

    def _object_dir(self, object_key: str) -> Path:
        return self._blobs / check_key(object_key)[:2] / object_key

    def _write_file(self, path: Path, data: bytes | bytearray) -> None:
        """Write ``data`` to ``path`` atomically and durably (temp file, fsync, rename)."""
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            with open(tmp, "wb", opener=_private) as fh:
                fh.write(data)
                _make_durable(fh)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    # -- BlobStore ---------------------------------------------------------------------------

    def put_part(self, upload_key: str, number: int, data: bytes | bytearray) -> None:
        if number < 0:
            raise ValueError("part numbers start at 0")
        directory = self._upload_dir(upload_key)
        with _disk_errors():
            directory.mkdir(exist_ok=True, mode=DIR_MODE)
            self._write_file(directory / _part_name(number), data)

    def part_sizes(self, upload_key: str) -> dict[int, int]:
        directory = self._upload_dir(upload_key)
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return {}
        return {
            int(name.removesuffix(".part")): (directory / name).stat().st_size
            for name in names
            if name.endswith(".part") and not name.startswith(".")
        }

    def complete(self, upload_key: str, object_key: str, part_count: int) -> int:
        size = self.object_size(object_key)
        if size is not None:
            return size
        try:
            return self._complete(upload_key, object_key, part_count)
        except (OSError, NotFound):
            # A concurrent complete may have won the race: then the object is there.
            size = self.object_size(object_key)
            if size is None:
                raise
            return size

    def _complete(self, upload_key: str, object_key: str, part_count: int) -> int:
        source, target = self._upload_dir(upload_key), self._object_dir(object_key)
        sizes = self.part_sizes(upload_key)
        if any(n not in sizes for n in range(part_count)):
            raise NotFound(f"upload {upload_key} misses parts")
        for extra in set(sizes) - set(range(part_count)):
            (source / _part_name(extra)).unlink(missing_ok=True)
        manifest = json.dumps({"part_sizes": [sizes[n] for n in range(part_count)]})
        with _disk_errors():
            self._write_file(source / _MANIFEST, manifest.encode())
            fsync_directory(source)
            target.parent.mkdir(exist_ok=True, mode=DIR_MODE)
            os.rename(source, target)
            fsync_directory(target.parent)
        return sum(sizes[n] for n in range(part_count))

    def put_object(self, object_key: str, data: bytes) -> None:
        target = self._object_dir(object_key)
        staging = self._uploads / f"{_STAGING}{object_key}-{secrets.token_hex(4)}"
        manifest = json.dumps({"part_sizes": [len(data)]}).encode()
        try:
            with _disk_errors():
                staging.mkdir(mode=DIR_MODE)
                # Nobody sees the staging directory: plain writes, made durable by the fsyncs.
                for name, content in ((_part_name(0), data), (_MANIFEST, manifest)):
                    with open(staging / name, "wb", opener=_private) as fh:
                        fh.write(content)
                        _make_durable(fh)
                fsync_directory(staging)
                target.parent.mkdir(exist_ok=True, mode=DIR_MODE)
                try:
                    # Never replaces an object: renaming onto a non-empty directory fails.
                    os.rename(staging, target)
                except OSError as err:
                    if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
                        raise FileExistsError(f"object {object_key} exists") from err
                    raise
                fsync_directory(target.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def put_objects(self, objects: Sequence[tuple[str, bytes | memoryview]]) -> None:
        """One-part objects, each a single file ``blobs/<ab>/<object_key>`` (no directory, no
        manifest: a quarter of the metadata operations of :meth:`put_object`'s layout), durable
        together: every file is written to a temporary name beside its target, then all are
        made durable at once (one ``syncfs`` where it is safe, else an ``fdatasync`` each: see
        :mod:`.durability`), then each is linked to its name (a link never replaces an existing
        object), then the names are made durable (the same way, or a directory ``fsync`` each).
        No object is visible before its data is durable, and none is missing from disk when
        this returns. A failed sync raises; a failure before the links leaves no object."""
        written: list[tuple[Path, Path]] = []
        handles = []
        try:
            with _disk_errors():
                for object_key, data in objects:
                    target = self._object_dir(object_key)
                    target.parent.mkdir(exist_ok=True, mode=DIR_MODE)
                    tmp = target.with_name(f".{object_key}.{secrets.token_hex(4)}.tmp")
                    fh = open(tmp, "wb", opener=_private)  # noqa: SIM115 - closed at the end
                    handles.append(fh)
                    written.append((tmp, target))
                    fh.write(data)
                for fh in handles:
                    fh.flush()
                batch = BatchSync([fh.fileno() for fh in handles])
                batch.data()
                for fh in handles:
                    _drop_cache(fh.fileno())
                for tmp, target in written:
                    try:
                        os.link(tmp, target)
                    except FileExistsError as err:
                        raise FileExistsError(f"object {target.name} exists") from err
                    tmp.unlink()
                batch.names({target.parent for _, target in written})
        finally:
            for fh in handles:
                fh.close()
            for tmp, _ in written:
                tmp.unlink(missing_ok=True)

    def abort(self, upload_key: str) -> None:
        shutil.rmtree(self._upload_dir(upload_key), ignore_errors=True)

    def _manifest(self, object_key: str) -> list[int] | None:
        """The object's part sizes: from its manifest, or a one-part object's file size."""
        directory = self._object_dir(object_key)
        try:
            raw = (directory / _MANIFEST).read_bytes()
        except NotADirectoryError:  # a one-part object: the file itself
            return [directory.stat().st_size]
        except FileNotFoundError:
            return None
        return [int(n) for n in json.loads(raw)["part_sizes"]]

    def object_size(self, object_key: str) -> int | None:
        sizes = self._manifest(object_key)
        return None if sizes is None else sum(sizes)

    def stored_size(self, object_key: str) -> int | None:
        """A one-part object's file size; a multi-part object's part files (those its
        manifest lists), each stat'ed now; ``None`` if the object or one of them is missing."""
        directory = self._object_dir(object_key)
        try:
            sizes = self._manifest(object_key)
            if sizes is None:
                return None
            if directory.is_file():
                return sum(sizes)
            return sum((directory / _part_name(n)).stat().st_size for n in range(len(sizes)))
        except (FileNotFoundError, NotADirectoryError):  # deleted meanwhile, or a part lost
            return None

    def read_range(self, object_key: str, start: int, end_inclusive: int) -> Iterator[bytes]:
        sizes = self._manifest(object_key)
        if sizes is None:
            raise NotFound(f"no object {object_key}")
        check_range(sum(sizes), start, end_inclusive)
        return self._read(self._object_dir(object_key), sizes, start, end_inclusive)

    def _read(
        self, directory: Path, sizes: list[int], start: int, end_inclusive: int
    ) -> Iterator[bytes]:
        part_start = 0
        single = directory.is_file()  # a one-part object is the file itself
        for number, part_size in enumerate(sizes):
            part_end = part_start + part_size  # exclusive
            lo, hi = max(start, part_start), min(end_inclusive + 1, part_end)
            if lo < hi:
                part = directory if single else directory / _part_name(number)
                with open(part, "rb") as fh:
                    fh.seek(lo - part_start)
                    remaining = hi - lo
                    while remaining > 0:
                        chunk = fh.read(min(READ_CHUNK, remaining))
                        if not chunk:
                            raise OSError(f"blob part {directory}/{number} is truncated")
                        remaining -= len(chunk)
                        yield chunk
            if part_end > end_inclusive:
                break
            part_start = part_end

    def delete(self, object_key: str) -> None:
        target = self._object_dir(object_key)
        try:
            target.unlink()  # a one-part object
        except IsADirectoryError:
            shutil.rmtree(target, ignore_errors=True)
        except FileNotFoundError:
            pass

    # -- sweeping ----------------------------------------------------------------------------

    def list_objects(self) -> Iterator[StoredKey]:
        """``blobs/<ab>/<key>``: a one-part object's file, or a completed upload's directory
        (its mtime is its manifest's arrival, the last write before it appeared)."""
        for fan in _entries(self._blobs):
            if not fan.is_dir(follow_symlinks=False):
                continue
            for entry in _entries(Path(fan.path)):
                if not _is_key(entry.name):
                    continue
                modified = _modified(entry)
                if modified is not None:
                    yield StoredKey(entry.name, modified)

    def list_uploads(self) -> Iterator[StoredKey]:
        """``uploads/<key>/``, with the directory's mtime: every part write renames a file
        into it, so that is when a part last arrived."""
        for entry in _entries(self._uploads):
            if _is_key(entry.name) and entry.is_dir(follow_symlinks=False):
                modified = _modified(entry)
                if modified is not None:
                    yield StoredKey(entry.name, modified)

    def remove_temporary(self, older_than: float) -> int:
        """``.*.tmp`` files (an interrupted atomic write) in upload directories, in the fan-out
        directories of ``blobs/`` and in completed objects' directories, and ``put_object``'s
        staging directories, each last changed before ``older_than``."""
        places = [Path(e.path) for e in _entries(self._uploads) if _is_key(e.name)]
        for fan in _entries(self._blobs):
            if fan.is_dir(follow_symlinks=False):
                places.append(Path(fan.path))
                places.extend(
                    Path(e.path)
                    for e in _entries(Path(fan.path))
                    if _is_key(e.name) and e.is_dir(follow_symlinks=False)
                )
        old = [  # names first: only a temporary is stat'ed
            entry
            for place in places
            for entry in _entries(place)
            if _is_temporary(entry.name) and _older(entry, older_than)
        ]
        for entry in old:
            Path(entry.path).unlink(missing_ok=True)
        staging = [
            entry
            for entry in _entries(self._uploads)
            if entry.name.startswith(_STAGING) and _older(entry, older_than)
        ]
        for entry in staging:
            shutil.rmtree(entry.path, ignore_errors=True)
        return len(old) + len(staging)
