"""Which connected devices hold photos: every mount with a ``DCIM/`` folder.

Where devices come from (each optional, each injectable through :class:`Sources` for tests):

- **mounts** (``/proc/self/mountinfo``, :mod:`.mounts`): cards in a reader and cameras or
  phones that present themselves as USB storage, mounted by udisks2 (the desktop's automount),
  by hand, or FUSE (``mount.exfat-fuse``);
- **gvfs** (``$XDG_RUNTIME_DIR/gvfs/``): MTP phones and PTP cameras the desktop mounted as
  ``mtp:host=…`` / ``gphoto2:host=…`` folders; an MTP phone's ``DCIM`` sits one level down,
  under its storage (``Internal shared storage/DCIM``);
- **udisks2** (:mod:`.udisks`) only adds ids and labels when udev's links are missing.

A ``DCIM`` folder is matched without regard to case (FAT/exFAT cards show ``dcim`` on some
systems). What is not found: MTP/PTP devices when gvfs is not running (libgphoto2 is not used
for importing, see ``photoark doctor``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from photoark.client.devices.identity import (
    BY_LABEL,
    BY_UUID,
    Identity,
    block_identity,
    gvfs_identity,
    made_from_place,
)
from photoark.client.devices.kinds import Kind, classify
from photoark.client.devices.mounts import MOUNTINFO, Mount, read_mounts
from photoark.client.devices.udisks import block_ids

__all__ = ["Device", "Sources", "dcim_of", "discover", "gvfs_root"]


@dataclass(frozen=True)
class Device:
    """A connected device holding photos: ``path`` is where it is mounted, ``dcim`` its photo
    folder."""

    id: str
    label: str
    kind: Kind
    path: str
    dcim: str
    read_only: bool = False
    via: str = "mount"  # mount | gvfs | folder (a path given by hand that is no mount point)
    more_dcims: tuple[str, ...] = ()
    """The other storages' photo folders of a device with several (an MTP phone's internal
    storage and its SD card); :attr:`dcims` names them all."""

    @property
    def dcims(self) -> tuple[str, ...]:
        """Every photo folder of the device, :attr:`dcim` first."""
        return (self.dcim, *self.more_dcims)


def gvfs_root() -> Path | None:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "gvfs" if runtime else None


@dataclass(frozen=True)
class Sources:
    """Where :func:`discover` looks (the system's by default; tests give their own)."""

    mountinfo: Path = MOUNTINFO
    gvfs: Path | None = field(default_factory=gvfs_root)
    by_uuid: Path = BY_UUID
    by_label: Path = BY_LABEL
    udisks: Callable[[], dict[str, Identity] | None] = block_ids


def dcim_of(root: str, depth: int = 1) -> str | None:
    """The ``DCIM`` folder in ``root`` (any case), or in a folder right under it (an MTP
    phone's storages) when ``depth`` allows: the first of :func:`dcims_of`."""
    found = dcims_of(root, depth)
    return found[0] if found else None


def dcims_of(root: str, depth: int = 1) -> list[str]:
    """The ``DCIM`` folder in ``root`` (any case); without one, when ``depth`` allows, those
    of the folders right under it, in name order (an MTP phone's storages: its internal
    storage and its SD card each have one)."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        if entry.name.lower() == "dcim" and _is_dir(entry):
            return [entry.path]
    found: list[str] = []
    if depth > 0:
        for entry in entries:
            if not entry.name.startswith(".") and _is_dir(entry):
                found.extend(dcims_of(entry.path, depth - 1))
    return found


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _from_mount(mount: Mount, sources: Sources, udisks: dict[str, Identity]) -> Device | None:
    if mount.mount_point == "/":
        return None
    dcim = dcim_of(mount.mount_point, depth=0)
    if dcim is None:
        return None
    ident = block_identity(mount, sources.by_uuid, sources.by_label)
    known = udisks.get(mount.source)
    if known is not None and made_from_place(ident.id):
        ident = Identity(known.id, known.label or ident.label)
    return Device(ident.id, ident.label, classify(dcim), mount.mount_point, dcim, mount.read_only)


def _from_gvfs(folder: Path) -> list[Device]:
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    devices = []
    for name in names:
        root = str(folder / name)
        dcims = dcims_of(root, depth=1)
        if not dcims:
            continue
        ident = gvfs_identity(name)
        scheme = name.partition(":")[0]
        kind = classify(dcims[0], scheme)
        devices.append(
            Device(
                ident.id, ident.label, kind, root, dcims[0], via="gvfs", more_dcims=tuple(dcims[1:])
            )
        )
    return devices


def discover(sources: Sources | None = None) -> list[Device]:
    """The connected devices holding photos, each once (a mount seen twice, bind mounts,
    counts once: the first mount point of its id)."""
    sources = sources or Sources()
    mounts = read_mounts(sources.mountinfo)
    udisks: dict[str, Identity] = {}
    if any(m.is_block and dcim_of(m.mount_point, 0) for m in mounts if m.mount_point != "/"):
        udisks = sources.udisks() or {}
    devices: list[Device] = []
    seen: set[str] = set()
    for mount in mounts:
        device = _from_mount(mount, sources, udisks)
        if device is not None and device.id not in seen:
            seen.add(device.id)
            devices.append(device)
    if sources.gvfs is not None:
        devices.extend(d for d in _from_gvfs(sources.gvfs) if d.id not in seen)
    return devices
