"""Freeing a device's space once its photos are backed up: ``free-up-space`` on its DCIM.

The rules are free-up's own (:mod:`.freeup`): a file goes only if its content is a live file
of the library, no upload of it is pending, the server holds its object with the right size
(and, with ``verify_download``, decrypts to the right hash), and it still has that content
when re-hashed right before it is deleted. Every other file is kept with its reason.

What differs for a device:

- files are **unlinked**, not moved to the desktop trash: the trash of a removable volume is
  a ``.Trash-UID`` folder on the volume itself, which frees nothing, and a camera or phone
  never shows it; but only a regular file of the device itself (:func:`on_device`: no link,
  nothing a link on the card leads to elsewhere);
- a **folder given by hand** that is no mount point (a copy of a card on this computer) is
  freed as ``free-up-space`` frees a folder: to the desktop trash;
- **a read-only device** (a card's lock switch, a mount with ``ro``) is not asked at all, and a
  device that **refuses deletion** (EROFS, EPERM, EACCES: some MTP phones, write-protected
  cards) is named as such: :attr:`DeviceFreeUp.refused` — a message, not a failure of the
  backup, which is complete either way.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from typing import Any

from photoark.client.devices import Device
from photoark.client.library.trash import trashed_hashes
from photoark.client.session import Session
from photoark.optimize.freeup import FreeUpPlan, FreeUpResult, apply_free_up, plan_free_up

__all__ = ["DeviceFreeUp", "NotOnDevice", "free_device", "free_summary", "on_device"]

_REFUSALS = frozenset({errno.EROFS, errno.EPERM, errno.EACCES})


@dataclass
class DeviceFreeUp:
    plan: FreeUpPlan
    result: FreeUpResult | None = None  # None: only planned (or the device is read-only)
    refused: str | None = None  # why the device deleted nothing it was asked to
    refused_paths: list[str] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        return self.result.bytes_freed if self.result else 0

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"can_free": self.plan.bytes, **self.plan.as_json()}
        if self.result is not None:  # kept: when planned (not backed up…) and when applied
            applied = self.result.as_json()
            out.update(applied, kept=out["kept"] + applied["kept"])
        out["refused"] = self.refused
        return out


def free_device(
    session: Session,
    device: Device,
    verify_download: bool = False,
    apply: bool = True,
    pull: bool = True,
) -> DeviceFreeUp:
    """Plan free-up on the device's DCIM and, with ``apply``, delete the candidates (see the
    module). Changes nothing on a read-only device. ``pull`` as for ``plan_free_up``."""
    plan = plan_free_up(
        session,
        list(device.dcims),
        verify_download=verify_download,
        trashed_hashes=lambda: trashed_hashes(session),
        pull=pull,
    )
    out = DeviceFreeUp(plan)
    if not apply or not plan.candidates:
        return out
    if device.read_only:
        out.refused = (
            f"{device.label} is read-only (a card's lock switch, or mounted read-only): nothing"
            " was deleted; its photos are backed up"
        )
        return out

    if device.via == "folder":
        # a folder on this computer, given by hand: free-up-space's own way, the desktop trash
        out.result = apply_free_up(session, plan.candidates)
        return out
    root = os.path.realpath(device.path)
    root_dev = os.stat(root).st_dev

    def unlink(path: str) -> None:
        on_device(path, root, root_dev)
        try:
            os.unlink(path)
        except OSError as err:
            if err.errno in _REFUSALS:
                out.refused_paths.append(path)
            raise

    out.result = apply_free_up(session, plan.candidates, permanent=True, remove=unlink)
    if out.refused_paths:
        out.refused = (
            f"{device.label} refused to delete {len(out.refused_paths)} file(s) (read-only or"
            " write-protected): they stay on it; its photos are backed up"
        )
    return out


class NotOnDevice(OSError):
    """A candidate that is not a regular file of the device itself: never deleted."""


def on_device(path: str, root: str, root_dev: int) -> None:
    """Raise :class:`NotOnDevice` unless ``path`` is a regular file (not a symbolic link)
    whose real place is under the device's real ``root``, on its filesystem (``root_dev``):
    a link on a card (``DCIM/101LINK -> ~/Pictures``) is followed by the scan, and what it
    leads to is not the device's to delete."""
    st = os.lstat(path)
    real = os.path.realpath(path)
    if not stat.S_ISREG(st.st_mode) or st.st_dev != root_dev:
        raise NotOnDevice(f"not a file of the device itself: {path}")
    if not real.startswith(root.rstrip("/") + "/"):
        raise NotOnDevice(f"{path} leads outside the device ({real})")


def free_summary(session: Session, device: Device, apply: bool) -> tuple[int, int, str | None]:
    """:func:`free_device` as the daemon's device auto-import wants it (a ``DeviceFreer``):
    (bytes that can be freed, bytes freed, why the device refused or None)."""
    freed = free_device(session, device, apply=apply, pull=False)  # the follower pulls
    return freed.plan.bytes, freed.bytes_freed, freed.refused
