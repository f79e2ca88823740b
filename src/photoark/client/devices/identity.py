"""A device's stable id and its label.

The id must be the same every time the same card is plugged in, wherever it is mounted, so
that its album is remembered (:mod:`photoark.client.state.devices`). In order:

1. the filesystem UUID the system names in ``/dev/disk/by-uuid`` (udev's links; udisks2 reads
   the same), and the label in ``/dev/disk/by-label``;
2. else the volume serial number read from the filesystem's boot sector (exFAT at byte 100,
   FAT32 at 67, FAT12/16 at 39: what ``blkid`` shows as ``UUID="XXXX-XXXX"``), when the block
   device can be read (udev absent, as in containers);
3. else a hash of the mount's source and mount point (``path-…``): stable while the device is
   mounted at the same place, which is the best that can be said without either.

gvfs devices (``mtp:host=…``, ``gphoto2:host=…``) carry the USB serial in their name: that is
their id. Labels fall back to the mount point's name (udisks2 mounts at ``/media/USER/LABEL``).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from photoark.client.devices.mounts import Mount

__all__ = ["BY_LABEL", "BY_UUID", "Identity", "block_identity", "gvfs_identity", "volume_serial"]

BY_UUID = Path("/dev/disk/by-uuid")
BY_LABEL = Path("/dev/disk/by-label")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Identity:
    id: str
    label: str


def _linked_to(folder: Path, device: str) -> str | None:
    """The name of the link in ``folder`` that points at ``device`` (udev escapes: \\x20)."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None
    target = os.path.realpath(device)
    for name in names:
        if os.path.realpath(folder / name) == target:
            return name.encode("ascii", "backslashreplace").decode("unicode_escape")
    return None


def volume_serial(boot_sector: bytes) -> str | None:
    """The volume serial of an exFAT or FAT boot sector, as ``XXXX-XXXX``; None for another
    filesystem (or too short a read)."""
    if len(boot_sector) < 512:
        return None
    if boot_sector[3:11] == b"EXFAT   ":
        offset = 100
    elif boot_sector[82:90] == b"FAT32   ":
        offset = 67
    elif boot_sector[54:59] in (b"FAT12", b"FAT16"):
        offset = 39
    else:
        return None
    serial = int.from_bytes(boot_sector[offset : offset + 4], "little")
    return f"{serial >> 16:04X}-{serial & 0xFFFF:04X}"


def _read_serial(device: str) -> str | None:
    try:
        with open(device, "rb") as f:
            return volume_serial(f.read(512))
    except OSError:
        return None


def block_identity(mount: Mount, by_uuid: Path = BY_UUID, by_label: Path = BY_LABEL) -> Identity:
    """The id and label of a block-device mount (see the module's order)."""
    label = _linked_to(by_label, mount.source) if mount.is_block else None
    label = label or os.path.basename(mount.mount_point.rstrip("/")) or mount.source
    uuid = _linked_to(by_uuid, mount.source) if mount.is_block else None
    if uuid is None and mount.is_block:
        uuid = _read_serial(mount.source)
    if uuid is not None:
        return Identity(f"uuid-{uuid}", label)
    digest = hashlib.sha256(f"{mount.source}\0{mount.mount_point}".encode()).hexdigest()
    return Identity(f"path-{digest[:12]}", label)


def gvfs_identity(name: str) -> Identity:
    """The id and label of a gvfs mount named ``name`` (``mtp:host=SAMSUNG_…_R58M12``)."""
    scheme, _, rest = name.partition(":")
    host = unquote(rest.partition("host=")[2] or rest)
    label = host.replace("_", " ").strip() or name
    return Identity(f"{scheme}-{_UNSAFE.sub('_', host)}", label)
