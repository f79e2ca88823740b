"""A device's paths stand for that device's files only while it is the one mounted there.

Two cards of one camera make are mounted at the same place by udisks2, hold the same names
(cameras restart at ``IMG_0001``), and on exFAT through FUSE even the same inode numbers: a
stat cache entry (path, size, mtime, ctime, inode) of card A can match a different photo of
card B, which would then be skipped as backed up and counted as safe to free. So before a
device is read:

- its stat cache entries are dropped unless this very device, by an id that survives a
  re-plug (a volume serial or UUID, a gvfs USB serial), was the last one read at that place
  (:func:`forget_another_devices_files`); a re-plugged card keeps its cache (0 bytes read);
- before an import, what its paths were last backed up as is dropped too
  (:func:`forget_path_versions`): a camera writes new photos, never a new version of one, so
  no library file may be retired as the "previous version" of a reused name.
"""

from __future__ import annotations

from photoark.client.devices.discovery import Device
from photoark.client.devices.identity import made_from_place
from photoark.client.state.db import StateDB
from photoark.client.state.devices import DeviceRoots
from photoark.client.state.pathversions import PathVersions
from photoark.client.state.statcache import StatCache

__all__ = ["forget_another_devices_files", "forget_path_versions", "stable_id"]


def stable_id(device: Device) -> bool:
    """Whether the device's id tells it apart from another card mounted at the same place:
    not one made from the mount's place (no serial could be read), whose stat cache entries
    are never trusted; a folder given by hand that is no mount point is itself (its files are
    not reused)."""
    return device.via == "folder" or not made_from_place(device.id)


def forget_another_devices_files(db: StateDB, device: Device) -> None:
    """Drop the stat cache under the device's DCIM unless it was last read there (module)."""
    roots = DeviceRoots(db)
    for dcim in device.dcims:
        if not roots.claim(dcim, device.id) or not stable_id(device):
            StatCache(db).forget_under(dcim)


def forget_path_versions(db: StateDB, device: Device) -> None:
    """No path of the device stands for a library file any more (module)."""
    for dcim in device.dcims:
        PathVersions(db).forget_under(dcim)
