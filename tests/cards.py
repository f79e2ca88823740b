"""Builders for device tests: mountinfo lines, card layouts described as data, and a real
exFAT card (an image file on a loop device, mounted with ``mount.exfat-fuse``).

A real card needs root, ``/dev/fuse``, ``/dev/loop-control`` and the tools of Debian's
``exfatprogs`` and ``exfat-fuse`` (``.ci/run`` installs them; CI runs as root):
:func:`card_unavailable` names what is missing, and tests skip on that alone. Every mount and
loop device an :class:`ExfatCard` makes is undone by :meth:`ExfatCard.close`, also after a
failure (the fixture calls it in its teardown).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.builders import CORPUS, jpeg_bytes

__all__ = [
    "CARD_TOOLS",
    "ExfatCard",
    "big_jpeg",
    "camera_card",
    "card_unavailable",
    "mountinfo_line",
    "phone_storage",
]

CARD_TOOLS = ("mkfs.exfat", "mount.exfat-fuse", "losetup", "umount")


def mountinfo_line(
    mount_point: str,
    source: str = "/dev/sdb1",
    fstype: str = "exfat",
    read_only: bool = False,
    mount_id: int = 100,
) -> str:
    """One line of ``/proc/self/mountinfo`` (spaces escaped as the kernel does)."""
    opts = "ro" if read_only else "rw"
    point = mount_point.replace(" ", "\\040")
    return f"{mount_id} 25 8:17 / {point} {opts},nosuid,nodev shared:1 - {fstype} {source} {opts}"


def camera_card(
    seed: int = 0, photos: int = 3, raw: bool = True, video: bool = True
) -> dict[str, Any]:
    """A camera's card as data for ``make_tree``: ``DCIM/100CANON/IMG_0001.JPG``…, a RAW and
    a video from the corpus (``seed`` changes every JPEG's content, not its name: a second
    card of the same camera)."""
    folder: dict[str, Any] = {
        f"IMG_{i:04d}.JPG": jpeg_bytes(seed * 1000 + i, (320, 240)) for i in range(1, photos + 1)
    }
    if raw:
        folder[f"IMG_{photos + 1:04d}.DNG"] = (
            CORPUS / "photoprism/assets/examples/canon_eos_6d.dng"
        ).read_bytes()
    if video:
        folder[f"MVI_{photos + 2:04d}.MP4"] = (
            CORPUS / "metadata-extractor-images/mp4/sample_mpeg4.mp4"
        ).read_bytes()
    return {"DCIM": {"100CANON": folder}, "MISC": {}}


def phone_storage(seed: int = 0) -> dict[str, Any]:
    """An Android phone's storage: ``DCIM/Camera`` with photos, a motion photo (Samsung, from
    the corpus) and an MP4."""
    return {
        "DCIM": {
            "Camera": {
                "20240601_101500.jpg": jpeg_bytes(seed * 1000 + 500, (320, 240)),
                "20240601_101501.heic": (
                    CORPUS / "immich-test-assets/formats/motionphoto/samsung-one-ui-6.heic"
                ).read_bytes(),
                "20240601_101502.mp4": (
                    CORPUS / "photoprism/assets/examples/christmas.mp4"
                ).read_bytes(),
            }
        },
        "Android": {"data": {}},
    }


def big_jpeg(seed: int, size: int) -> bytes:
    """A real JPEG of about ``size`` bytes, distinct per ``seed``: a small picture followed by
    random bytes after its end marker (decoders stop at the marker; the content differs)."""
    head = jpeg_bytes(seed, (160, 120))
    return head + random.Random(seed).randbytes(max(0, size - len(head)))


def card_unavailable() -> str | None:
    """Why a real exFAT card cannot be made here, or None when it can."""
    missing = [t for t in CARD_TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)} (apt-get install exfatprogs exfat-fuse)"
    if os.geteuid() != 0:
        return "needs root (losetup and mount)"
    for device in ("/dev/fuse", "/dev/loop-control"):
        if not os.path.exists(device):
            return f"no {device} here"
    if not CORPUS.is_dir():
        return "../shared/corpus is absent"
    return None


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


class ExfatCard:
    """An exFAT filesystem in ``image`` on a loop device, mounted at ``mount_point`` with
    FUSE. ``label`` is the volume label."""

    def __init__(self, image: Path, mount_point: Path, label: str, size_mb: int = 64) -> None:
        self.image = image
        self.mount_point = mount_point
        self.label = label
        self.loop: str | None = None
        subprocess.run(["truncate", "-s", f"{size_mb}M", str(image)], check=True)
        _run("mkfs.exfat", "-L", label, str(image))
        mount_point.mkdir(parents=True, exist_ok=True)

    def attach(self) -> str:
        if self.loop is None:
            self.loop = _run("losetup", "--find", "--show", str(self.image))
        return self.loop

    def mount(self, read_only: bool = False) -> Path:
        loop = self.attach()
        args = [
            "mount.exfat-fuse",
            *(("-o", "ro") if read_only else ()),
            loop,
            str(self.mount_point),
        ]
        _run(*args)
        return self.mount_point

    def mounted(self) -> bool:
        point = str(self.mount_point)
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            return any(line.split(" ")[4] == point for line in f)

    def unplug(self) -> None:
        """Take the mount away as pulling the card does, files open or not (a lazy unmount:
        the path is gone at once)."""
        if self.mounted():
            subprocess.run(["umount", "-l", str(self.mount_point)], check=True)
        deadline = time.monotonic() + 10
        while self.mounted() and time.monotonic() < deadline:
            time.sleep(0.05)

    def unmount(self) -> None:
        """A clean unmount (after a sync), waiting for the FUSE daemon to be done."""
        if not self.mounted():
            return
        subprocess.run(["sync"], check=False)
        for _ in range(50):
            if (
                subprocess.run(["umount", str(self.mount_point)], capture_output=True).returncode
                == 0
            ):
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(self.mount_point)], check=False)

    def close(self) -> None:
        """Unmount and detach the loop device: never leaves either behind."""
        try:
            self.unmount()
        finally:
            if self.loop is not None:
                for _ in range(50):  # the FUSE daemon lets go of the device shortly after
                    if (
                        subprocess.run(["losetup", "-d", self.loop], capture_output=True).returncode
                        == 0
                    ):
                        break
                    time.sleep(0.1)
                self.loop = None
