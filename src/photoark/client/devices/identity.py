"""A device's stable id and its label.

The id must be the same every time the same card is plugged in, wherever it is mounted, so
that its album is remembered (:mod:`photoark.client.state.devices`). In order:

1. the filesystem UUID the system names in ``/dev/disk/by-uuid`` (udev's links; udisks2 reads
   the same), and the label in ``/dev/disk/by-label``;
2. else the volume serial number read from the filesystem's boot sector (exFAT at byte 100,
   FAT32 at 67, FAT12/16 at 39: what ``blkid`` shows as ``UUID="XXXX-XXXX"``), and the label
   from the boot sector (FAT) or the root directory's label entry (exFAT), when the block
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from photoark.client.devices.mounts import Mount

__all__ = [
    "BY_LABEL",
    "BY_UUID",
    "Identity",
    "block_identity",
    "gvfs_identity",
    "made_from_place",
    "volume_label",
    "volume_serial",
]

BY_UUID = Path("/dev/disk/by-uuid")
BY_LABEL = Path("/dev/disk/by-label")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PLACE_ID = "path-"  # the prefix of an id made from where the device is mounted


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


def volume_label(boot_sector: bytes, read: Callable[[int, int], bytes]) -> str | None:
    """The volume label of an exFAT or FAT filesystem (``read(offset, size)`` reads the device
    for exFAT, whose label is an entry of the root directory); None when it has none."""
    if len(boot_sector) < 512:
        return None
    if boot_sector[3:11] == b"EXFAT   ":
        sector_shift, cluster_shift = boot_sector[108], boot_sector[109]
        heap = int.from_bytes(boot_sector[88:92], "little")
        root = int.from_bytes(boot_sector[96:100], "little")
        if not 9 <= sector_shift <= 12 or cluster_shift > 25 - sector_shift or root < 2:
            return None
        offset = (heap + ((root - 2) << cluster_shift)) << sector_shift
        directory = read(offset, min(1 << (sector_shift + cluster_shift), 64 << 10))
        for i in range(0, len(directory) - 31, 32):
            kind = directory[i]
            if kind == 0x00:  # end of the directory
                break
            if kind == 0x83:  # volume label: up to 11 UTF-16 characters
                count = min(directory[i + 1], 11)
                return directory[i + 2 : i + 2 + 2 * count].decode("utf-16-le", "replace")
        return None
    if boot_sector[82:90] == b"FAT32   ":
        raw = boot_sector[71:82]
    elif boot_sector[54:59] in (b"FAT12", b"FAT16"):
        raw = boot_sector[43:54]
    else:
        return None
    label = raw.decode("cp437").strip()
    return None if label in ("", "NO NAME") else label


def _read_volume(device: str) -> tuple[str | None, str | None]:
    """(serial, label) read from the device itself; (None, None) when it cannot be read."""
    try:
        with open(device, "rb") as f:
            sector = f.read(512)

            def read(offset: int, size: int) -> bytes:
                f.seek(offset)
                return f.read(size)

            return volume_serial(sector), volume_label(sector, read)
    except OSError:
        return None, None


def block_identity(mount: Mount, by_uuid: Path = BY_UUID, by_label: Path = BY_LABEL) -> Identity:
    """The id and label of a block-device mount (see the module's order)."""
    label = _linked_to(by_label, mount.source) if mount.is_block else None
    uuid = _linked_to(by_uuid, mount.source) if mount.is_block else None
    if mount.is_block and (uuid is None or label is None):
        serial, on_volume = _read_volume(mount.source)
        uuid, label = uuid or serial, label or on_volume
    label = label or os.path.basename(mount.mount_point.rstrip("/")) or mount.source
    if uuid is not None:
        return Identity(f"uuid-{uuid}", label)
    digest = hashlib.sha256(f"{mount.source}\0{mount.mount_point}".encode()).hexdigest()
    return Identity(f"{_PLACE_ID}{digest[:12]}", label)


def made_from_place(device_id: str) -> bool:
    """Whether the id was made from the mount's source and place (step 3 of the module's
    order): two cards in one reader, neither serial readable, get the same one."""
    return device_id.startswith(_PLACE_ID)


def gvfs_identity(name: str) -> Identity:
    """The id and label of a gvfs mount named ``name`` (``mtp:host=SAMSUNG_…_R58M12``)."""
    scheme, _, rest = name.partition(":")
    host = unquote(rest.partition("host=")[2] or rest)
    label = host.replace("_", " ").strip() or name
    return Identity(f"{scheme}-{_UNSAFE.sub('_', host)}", label)
