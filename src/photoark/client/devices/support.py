"""What this machine can see of each kind of device, for ``photoark doctor``.

- **cards and USB-storage cameras** are found once mounted (``/proc/self/mountinfo``); udisks2
  (the desktop's automount) mounts them on its own, otherwise the user mounts them;
- **phones (MTP) and PTP cameras / iPhones** need gvfs (its FUSE folder under
  ``$XDG_RUNTIME_DIR/gvfs`` and the ``gvfsd-mtp`` / ``gvfsd-gphoto2`` / ``gvfsd-afc``
  backends): photoark does not talk MTP or PTP itself. libgphoto2's Python binding
  (``gphoto2``) is not used for importing (only reported when installed);
- **notifications** need a session D-Bus and ``jeepney``.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from photoark.client.devices.discovery import gvfs_root
from photoark.client.devices.mounts import MOUNTINFO

__all__ = ["GVFS_BACKENDS", "DeviceSupport", "device_support"]

GVFS_BACKENDS = {"mtp": "gvfsd-mtp", "gphoto2": "gvfsd-gphoto2", "afc": "gvfsd-afc"}
_LIBEXEC = (Path("/usr/libexec"), Path("/usr/lib/gvfs"))
_SYSTEM_BUS = Path("/run/dbus/system_bus_socket")


@dataclass(frozen=True)
class DeviceSupport:
    mountinfo: bool  # mounts can be read
    udisks_bus: bool  # a system bus to ask udisks2 (and jeepney to ask it with)
    gvfs_running: bool  # gvfs's FUSE folder exists
    gvfs_backends: dict[str, bool]  # scheme → backend installed
    gphoto2_binding: bool
    session_bus: bool  # notifications can be sent


def _backend(name: str) -> bool:
    return any((folder / name).exists() for folder in _LIBEXEC)


def device_support() -> DeviceSupport:
    jeepney = importlib.util.find_spec("jeepney") is not None
    gvfs = gvfs_root()
    return DeviceSupport(
        mountinfo=os.access(MOUNTINFO, os.R_OK),
        udisks_bus=jeepney and _SYSTEM_BUS.exists(),
        gvfs_running=gvfs is not None and gvfs.is_dir(),
        gvfs_backends={k: _backend(v) for k, v in GVFS_BACKENDS.items()},
        gphoto2_binding=importlib.util.find_spec("gphoto2") is not None,
        session_bus=jeepney and bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS")),
    )
