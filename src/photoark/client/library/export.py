"""Export: decrypt every original back to ``DEST/<album>/<folders>/<name>``, byte-identical.

- **Layout**: the folders are the file's own under the folder that was backed up (its
  ``relative_path``, checked when the metadata was read and each component made safe again
  here, so nothing is written outside ``DEST``); a file backed up before that was recorded, or
  every file with ``flat``, goes to ``DEST/<album>/<name>``. A Live Photo's video goes beside
  its still. Paths that clash get ``~<id>`` (:func:`target_names`).
- **Atomic and checked**: each file is downloaded (streamed, bounded memory), authenticated
  chunk by chunk, written to a temporary file beside its target (0600 while it is written),
  checked against the BLAKE3 hash and size in its metadata, fsynced, given its original
  modification time (each Live Photo part its own; else when the photo was taken) and the
  permissions the umask gives a new file, and renamed into place. A file that fails any check
  is never renamed into place: a partial or wrong file is never left behind under the real name.
  Running export again writes only what is missing. An error every file would meet (the
  server or its object store out of reach, the store refusing every address the server signs)
  stops the export at once, with its hint.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import blake3

from photoark.client.errors import ClientError, IntegrityFailure, ServerUnreachable, UrlExpired
from photoark.client.library import sync
from photoark.client.library.records import header_of
from photoark.client.session import Session
from photoark.client.state.mirror import Album, LibraryFile
from photoark.crypto.errors import IntegrityError
from photoark.crypto.hashing import hash_file
from photoark.crypto.stream import decrypt_stream
from photoark.protocol.metadata import clean_relative_path

__all__ = ["ExportReport", "export", "safe_component", "target_names", "wanted_path"]


@dataclass
class ExportReport:
    """``written``/``existing`` count library items; ``files_written`` the files on disk (a
    Live Photo is one item of two files)."""

    written: int = 0
    existing: int = 0
    files_written: int = 0
    bytes_written: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    integrity_failures: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "files_written": self.files_written,
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


def wanted_path(f: LibraryFile, flat: bool = False) -> str:
    """Where ``f`` would go inside its album folder, ``/``-separated: its folders under the one
    backed up, then its own name (the exact bytes, from ``name_bytes``); its name alone when
    ``flat`` or when no (safe) ``relative_path`` was recorded."""
    name = safe_component(f.metadata.restore_name())
    where = None if flat else clean_relative_path(f.metadata.relative_path)  # checked again
    if where is None:
        return name
    return "/".join([*(safe_component(part) for part in where.split("/")[:-1]), name])


def _folders_of(path: str) -> list[str]:
    """``a/b/c.jpg`` → ``["a", "a/b"]``."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def target_names(files: list[LibraryFile], flat: bool = False) -> dict[int, str]:
    """File id → path inside its album folder (``/``-separated, see :func:`wanted_path`),
    unique even on a case-insensitive disk.

    Paths that clash (with another file's, or with a folder another file needs) get ``~<id>``
    (then ``~<id>-2``…) before the extension, for every file but the oldest, so the mapping is
    stable across runs. A file whose folder would be another file's path goes to the album's
    top level, under its name."""
    names: dict[int, str] = {}
    used: set[str] = set()  # files' paths, case-folded
    folders: set[str] = set()  # folders' paths, case-folded
    for f in sorted(files, key=lambda f: f.id):
        wanted = wanted_path(f, flat)
        if any(d.casefold() in used for d in _folders_of(wanted)):
            wanted = wanted_path(f, flat=True)
        stem, ext = os.path.splitext(wanted)
        video_ext = _video_ext(f)  # a Live Photo's video needs its name free too

        def taken(candidate: str, video_ext: str | None = video_ext) -> list[str]:
            names = [candidate]
            if video_ext is not None:
                names.append(os.path.splitext(candidate)[0] + video_ext)
            return [n.casefold() for n in names]

        name, n = wanted, 1
        while any(t in used or t in folders for t in taken(name)):
            name = f"{stem}~{f.id}{ext}" if n == 1 else f"{stem}~{f.id}-{n}{ext}"
            n += 1
        used.update(taken(name))
        folders.update(d.casefold() for d in _folders_of(name))
        names[f.id] = name
    return names


def _video_ext(f: LibraryFile) -> str | None:
    """The extension of a Live Photo's video part (exported beside the still), else None."""
    parts = f.metadata.parts
    if f.type != "live" or parts is None or len(parts) != 2:
        return None
    return os.path.splitext(safe_component(parts[1].restore_name()))[1]


