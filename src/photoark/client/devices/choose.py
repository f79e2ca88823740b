"""Which device ``photoark import DEVICE_OR_PATH`` means: a connected device by id or label,
or a folder (a mount point, a ``DCIM`` folder, a copy of a card on disk)."""

from __future__ import annotations

import os

from photoark.client.devices.discovery import Device, Sources, dcim_of, discover
from photoark.client.devices.identity import block_identity
from photoark.client.devices.kinds import classify
from photoark.client.devices.mounts import Mount, read_mounts
from photoark.client.errors import UsageError

__all__ = ["NoSuchDevice", "choose_device"]


class NoSuchDevice(UsageError):
    hint = "`photoark devices` lists the connected devices; or give the folder holding DCIM/"


def _containing_mount(path: str, mounts: list[Mount]) -> Mount | None:
    best: Mount | None = None
    for m in mounts:
        point = m.mount_point.rstrip("/") or "/"
        if (path == point or path.startswith(point.rstrip("/") + "/")) and (
            best is None or len(point) > len(best.mount_point)
        ):
            best = m
    return best


def choose_device(arg: str, sources: Sources | None = None) -> Device:
    """The device ``arg`` names: an id or label of :func:`discover`'s, else a folder.

    A folder is the device's root when it holds ``DCIM``, or a ``DCIM`` folder itself. A folder
    that is a mount point gets that filesystem's id (so it is the same device as when found
    by discovery); another folder an id from its path. Raises :class:`NoSuchDevice`."""
    sources = sources or Sources()
    devices = discover(sources)
    for d in devices:
        if arg == d.id:
            return d
    labelled = [d for d in devices if arg == d.label]
    if len(labelled) > 1:  # every Canon card is EOS_DIGITAL
        ids = ", ".join(d.id for d in labelled)
        raise NoSuchDevice(
            f"{len(labelled)} devices are labelled {arg!r}: name one by its id ({ids})"
        )
    if labelled:
        return labelled[0]
    path = os.path.realpath(arg)
    if not os.path.isdir(path):
        raise NoSuchDevice(f"no connected device or folder named {arg!r}")
    for d in devices:
        if path == d.path or path in d.dcims:
            return d
    if os.path.basename(path).lower() == "dcim":
        root, dcim = os.path.dirname(path), path
    else:
        root, found = path, dcim_of(path, depth=1)
        if found is None:
            raise NoSuchDevice(f"{path} holds no DCIM folder: it is not a camera, card or phone")
        dcim = found
    mounts = read_mounts(sources.mountinfo)
    mount = _containing_mount(root, mounts)
    read_only = mount.read_only if mount else False
    via = "mount"  # a mount point given by its path: the same device discovery finds
    if mount is None or mount.mount_point != root:
        mount, via = Mount(root, root, "", read_only), "folder"
    ident = block_identity(mount, sources.by_uuid, sources.by_label)
    return Device(ident.id, ident.label, classify(dcim), root, dcim, read_only, via=via)
