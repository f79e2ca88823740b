"""Device discovery, kinds and ids from fake mountinfo text and folders (no root needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from photoark.client.devices import NoSuchDevice, Sources, choose_device, discover
from photoark.client.devices.counts import count_device
from photoark.client.devices.identity import (
    Identity,
    block_identity,
    gvfs_identity,
    volume_label,
    volume_serial,
)
from photoark.client.devices.kinds import classify
from photoark.client.devices.mounts import Mount, MountChanges, parse_mountinfo
from photoark.client.devices.udisks import block_ids_from_objects
from photoark.client.state.db import StateDB
from photoark.client.state.devices import DeviceAlbums
from tests.builders import jpeg_bytes, make_tree
from tests.cards import mountinfo_line


def _sources(tmp: Path, lines: list[str], gvfs: Path | None = None) -> Sources:
    info = tmp / "mountinfo"
    info.write_text("\n".join(lines) + "\n")
    return Sources(
        mountinfo=info,
        gvfs=gvfs,
        by_uuid=tmp / "by-uuid",
        by_label=tmp / "by-label",
        udisks=lambda: None,
    )


def test_mountinfo_is_parsed_with_escapes_and_pseudo_and_network_filesystems_left_out() -> None:
    text = "\n".join(
        [
            "22 1 0:21 / /proc rw,nosuid - proc proc rw",
            mountinfo_line("/media/me/EOS DIGITAL", "/dev/sdb1", "exfat"),
            "45 27 7:0 / /mnt/card ro,nosuid,relatime - fuseblk /dev/loop0 rw,allow_other",
            "50 27 0:50 / /mnt/nas rw - nfs4 nas:/photos rw",
            "51 27 0:51 / /run/user/1000/gvfs rw - fuse.gvfsd-fuse gvfsd-fuse rw",
            "garbage line",
        ]
    )
    mounts = parse_mountinfo(text)
    assert [m.mount_point for m in mounts] == ["/media/me/EOS DIGITAL", "/mnt/card"]
    assert mounts[0].source == "/dev/sdb1" and not mounts[0].read_only
    assert mounts[1].read_only and mounts[1].fstype == "fuseblk" and mounts[1].is_block


def test_kinds(tmp_path: Path) -> None:
    make_tree(tmp_path / "canon", {"DCIM": {"100CANON": {}, "101CANON": {}}})
    make_tree(tmp_path / "android", {"DCIM": {"Camera": {}, ".thumbnails": {}}})
    make_tree(tmp_path / "stick", {"DCIM": {"holiday": {}}})
    assert classify(str(tmp_path / "canon/DCIM")) == "camera"
    assert classify(str(tmp_path / "android/DCIM")) == "phone"
    assert classify(str(tmp_path / "stick/DCIM")) == "card"
    assert classify(str(tmp_path / "stick/DCIM"), "mtp") == "phone"
    assert classify(str(tmp_path / "stick/DCIM"), "gphoto2") == "camera"
    assert classify(str(tmp_path / "missing")) == "card"


def test_discovery_finds_mounts_holding_dcim_and_gvfs_devices(tmp_path: Path) -> None:
    card = make_tree(tmp_path / "media/EOS_DIGITAL", {"DCIM": {"100CANON": {"IMG_0001.JPG": b"x"}}})
    make_tree(tmp_path / "media/BACKUPDISK", {"Documents": {}})
    gvfs = tmp_path / "gvfs"
    make_tree(
        gvfs / "mtp:host=SAMSUNG_SAMSUNG_Android_R58M12ABC",
        {"Internal shared storage": {"DCIM": {"Camera": {}}}},
    )
    make_tree(gvfs / "gphoto2:host=Canon_Inc._Canon_Digital_Camera", {"DCIM": {"100CANON": {}}})
    make_tree(gvfs / "smb-share:server=nas,share=photos", {"Pictures": {}})
    sources = _sources(
        tmp_path,
        [
            mountinfo_line(str(card), "/dev/sdz1"),
            mountinfo_line(str(tmp_path / "media/BACKUPDISK"), "/dev/sdy1", mount_id=101),
            mountinfo_line(str(card), "/dev/sdz1", mount_id=102),  # a bind mount: once
        ],
        gvfs,
    )
    devices = discover(sources)
    assert [(d.label, d.kind, d.via) for d in devices] == [
        ("EOS_DIGITAL", "camera", "mount"),
        ("Canon Inc. Canon Digital Camera", "camera", "gvfs"),
        ("SAMSUNG SAMSUNG Android R58M12ABC", "phone", "gvfs"),
    ]
    assert devices[2].dcim.endswith("Internal shared storage/DCIM")
    assert devices[2].id == "mtp-SAMSUNG_SAMSUNG_Android_R58M12ABC"
    assert devices[2].dcims == (devices[2].dcim,)


def test_a_phone_with_an_sd_card_is_one_device_with_both_photo_folders(tmp_path: Path) -> None:
    gvfs = tmp_path / "gvfs"
    phone = make_tree(
        gvfs / "mtp:host=Google_Pixel_8_3A281FDH",
        {
            "Internal shared storage": {"DCIM": {"Camera": {"PXL_1.jpg": jpeg_bytes(1)}}},
            "SD card": {"DCIM": {"Camera": {"PXL_2.jpg": jpeg_bytes(2)}}},
        },
    )
    (device,) = discover(_sources(tmp_path, [], gvfs))
    assert device.dcims == (
        str(phone / "Internal shared storage/DCIM"),
        str(phone / "SD card/DCIM"),
    )
    assert choose_device(str(phone / "SD card/DCIM"), _sources(tmp_path, [], gvfs)) == device
    db = StateDB(tmp_path / "state.db")
    try:
        counts = count_device(db, device)
    finally:
        db.close()
    assert (counts.photos, counts.backed_up) == (2, 0)  # both storages counted


def test_block_id_from_udev_links_else_boot_sector_else_path_hash(tmp_path: Path) -> None:
    dev = tmp_path / "sdz1"
    sector = bytearray(512)
    sector[3:11] = b"EXFAT   "
    sector[100:104] = (0x6FB77F18).to_bytes(4, "little")
    dev.write_bytes(bytes(sector) + b"\0" * 512)
    mount = Mount("/media/me/CARD", str(dev), "exfat", False)
    # no udev links: the boot sector's serial, as blkid prints it
    assert block_identity(mount, tmp_path / "none", tmp_path / "none") == Identity(
        "uuid-6FB7-7F18", "CARD"
    )
    (tmp_path / "by-uuid").mkdir()
    (tmp_path / "by-label").mkdir()
    os.symlink(dev, tmp_path / "by-uuid/1234-ABCD")
    os.symlink(dev, tmp_path / "by-label/EOS\\x20DIGITAL")
    assert block_identity(mount, tmp_path / "by-uuid", tmp_path / "by-label") == Identity(
        "uuid-1234-ABCD", "EOS DIGITAL"
    )
    unreadable = Mount("/media/me/CARD", str(tmp_path / "gone"), "exfat", False)
    first = block_identity(unreadable, tmp_path / "none", tmp_path / "none")
    assert first.id.startswith("path-") and first == block_identity(
        unreadable, tmp_path / "none", tmp_path / "none"
    )


def test_volume_label_of_exfat_from_its_root_directory_and_of_fat_from_its_boot_sector(
    tmp_path: Path,
) -> None:
    image = bytearray(64 << 10)
    image[3:11] = b"EXFAT   "
    image[108], image[109] = 9, 3  # 512-byte sectors, 8 sectors a cluster
    image[88:92] = (16).to_bytes(4, "little")  # cluster heap at sector 16
    image[96:100] = (4).to_bytes(4, "little")  # root directory at cluster 4
    root = (16 + (4 - 2) * 8) * 512
    image[root] = 0x81  # an allocation bitmap entry first
    name = "NIKON D750".encode("utf-16-le")
    image[root + 32 : root + 34] = bytes([0x83, 10])
    image[root + 34 : root + 34 + len(name)] = name
    (tmp_path / "sdz1").write_bytes(image)
    mount = Mount("/mnt/card", str(tmp_path / "sdz1"), "exfat", False)
    assert block_identity(mount, tmp_path / "none", tmp_path / "none").label == "NIKON D750"
    read = lambda offset, size: bytes(image[offset : offset + size])  # noqa: E731
    assert volume_label(bytes(image[:512]), read) == "NIKON D750"
    image[root + 32] = 0x00  # no label entry: the end of the directory
    assert volume_label(bytes(image[:512]), read) is None
    fat32 = bytearray(512)
    fat32[82:90] = b"FAT32   "
    fat32[71:82] = b"CANON_DC   "
    assert volume_label(bytes(fat32), read) == "CANON_DC"
    fat32[71:82] = b"NO NAME    "
    assert volume_label(bytes(fat32), read) is None


def test_volume_serial_of_fat_and_others() -> None:
    fat32 = bytearray(512)
    fat32[82:90] = b"FAT32   "
    fat32[67:71] = (0x12345678).to_bytes(4, "little")
    assert volume_serial(bytes(fat32)) == "1234-5678"
    assert volume_serial(bytes(512)) is None
    assert volume_serial(b"short") is None


def test_gvfs_identity_and_udisks_answer() -> None:
    assert gvfs_identity("mtp:host=Google_Pixel_7_2A111FDH") == Identity(
        "mtp-Google_Pixel_7_2A111FDH", "Google Pixel 7 2A111FDH"
    )
    objects: dict[str, dict[str, dict[str, Any]]] = {
        "/org/freedesktop/UDisks2/block_devices/sdb1": {
            "org.freedesktop.UDisks2.Block": {
                "Device": ("ay", b"/dev/sdb1\0"),
                "IdUUID": ("s", "3F2A-11C0"),
                "IdLabel": ("s", "NIKON D750"),
            },
            "org.freedesktop.UDisks2.Filesystem": {},
        },
        "/org/freedesktop/UDisks2/drives/x": {"org.freedesktop.UDisks2.Drive": {}},
    }
    assert block_ids_from_objects(objects) == {
        "/dev/sdb1": Identity("uuid-3F2A-11C0", "NIKON D750")
    }


def test_choose_by_label_id_folder_or_dcim_and_refuse_the_rest(tmp_path: Path) -> None:
    card = make_tree(tmp_path / "EOS_DIGITAL", {"DCIM": {"100CANON": {}}})
    sources = _sources(tmp_path, [mountinfo_line(str(card), "/dev/nonexistent")])
    by_label = choose_device("EOS_DIGITAL", sources)
    assert by_label.path == str(card)
    assert choose_device(by_label.id, sources) == by_label
    assert choose_device(str(card / "DCIM"), sources) == by_label
    copy = make_tree(tmp_path / "copy of card", {"DCIM": {"Camera": {}}})
    chosen = choose_device(str(copy), sources)
    assert (chosen.kind, chosen.via, chosen.dcim) == ("phone", "folder", str(copy / "DCIM"))
    make_tree(tmp_path / "documents", {"a.txt": "x"})
    with pytest.raises(NoSuchDevice, match="holds no DCIM"):
        choose_device(str(tmp_path / "documents"), sources)
    with pytest.raises(NoSuchDevice, match="no connected device"):
        choose_device("NOT_A_CARD", sources)


def test_device_album_defaults_to_label_and_is_remembered(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    try:
        albums = DeviceAlbums(db)
        assert albums.album_of("uuid-1", "EOS_DIGITAL") == "EOS_DIGITAL"
        albums.remember("uuid-1", "Holidays 2024")
        assert albums.album_of("uuid-1", "EOS_DIGITAL") == "Holidays 2024"
        assert albums.album_of("uuid-2", "") == "uuid-2"
    finally:
        db.close()


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None, reason="needs root to mount a tmpfs"
)
def test_mount_changes_wake_on_mount_and_unmount(tmp_path: Path) -> None:
    changes = MountChanges()
    point = tmp_path / "card"
    point.mkdir()
    try:
        assert not changes.wait(0.05)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(point)], check=True)
        assert changes.wait(5)
        assert not changes.wait(0.05)  # reset by the read
        subprocess.run(["umount", str(point)], check=True)
        assert changes.wait(5)
    finally:
        subprocess.run(["umount", str(point)], capture_output=True)
        changes.close()
    started = time.monotonic()
    assert not MountChanges(tmp_path / "no-proc").wait(0.1)  # no mountinfo: a plain sleep
    assert time.monotonic() - started >= 0.1
