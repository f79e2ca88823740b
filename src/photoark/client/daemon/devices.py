"""The daemon's device auto-import: a card, camera or phone that appears is imported on its
own when ``devices.auto_import`` is set, and a desktop notification says what was backed up
and how much of the device could be freed (or was, with ``devices.auto_free_up``).

- **Appearing**: the connected devices are listed
  (:func:`~photoark.client.devices.discover`, cheap: a read of mountinfo and a few
  ``listdir``) as soon as the mount table changes (:meth:`DeviceImports.follow`, a thread
  polling mountinfo), and every ``devices_every`` seconds (gvfs's MTP/PTP devices appear
  inside its one FUSE mount, which the mount table does not show); an id not in the previous
  listing has appeared. Devices present when the daemon
  starts count as appearing (importing a device already imported costs its stat-cache
  lookups and sends nothing).
- **Importing** goes through :func:`~photoark.client.devices.import_device` like ``photoark
  import`` (the daemon holds the home's lock; its change stream keeps the mirror current,
  and thumbnails are left to its idle work). A device unplugged mid-import is retried when it
  appears again; one that failed for another reason (server unreachable) on its next
  appearance, or when the daemon restarts.
- **Freeing space** is free-up-space's business, a layer above the client: the daemon is given
  a :data:`DeviceFreer` by whoever starts it (``photoark daemon`` gives
  :func:`photoark.optimize.devicefree.free_summary`); without one the notification says only
  what was backed up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from photoark.client.daemon.backups import batch_progress
from photoark.client.daemon.board import StatusPublisher
from photoark.client.daemon.watcher import Settler, wait_until_settled
from photoark.client.devices import Device, DeviceImport, discover, import_device
from photoark.client.devices.mounts import MountChanges
from photoark.client.devices.notify import notify
from photoark.client.errors import ClientError, ServerUnreachable
from photoark.client.pipeline.backup import BackupOptions
from photoark.client.session import Session
from photoark.client.settings import Settings
from photoark.client.state.devices import DeviceAlbums

__all__ = ["DeviceFreer", "DeviceImports", "FreeUpSummary", "summary_text"]

log = logging.getLogger(__name__)

FreeUpSummary = tuple[int, int, str | None]
"""(bytes that can be freed, bytes freed, why the device refused deletion or None)."""

DeviceFreer = Callable[[Session, Device, bool], FreeUpSummary]
"""Plan free-up on a device and, when the bool is True, apply it."""

LIST_TIMEOUT = 10.0
"""Seconds a look waits for the device listing: past them (a mount that does not answer, as a
hung FUSE filesystem) the daemon goes on without devices and the listing keeps running in its
own thread; no second one starts until it ends."""

SETTLE_TIMEOUT = 60.0


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} bytes"


def summary_text(result: DeviceImport, freed: FreeUpSummary | None) -> tuple[str, str]:
    """The notification's summary and body for an import (and its free-up)."""
    r = result.report
    d = result.device
    items = r.uploaded + r.added_to_album + r.skipped
    summary = f"{d.label}: {items} photo{'' if items == 1 else 's'} backed up"
    body = f"{r.uploaded} new, {r.bytes_uploaded:,} bytes sent, into album {result.album!r}."
    if r.failed:
        body += f" {len(r.failed)} could not be backed up (see photoark status)."
    if result.unplugged:
        summary = f"{d.label} was unplugged during the import"
        body += " Plug it in again: only what is missing will be sent."
    elif freed is not None:
        can_free, done, refused = freed
        if done:
            body += f" Freed {_size(done)} on the device."
        elif can_free:
            body += f" {_size(can_free)} could be freed: photoark import {d.id} --free-up."
        if refused:
            body += f" {refused}."
    return summary, body


class _Listing:
    """One device listing at a time, in a daemon thread of its own, so a filesystem that
    hangs a ``scandir`` hangs that thread only (and never holds the daemon's exit)."""

    def __init__(self, find: Callable[[], list[Device]]) -> None:
        self._find = find
        self._done = threading.Event()
        self._result: list[Device] | BaseException = []
        self._running = False

    def _run(self) -> None:
        try:
            self._result = self._find()
        except BaseException as err:  # handed to the loop thread, which logs it
            self._result = err
        self._done.set()

    def devices(self, timeout: float) -> list[Device] | None:
        """The connected devices, or ``None`` if the listing (this one or one still running
        from an earlier look) has not ended within ``timeout``. Raises what the listing
        raised."""
        if not self._running:
            self._running = True
            self._done.clear()
            threading.Thread(target=self._run, name="devices", daemon=True).start()
        if not self._done.wait(timeout):
            return None
        self._running = False
        result = self._result
        if isinstance(result, BaseException):
            raise result
        return result


