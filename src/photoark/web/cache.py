"""What the web app keeps on disk to serve faster, all under the client's 0700 home.

- :class:`ThumbnailCache`: thumbnails exactly as the server stores them, **still encrypted**
  (``cache/thumbnails/``); each answer decrypts one (tens of microseconds). A file whose
  thumbnail changes gets a new cache name (the size is part of it), so a stale one is never
  served. Bounded: above ``max_bytes`` the oldest entries go.
- :class:`OriginalCache`: originals **decrypted** for this session only
  (``cache/originals/``), so that a video can be served with ``Range`` requests (the content is
  one authenticated stream, which cannot be entered in the middle). Each is written by
  :func:`~photoark.client.library.export.download_to`: checked against its recorded BLAKE3
  before it gets its name, so a wrong byte is never served. Bounded by ``max_bytes`` (least
  recently used go first) and emptied when the app starts and stops.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Final

from photoark.client.errors import ClientError, IntegrityFailure
from photoark.client.library.export import download_to, part_targets, safe_component
from photoark.client.session import Session
from photoark.client.state.mirror import LibraryFile
from photoark.crypto.errors import IntegrityError
from photoark.crypto.stream import decrypt_bytes

__all__ = ["NoThumbnail", "OriginalCache", "ThumbnailCache"]

THUMBNAILS_MAX_BYTES: Final = 2 << 30
ORIGINALS_MAX_BYTES: Final = 4 << 30


class NoThumbnail(ClientError):
    """The file has no thumbnail (a format nothing could decode, a video without ffmpeg)."""


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


class ThumbnailCache:
    def __init__(self, root: Path, max_bytes: int = THUMBNAILS_MAX_BYTES) -> None:
        self._root = _private_dir(root)
        self._max = max_bytes
        self._lock = threading.Lock()
        self._since_trim = 0  # bytes stored since the last trim
        self._trim()

    def _path(self, f: LibraryFile) -> Path:
        return self._root / f"{f.id % 256:02x}" / f"{f.id}-{f.thumbnail_size}"

    def get(self, session: Session, f: LibraryFile) -> bytes:
        """The decrypted JPEG thumbnail of ``f``: :class:`NoThumbnail` when it has none,
        :class:`IntegrityFailure` when the stored one does not authenticate."""
        if f.thumbnail_size <= 0:
            raise NoThumbnail(f"{f.name} has no thumbnail")
        path = self._path(f)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError:
            sealed = session.api.thumbnail(f.id)
            self._store(path, sealed)
        try:
            return decrypt_bytes(f.file_key, sealed)
        except IntegrityError as err:
            path.unlink(missing_ok=True)
            raise IntegrityFailure(f"the thumbnail of {f.name} (file {f.id}): {err}") from err

    def _store(self, path: Path, sealed: bytes) -> None:
        _private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(sealed)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)  # a full disk costs the cache, not the answer
            return
        with self._lock:
            self._since_trim += len(sealed)
            due = self._since_trim > self._max // 20
        if due:  # a long-running app (beside the daemon) stays within its bound too
            self._trim()

    def _trim(self) -> None:
        """Drop the oldest entries while the cache is above its bound."""
        with self._lock:
            self._since_trim = 0
            entries = []
            total = 0
            for folder in self._root.iterdir():
                if not folder.is_dir():
                    continue
                for item in folder.iterdir():
                    st = item.stat()
                    entries.append((st.st_mtime, st.st_size, item))
                    total += st.st_size
            entries.sort()
            for _, size, item in entries:
                if total <= self._max:
                    break
                item.unlink(missing_ok=True)
                total -= size


class OriginalCache:
    def __init__(self, root: Path, max_bytes: int = ORIGINALS_MAX_BYTES) -> None:
        self._root = root
        self._max = max_bytes
        self._lock = threading.Lock()
        self._busy: dict[int, threading.Lock] = {}
        self._used: OrderedDict[int, tuple[list[Path], int]] = OrderedDict()  # id -> files
        self.clear()
        _private_dir(root)

    def clear(self) -> None:
        """Remove every decrypted original (at start and at stop)."""
        shutil.rmtree(self._root, ignore_errors=True)
        with self._lock:
            self._used.clear()

    def part(self, session: Session, f: LibraryFile, part: int = 0) -> Path:
        """The decrypted file of ``f`` (a Live Photo: part 0 the still, 1 the video),
        downloaded and checked on first use."""
        with self._lock:
            busy = self._busy.setdefault(f.id, threading.Lock())
        with busy:  # two range requests of one video wait for one download
            with self._lock:
                known = self._used.get(f.id)
                if known is not None and all(p.exists() for p in known[0]):
                    self._used.move_to_end(f.id)
                    return known[0][min(part, len(known[0]) - 1)]
            folder = _private_dir(self._root / str(f.id))
            target = folder / safe_component(f.metadata.restore_name())
            size = download_to(session, f, target)
            paths = [p for p, _, _ in part_targets(target, f)]
            with self._lock:
                self._used[f.id] = (paths, size)
                self._evict(keep=f.id)
            return paths[min(part, len(paths) - 1)]

    def _evict(self, keep: int) -> None:
        total = sum(size for _, size in self._used.values())
        for file_id in list(self._used):
            if total <= self._max:
                return
            if file_id == keep:
                continue
            paths, size = self._used.pop(file_id)
            shutil.rmtree(paths[0].parent, ignore_errors=True)
            total -= size