def part_targets(target: Path, f: LibraryFile) -> list[tuple[Path, int, str]]:
    """Where each part of ``f`` goes, with its size and hash: ``target`` alone for a plain
    file; for a Live Photo the still at ``target`` and the video beside it, same stem (so a
    renamed still keeps its video), its own extension."""
    video_ext = _video_ext(f)
    if video_ext is None:
        return [(target, f.size, f.hash)]
    parts = f.metadata.parts
    assert parts is not None  # _video_ext checked
    video = target.with_name(os.path.splitext(target.name)[0] + video_ext)
    return [
        (target, parts[0].size, parts[0].hash),
        (video, parts[1].size, parts[1].hash),
    ]


def already_exported(target: Path, f: LibraryFile) -> bool:
    """True when ``target`` (and a Live Photo's video) hold exactly this file's content."""
    try:
        for path, size, content_hash in part_targets(target, f):
            if not path.is_file() or path.stat().st_size != size:
                return False
            if hash_file(path) != content_hash:
                return False
        return True
    except OSError:
        return False


def part_mtimes_ns(f: LibraryFile) -> list[int | None]:
    """The modification time to give each file of ``f`` (as :func:`part_targets` lists them):
    the one it had when it was backed up (a Live Photo part its own, else the item's), else
    when the photo was taken; ``None``: nothing known."""
    item = f.metadata.mtime_ns
    if item is None:
        when = taken_timestamp(f)
        item = None if when is None else round(when * 1e9)
    parts = f.metadata.parts
    if _video_ext(f) is None or parts is None:
        return [item]
    return [item if p.mtime_ns is None else p.mtime_ns for p in parts]


def new_file_mode() -> int:
    """The permissions a new file gets here: 0o666 without the process's umask."""
    return 0o666 & ~_umask()


def _umask() -> int:
    with (
        contextlib.suppress(OSError, ValueError, IndexError),
        open("/proc/self/status", encoding="ascii", errors="replace") as status,
    ):
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    old = os.umask(0o077)  # no /proc: read by setting it (to the strict side, meanwhile)
    os.umask(old)
    return old


def taken_timestamp(f: LibraryFile) -> float | None:
    if f.taken_at_utc is not None:
        return float(f.taken_at_utc)
    if f.taken_at:
        try:
            return datetime.fromisoformat(f.taken_at).timestamp()  # naive → local time
        except ValueError:
            pass
    mtime_ns = f.metadata.mtime_ns
    return mtime_ns / 1e9 if mtime_ns is not None else None


def _decrypt_parts(
    session: Session,
    f: LibraryFile,
    parts: list[tuple[Path, int, str]],
    sink: Callable[[int, memoryview], object],
) -> None:
    """Download and decrypt ``f``, handing each plaintext piece to ``sink(part index, piece)``
    (a Live Photo's stream splits at its parts' sizes), then check every part's size and
    BLAKE3 against the recorded ones: :class:`IntegrityFailure` if any differs."""
    hashes = [blake3.blake3() for _ in parts]
    written = [0 for _ in parts]
    index = 0
    try:
        for plain in decrypt_stream(f.file_key, session.api.iter_content(f.id), header_of(f)):
            view = memoryview(plain)
            while view:
                room = parts[index][1] - written[index] if index < len(parts) - 1 else len(view)
                if room == 0:
                    index += 1
                    continue
                piece = view[:room]
                hashes[index].update(piece)
                sink(index, piece)
                written[index] += len(piece)
                view = view[room:]
    except IntegrityError as err:
        raise IntegrityFailure(f"{f.name} (file {f.id}): {err}") from err
    for (_, size, content_hash), n, h in zip(parts, written, hashes, strict=True):
        if n != size or h.hexdigest() != content_hash:
            raise IntegrityFailure(
                f"{f.name} (file {f.id}): decrypted content does not match its recorded hash"
            )


def verify_server_copy(session: Session, f: LibraryFile) -> None:
    """Download and decrypt ``f`` without writing it, and check it against its recorded
    hash(es): :class:`IntegrityFailure` if the server copy is not the photo."""
    _decrypt_parts(session, f, part_targets(Path("check"), f), lambda index, piece: None)