class DeviceImports:
    """Looks for devices and imports the new ones; run from the daemon's loop thread."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        options: Callable[[], BackupOptions],
        status: StatusPublisher,
        freer: DeviceFreer | None = None,
        find: Callable[[], list[Device]] = discover,
        tell: Callable[[str, str], bool] = notify,
        list_timeout: float = LIST_TIMEOUT,
    ) -> None:
        self._session = session
        self._settings = settings
        self._options = options
        self._status = status
        self._freer = freer
        self._listing = _Listing(find)
        self._list_timeout = list_timeout
        self._tell = tell
        self._present: set[str] = set()
        self._waiting: list[Device] = []
        self._settler = Settler(float(settings.get("watch.settle_seconds")))
        self._mounts_changed = threading.Event()

    def follow(self, stop: threading.Event, wake: threading.Event) -> None:
        """The mounts thread: on every mount or unmount, ask for a look and ``wake`` the
        loop; until ``stop``."""
        changes = MountChanges()
        try:
            while not stop.is_set():
                if changes.wait(1.0):
                    self._mounts_changed.set()
                    wake.set()
        finally:
            changes.close()

    def due(self) -> bool:
        """Whether the mounts changed since the last call (then: look now)."""
        changed = self._mounts_changed.is_set()
        self._mounts_changed.clear()
        return changed

    def look(self) -> None:
        """List the devices; those that appeared since the last look wait to be imported."""
        if not self._settings.get("devices.auto_import"):
            self._present.clear()
            self._waiting.clear()
            return
        devices = self._listing.devices(self._list_timeout)
        if devices is None:
            log.warning(
                "listing the devices has taken over %.0f s (a mount that does not answer?):"
                " going on without them",
                self._list_timeout,
            )
            return
        now = {d.id for d in devices}
        for d in devices:
            if d.id not in self._present and all(w.id != d.id for w in self._waiting):
                log.info("%s (%s) appeared at %s", d.label, d.kind, d.path)
                self._waiting.append(d)
        self._waiting = [w for w in self._waiting if w.id in now]
        self._present = now

    def pending(self) -> bool:
        return bool(self._waiting)

    def import_next(self) -> bool:
        """Import the first device waiting; False if none was."""
        if not self._waiting:
            return False
        device = self._waiting.pop(0)
        album = DeviceAlbums(self._session.db).album_of(device.id, device.label)
        options = self._options()
        self._status.publish(state="backing_up")
        try:
            result = import_device(
                self._session,
                device,
                options=options,
                progress=batch_progress(self._status, album),
                settle=lambda paths: wait_until_settled(self._settler, paths, SETTLE_TIMEOUT),
                pull=False,
                thumbnails=False,  # made with the daemon's idle work
            )
        except Exception:
            self._present.discard(device.id)  # tried again when it is next seen
            raise
        finally:
            self._status.publish(current=None, last_backup=time.time())
        cut_short = options.cancel is not None and options.cancel.is_set()
        if result.unplugged or result.report.aborted or cut_short:
            self._present.discard(device.id)  # the rest when it is next seen (or unpaused)
        if result.report.aborted:
            raise ServerUnreachable(result.report.aborted, result.report.aborted_hint)
        freed = None
        if self._freer is not None and result.complete:
            apply = bool(self._settings.get("devices.auto_free_up"))
            try:
                freed = self._freer(self._session, device, apply)
            except (ClientError, OSError) as err:  # the backup is done; free-up is a bonus
                log.warning("free-up of %s failed: %s", device.label, err)
        summary, body = summary_text(result, freed)
        log.info("%s — %s", summary, body)
        r = result.report
        news = r.uploaded or r.added_to_album or r.failed or result.unplugged
        if news or (freed is not None and (freed[0] or freed[1] or freed[2])):
            self._tell(summary, body)  # a device already backed up and freed: the log only
        return True
