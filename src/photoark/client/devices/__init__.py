"""Cards, cameras and phones: finding the plugged-in devices that hold photos, and importing
them through the backup pipeline.

- :mod:`.mounts`, :mod:`.identity`, :mod:`.kinds`, :mod:`.udisks`, :mod:`.discovery`: which
  devices are there (mounts holding ``DCIM/``, gvfs MTP/PTP folders), each with a stable id,
  a label and a kind;
- :mod:`.choose`: the device ``photoark import DEVICE_OR_PATH`` means;
- :mod:`.counts`: its photos, bytes, and how many the library already has;
- :mod:`.importer`: the import itself (``backup_found`` on its DCIM, the album remembered per
  device, unplugging and files still being written);
- :mod:`.notify`: the desktop notification the daemon sends after an import.

Freeing the device's space afterwards is ``free-up-space``'s job
(:mod:`photoark.optimize.devicefree`), above this package.
"""

from photoark.client.devices.choose import NoSuchDevice, choose_device
from photoark.client.devices.counts import DeviceCounts, count_device, shared_budget
from photoark.client.devices.discovery import Device, Sources, discover
from photoark.client.devices.importer import DeviceImport, import_device

__all__ = [
    "Device",
    "DeviceCounts",
    "DeviceImport",
    "NoSuchDevice",
    "Sources",
    "choose_device",
    "count_device",
    "discover",
    "import_device",
    "shared_budget",
]