def download_to(session: Session, f: LibraryFile, target: Path, mode: int | None = None) -> int:
    """Decrypt ``f`` into ``target`` (a Live Photo: its two files) atomically; returns bytes
    written. Each part is checked against its recorded size and BLAKE3 before it is renamed
    into place, so a wrong byte never lands under the real name. Each file gets its original
    modification time (:func:`part_mtimes_ns`), and ``mode`` as permissions (``None``: 0600,
    as it was written: for a private cache)."""
    parts = part_targets(target, f)
    temps: list[Path] = []
    try:
        with contextlib.ExitStack() as closing:  # every temporary file closed, however we leave
            outs = []
            for path, _, _ in parts:
                fd, name = tempfile.mkstemp(prefix=".photoark-", suffix=".part", dir=path.parent)
                temps.append(Path(name))
                outs.append(closing.enter_context(os.fdopen(fd, "wb")))
            _decrypt_parts(session, f, parts, lambda index, piece: outs[index].write(piece))
            for out in outs:
                out.flush()
                os.fsync(out.fileno())
        times = part_mtimes_ns(f)
        for (path, _, _), tmp, when in zip(parts, temps, times, strict=True):
            if mode is not None:
                os.chmod(tmp, mode)
            if when is not None:
                os.utime(tmp, ns=(when, when))
            os.replace(tmp, path)
        _fsync_dir(target.parent)
        return sum(size for _, size, _ in parts)
    finally:
        for tmp in temps:
            if tmp.exists():
                tmp.unlink()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _inside(folder: Path, target: Path) -> bool:
    return os.path.normpath(target).startswith(os.path.join(os.path.normpath(folder), ""))


def _check_dest(dest: Path) -> None:
    """:class:`ClientError` unless ``dest`` is a folder or can be made one (its nearest
    existing ancestor is a folder): one clear error instead of one per file."""
    probe = dest
    while not probe.exists() and not probe.is_symlink() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        what = "it is" if probe == dest else f"{probe} is"
        raise ClientError(
            f"cannot export to {dest}: {what} not a folder",
            "give a folder to export into (it is created if missing)",
        )


def _make_dest(dest: Path) -> None:
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ClientError(
            f"cannot create the folder {dest}: {err.strerror or err}",
            "give a folder you can write to",
        ) from err


def export(
    session: Session,
    dest: Path,
    album_name: str | None = None,
    on_file: Callable[[LibraryFile, str], None] = lambda f, outcome: None,
    *,
    flat: bool = False,
) -> ExportReport:
    """Export every album (or ``album_name``) into ``dest`` (see the module docstring);
    ``flat``: every file at its album's top level, under its name."""
    _check_dest(dest)
    sync.pull(session)
    report = ExportReport()
    albums: list[Album] = session.mirror.albums()
    if album_name is not None:
        albums = [a for a in albums if a.name == album_name]
        if not albums:
            raise ClientError(
                f"no album named {album_name!r}", "list albums with `photoark albums`"
            )
    _make_dest(dest)
    mode = new_file_mode()
    album_ids = {a.id for a in albums}
    for album_id, file_id, error in session.mirror.broken_entries():
        if album_id in album_ids or album_name is None:
            report.failed.append({"file_id": str(file_id), "error": error})
            report.integrity_failures += 1
    for album in albums:
        folder = dest / safe_component(album.name)
        files = session.mirror.files_in_album(album.id)
        names = target_names(files, flat)
        for f in files:
            target = folder.joinpath(*names[f.id].split("/"))
            if not _inside(folder, target):  # cannot happen (safe components): never trusted
                report.failed.append({"file_id": str(f.id), "error": "unsafe path"})
                on_file(f, "failed")
                continue
            if already_exported(target, f):
                report.existing += 1
                on_file(f, "existing")
                continue
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                report.bytes_written += download_to(session, f, target, mode)
                report.written += 1
                report.files_written += len(part_targets(target, f))
                on_file(f, "written")
            except (ServerUnreachable, UrlExpired):
                # every other file would fail the same way, slowly: the server or its store is
                # out of reach, or the store refuses the server's fresh addresses (its clock,
                # its credentials); the files written so far stay, a run again goes on
                raise
            except (ClientError, OSError) as err:
                if isinstance(err, IntegrityFailure):
                    report.integrity_failures += 1
                report.failed.append({"file_id": str(f.id), "path": str(target), "error": str(err)})
                on_file(f, "failed")
    return report
