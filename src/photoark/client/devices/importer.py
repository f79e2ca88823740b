"""Importing a device: its ``DCIM/`` backed up through the backup pipeline, into its album.

Nothing here decides what to send: :func:`~photoark.client.pipeline.backup.backup_found` does,
with ``backup``'s rules (content already in the library is added by reference, never sent
again; the same name with other content is another photo, as when a camera restarts at
IMG_0001 on a new card). What importing adds:

- **the album**: the one given (remembered for the device), else the device's remembered one,
  else its label (:class:`~photoark.client.state.devices.DeviceAlbums`);
- **the device going away** (unplugged mid-import): files not yet committed fail with the
  read error; the pipeline commits only whole files, and parts already acknowledged stay in the
  upload queue, so the next import of the device (mounted at the same place) resumes them and
  sends only what is missing. :attr:`DeviceImport.unplugged` says so;
- **files changing during the import** (a camera writing to its card while plugged in): after
  the run the folder is scanned again; files that are new, or whose size or mtime moved since
  the first scan, are waited for until they hold still (``settle``, injected: the CLI and the
  daemon give the daemon's settler) and backed up in a second run, once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from photoark.client.devices.discovery import Device
from photoark.client.devices.seen import forget_another_devices_files, forget_path_versions
from photoark.client.lock import exclusive
from photoark.client.pipeline.backup import (
    BackupOptions,
    BackupProgress,
    BackupReport,
    backup_found,
)
from photoark.client.pipeline.orphans import abort_orphan_uploads
from photoark.client.pipeline.scanner import Found, scan_split
from photoark.client.session import Session
from photoark.client.state.devices import DeviceAlbums

__all__ = ["DeviceImport", "Settle", "import_device", "still_there"]

Settle = Callable[[list[str]], tuple[list[str], list[str]]]
"""Wait for paths to hold still: (settled, still changing)."""


def _no_wait(paths: list[str]) -> tuple[list[str], list[str]]:
    return paths, []


def still_there(device: Device, st_dev: int | None = None) -> bool:
    """Whether the device's photo folder can still be read (an unplugged card's mount point
    is gone, empty, or answers ENOTCONN/EIO), and, given the ``st_dev`` its folder had when
    the import began, is still that filesystem (not another card mounted in its place)."""
    try:
        os.listdir(device.dcim)
        return st_dev is None or os.stat(device.dcim).st_dev == st_dev
    except OSError:
        return False


@dataclass
class DeviceImport:
    device: Device
    album: str
    report: BackupReport
    retried: list[str] = field(default_factory=list)  # changed during the run, taken once still
    still_changing: list[str] = field(default_factory=list)  # left for the next import
    unplugged: bool = False

    @property
    def complete(self) -> bool:
        """Every photo of the device is in the library (as far as this run saw)."""
        r = self.report
        return not (self.unplugged or r.aborted or r.failed or self.still_changing)

    def as_json(self) -> dict[str, Any]:
        d = self.device
        return {
            "device": {"id": d.id, "label": d.label, "kind": d.kind, "path": d.path},
            "album": self.album,
            **self.report.as_json(),
            "retried_after_settling": self.retried,
            "still_changing": self.still_changing,
            "unplugged": self.unplugged,
        }


def _stat_key(st: os.stat_result) -> tuple[int, int]:
    return st.st_size, st.st_mtime_ns


def _merge(first: BackupReport, again: BackupReport, retried: set[str]) -> None:
    """Fold the retry run's report into the first one: its failures replace the first run's
    for the retried paths."""
    first.failed = [f for f in first.failed if f["path"] not in retried] + again.failed
    first.uploaded += again.uploaded
    first.skipped += again.skipped
    first.added_to_album += again.added_to_album
    first.bytes_uploaded += again.bytes_uploaded
    first.live_photos += again.live_photos
    first.deleted_from_backup += again.deleted_from_backup
    first.aborted = first.aborted or again.aborted
    first.aborted_hint = first.aborted_hint or again.aborted_hint
    first.quota_exceeded = first.quota_exceeded or again.quota_exceeded
    first.seconds += again.seconds


def import_device(
    session: Session,
    device: Device,
    album: str | None = None,
    options: BackupOptions | None = None,
    progress: BackupProgress | None = None,
    settle: Settle = _no_wait,
    pull: bool = True,
    thumbnails: bool = True,
    take_lock: bool = False,
) -> DeviceImport:
    """Back up ``device``'s DCIM folder (see the module). ``album`` given: used and remembered
    for the device. ``pull`` and ``thumbnails`` as for ``backup_found``.

    The caller holds the home's lock (the daemon), or ``take_lock``: taken here, as ``photoark
    import`` does (refused while a daemon runs on the home: it imports devices itself), and
    upload sessions an earlier run left unrecorded are aborted first, as ``backup`` does."""
    if take_lock:
        with exclusive(session.home, "import"):
            abort_orphan_uploads(session.api, session.db)
            return import_device(
                session, device, album, options, progress, settle, pull, thumbnails
            )
    forget_another_devices_files(session.db, device)
    forget_path_versions(session.db, device)
    albums = DeviceAlbums(session.db)
    if album:
        albums.remember(device.id, album)
    name = album or albums.album_of(device.id, device.label)
    options = options or BackupOptions()
    roots = list(device.dcims)
    try:
        st_dev: int | None = os.stat(device.dcim).st_dev
    except OSError:
        st_dev = None  # gone already: the scan finds nothing, and it is said unplugged below
    found, passed = scan_split(roots)
    report = backup_found(session, found, passed, roots, name, options, progress, pull, thumbnails)
    result = DeviceImport(device, name, report)
    if not still_there(device, st_dev):
        result.unplugged = True
        return result
    if report.aborted or (options.cancel is not None and options.cancel.is_set()):
        return result
    before = {f.path: _stat_key(f.stat) for f in found}
    again, _ = scan_split(roots)
    moved = [f.path for f in again if before.get(f.path) != _stat_key(f.stat)]
    if not moved:
        return result
    settled, result.still_changing = settle(moved)
    retry = []
    for path in settled:
        try:
            retry.append(Found(path, os.stat(path)))
        except OSError:
            continue  # gone meanwhile (deleted on the camera, or the card unplugged)
    if retry:
        second = backup_found(session, retry, [], roots, name, options, progress, False, thumbnails)
        _merge(report, second, {f.path for f in retry})
        result.retried = [f.path for f in retry]
    result.unplugged = not still_there(device, st_dev)
    return result
