"""What kind of device a ``DCIM/`` folder is on: ``phone``, ``camera`` or ``card``.

From what can be seen without asking the hardware:

- **phone**: a gvfs MTP or AFC mount (Android, iPhone), or a ``DCIM/Camera`` folder (where
  Android's camera app writes, also when a phone's storage is mounted as a disk);
- **camera**: a gvfs gphoto2 (PTP) mount, or DCF folders named after the camera that made
  them (``DCIM/100CANON``, ``101NIKON``, ``100MSDCF``: three digits and five characters, DCF
  2.0 §3.2.2), the layout cameras write whether the card sits in the camera or in a reader;
- **card**: any other mount holding ``DCIM/`` (a card in a reader, a USB stick).

A card written by a camera and the camera itself as USB storage look the same; both are
``camera``. The kind only names the device in lists and notifications: importing is the same
for all three.
"""

from __future__ import annotations

import os
import re
from typing import Literal

__all__ = ["Kind", "classify"]

Kind = Literal["card", "camera", "phone"]

_DCF_FOLDER = re.compile(r"^[1-9]\d{2}[A-Z0-9_]{5}$")
_PHONE_SCHEMES = ("mtp", "afc")
_CAMERA_SCHEMES = ("gphoto2",)


def classify(dcim: str, scheme: str | None = None) -> Kind:
    """The kind of the device whose photo folder is ``dcim``; ``scheme``: the gvfs scheme
    (``mtp``, ``gphoto2``, ``afc``) of a gvfs mount, None for a mount of a filesystem."""
    if scheme in _PHONE_SCHEMES:
        return "phone"
    if scheme in _CAMERA_SCHEMES:
        return "camera"
    try:
        names = os.listdir(dcim)
    except OSError:
        return "card"
    if any(n.lower() == "camera" for n in names):
        return "phone"
    if any(_DCF_FOLDER.match(n) for n in names):
        return "camera"
    return "card"
