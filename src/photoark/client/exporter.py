"""Export: decrypt every original back to ``DEST/<album>/<name>``, byte-identical.

Each file is downloaded (streamed, bounded memory), authenticated chunk by chunk, written to a
temporary file beside its target, checked against the BLAKE3 hash and size in its metadata,
fsynced and renamed into place; its modification time is set to when the photo was taken. A
file that fails any check is never renamed into place: a partial or wrong file is never left
behind under the real name. Running export again writes only what is missing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import blake3

from photoark.client import sync
from photoark.client.describe import restore_name
from photoark.client.errors import ClientError, IntegrityFailure, ServerUnreachable
from photoark.client.library import header_of
from photoark.client.session import Session
from photoark.client.state.mirror import Album, LibraryFile
from photoark.crypto.errors import IntegrityError
from photoark.crypto.hashing import hash_file
from photoark.crypto.stream import decrypt_stream

__all__ = ["ExportReport", "export", "safe_component", "target_names"]


@dataclass
class ExportReport:
    written: int = 0
    existing: int = 0
    bytes_written: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    integrity_failures: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "existing": self.existing,
            "bytes_written": self.bytes_written,
            "failed": self.failed,
        }


def safe_component(name: str) -> str:
    """A name usable as one path component: no separators, not ``.``/``..``, not empty."""
    cleaned = name.replace("/", "\u2215").replace("\x00", "")
    if cleaned in ("", ".", ".."):
        cleaned = f"_{cleaned}_"
    return cleaned


def target_names(files: list[LibraryFile]) -> dict[int, str]:
    """File id → name inside its album folder, unique even on a case-insensitive disk.

    Names that clash get ``~<id>`` (then ``~<id>-2``…) before the extension, for every file but
    the oldest, so the mapping is stable across runs."""
    names: dict[int, str] = {}
    used: set[str] = set()
    for f in sorted(files, key=lambda f: f.id):
        wanted = safe_component(restore_name(f.metadata))
        stem, ext = os.path.splitext(wanted)
        name, n = wanted, 1
        while name.casefold() in used:
            name = f"{stem}~{f.id}{ext}" if n == 1 else f"{stem}~{f.id}-{n}{ext}"
            n += 1
        used.add(name.casefold())
        names[f.id] = name
    return names


def already_exported(target: Path, f: LibraryFile) -> bool:
    """True when ``target`` holds exactly this file's content (size, then BLAKE3)."""
    try:
        if not target.is_file() or target.stat().st_size != f.size:
            return False
        return hash_file(target) == f.hash
    except OSError:
        return False


def taken_timestamp(f: LibraryFile) -> float | None:
    if f.taken_at_utc is not None:
        return float(f.taken_at_utc)
    if f.taken_at:
        try:
            return datetime.fromisoformat(f.taken_at).timestamp()  # naive → local time
        except ValueError:
            pass
    mtime_ns = f.metadata.get("mtime_ns")
    return mtime_ns / 1e9 if isinstance(mtime_ns, int) else None


def download_to(session: Session, f: LibraryFile, target: Path) -> int:
    """Decrypt ``f`` into ``target`` atomically; returns bytes written."""
    fd, tmp_name = tempfile.mkstemp(prefix=".photoark-", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        h = blake3.blake3()
        size = 0
        with os.fdopen(fd, "wb") as out:
            pieces = session.api.iter_content(f.id)
            for plain in decrypt_stream(f.file_key, pieces, header_of(f)):
                h.update(plain)
                size += len(plain)
                out.write(plain)
            out.flush()
            os.fsync(out.fileno())
        if size != f.size or h.hexdigest() != f.hash:
            raise IntegrityFailure(
                f"{f.name} (file {f.id}): decrypted content does not match its recorded hash"
            )
        when = taken_timestamp(f)
        if when is not None:
            os.utime(tmp, (when, when))
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        return size
    except IntegrityError as err:
        raise IntegrityFailure(f"{f.name} (file {f.id}): {err}") from err
    finally:
        if tmp.exists():
            tmp.unlink()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def export(
    session: Session,
    dest: Path,
    album_name: str | None = None,
    on_file: Callable[[LibraryFile, str], None] = lambda f, outcome: None,
) -> ExportReport:
    sync.pull(session)
    report = ExportReport()
    albums: list[Album] = session.mirror.albums()
    if album_name is not None:
        albums = [a for a in albums if a.name == album_name]
        if not albums:
            raise ClientError(
                f"no album named {album_name!r}", "list albums with `photoark albums`"
            )
    album_ids = {a.id for a in albums}
    for row in session.db.query("SELECT collection_id, file_id, error FROM broken_entries"):
        if row["collection_id"] in album_ids or album_name is None:
            report.failed.append({"file_id": str(row["file_id"]), "error": row["error"]})
            report.integrity_failures += 1
    for album in albums:
        folder = dest / safe_component(album.name)
        files = session.mirror.files_in_album(album.id)
        names = target_names(files)
        for f in files:
            target = folder / names[f.id]
            if already_exported(target, f):
                report.existing += 1
                on_file(f, "existing")
                continue
            try:
                folder.mkdir(parents=True, exist_ok=True)
                report.bytes_written += download_to(session, f, target)
                report.written += 1
                on_file(f, "written")
            except ServerUnreachable:
                raise  # every other file would fail the same way, slowly
            except (ClientError, OSError) as err:
                if isinstance(err, IntegrityFailure):
                    report.integrity_failures += 1
                report.failed.append({"file_id": str(f.id), "path": str(target), "error": str(err)})
                on_file(f, "failed")
    return report
