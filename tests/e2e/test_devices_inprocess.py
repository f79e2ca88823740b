"""Importing a device on a real server with no card needed (a folder stands for the device):
files that change during the import and the daemon's auto-import with its notification (in
process: a fake notifier, a fake device list), bad input through the real CLI."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from photoark.client.daemon.board import StatusPublisher
from photoark.client.daemon.devices import LIST_TIMEOUT, DeviceFreer, DeviceImports
from photoark.client.daemon.watcher import Settler, wait_until_settled
from photoark.client.devices import Device, choose_device, import_device
from photoark.client.pipeline.backup import BackupOptions, BackupProgress
from photoark.client.pipeline.outcome import Outcome
from photoark.client.session import Session
from photoark.client.settings import Settings
from photoark.client.state.daemonstate import StatusBoard
from photoark.optimize.devicefree import free_device
from tests.builders import Client, jpeg_bytes, make_tree


def _device_imports(
    session: Session,
    device: Device,
    options: Callable[[], BackupOptions],
    told: list[tuple[str, str]],
    freer: DeviceFreer | None = None,
    find: Callable[[], list[Device]] | None = None,
    list_timeout: float = LIST_TIMEOUT,
) -> DeviceImports:
    """The daemon's device imports seeing only ``device`` (or what ``find`` lists);
    notifications recorded in ``told``."""

    def tell(summary: str, body: str) -> bool:
        told.append((summary, body))
        return True

    return DeviceImports(
        session,
        Settings(session.db),
        options,
        StatusPublisher(StatusBoard(session.db)),
        freer,
        find=find or (lambda: [device]),
        tell=tell,
        list_timeout=list_timeout,
    )


class _CameraStillWriting(BackupProgress):
    """When the first photo is done, the camera rewrites it and writes a new one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.fired = False

    def file_done(self, path: str, size: int, outcome: Outcome) -> None:
        if not self.fired:
            self.fired = True
            Path(path).write_bytes(jpeg_bytes(99))
            (self.folder / "IMG_0009.JPG").write_bytes(jpeg_bytes(98))


def test_files_changing_during_the_import_are_backed_up_once_they_settle(
    tmp_path: Path, session: Session
) -> None:
    card = make_tree(
        tmp_path / "CARD",
        {"DCIM": {"100CANON": {f"IMG_000{i}.JPG": jpeg_bytes(i) for i in (1, 2)}}},
    )
    device = choose_device(str(card))
    settler = Settler(0.3)
    progress = _CameraStillWriting(card / "DCIM/100CANON")
    result = import_device(
        session,
        device,
        options=BackupOptions(workers=1),
        progress=progress,
        settle=lambda paths: wait_until_settled(settler, paths, 10),
    )
    changed = sorted(os.path.basename(p) for p in result.retried)
    assert changed == ["IMG_0001.JPG", "IMG_0009.JPG"], result.as_json()
    assert result.report.failed == [] and result.still_changing == []
    assert result.report.uploaded == 4  # two photos, the rewritten one's new version, the new one
    assert result.complete and result.album == "CARD"


def test_daemon_device_imports_notify_what_was_backed_up_and_what_could_be_freed(
    tmp_path: Path, session: Session
) -> None:
    card = make_tree(tmp_path / "PHONE", {"DCIM": {"Camera": {"a.jpg": jpeg_bytes(1)}}})
    device = Device("mtp-Pixel", "Pixel 7", "phone", str(card), str(card / "DCIM"))
    settings = Settings(session.db)
    told: list[tuple[str, str]] = []
    freed: list[bool] = []

    def freer(s: Session, d: Device, apply: bool) -> tuple[int, int, str | None]:
        freed.append(apply)
        return 1234, 0, None

    imports = _device_imports(session, device, BackupOptions, told, freer)
    imports.look()
    assert not imports.pending()  # devices.auto_import is off by default
    settings.set("devices.auto_import", "true")
    imports.look()
    assert imports.import_next() and not imports.pending()
    imports.look()
    assert not imports.pending()  # still there: not imported again
    assert freed == [False]  # devices.auto_free_up is off: only planned
    ((summary, body),) = told
    assert summary == "Pixel 7: 1 photo backed up"
    assert "into album 'Pixel 7'" in body and "1.2 KB could be freed" in body
    assert "photoark import mtp-Pixel --free-up" in body


def test_bad_input_is_a_clear_error_and_a_folder_is_a_device(tmp_path: Path, alice: Client) -> None:
    missing = alice.run("import", "NO_SUCH_CARD", check=False)
    assert missing.returncode != 0
    assert "no connected device or folder named 'NO_SUCH_CARD'" in missing.stderr
    assert "photoark devices" in missing.stderr  # the hint
    documents = make_tree(tmp_path / "Documents", {"notes.txt": "x"})
    not_a_card = alice.run("import", str(documents), check=False)
    assert not_a_card.returncode != 0 and "holds no DCIM folder" in not_a_card.stderr
    alone = alice.run("import", str(documents), "--verify-download", check=False)
    assert alone.returncode == 2 and "--verify-download goes with --free-up" in alone.stderr
    copy = make_tree(tmp_path / "card copy", {"DCIM": {"Camera": {"a.jpg": jpeg_bytes(5)}}})
    out = alice.json("import", str(copy))
    assert (out["uploaded"], out["album"], out["device"]["kind"]) == (1, "card copy", "phone")
    assert alice.json("ls", "card copy")[0]["name"] == "a.jpg"


def test_a_device_import_cut_short_by_a_pause_is_taken_again(
    tmp_path: Path, session: Session
) -> None:
    card = make_tree(tmp_path / "CARD", {"DCIM": {"100CANON": {"IMG_0001.JPG": jpeg_bytes(1)}}})
    device = Device("uuid-1", "CARD", "camera", str(card), str(card / "DCIM"))
    settings = Settings(session.db)
    settings.set("devices.auto_import", "true")
    paused = threading.Event()
    paused.set()
    told: list[tuple[str, str]] = []
    imports = _device_imports(session, device, lambda: BackupOptions(cancel=paused), told)
    imports.look()
    assert imports.import_next()
    assert told == []  # nothing was backed up: no notification
    imports.look()
    assert imports.pending()  # the pause is over on a later look: imported then
    paused.clear()
    assert imports.import_next()
    assert [summary for summary, _ in told] == ["CARD: 1 photo backed up"]


def test_a_folder_given_by_hand_is_freed_to_the_desktop_trash(
    tmp_path: Path, alice: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy of a card on this computer is freed as free-up-space frees a folder: into the
    desktop trash, not deleted outright as on a card."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    copy = make_tree(tmp_path / "card copy", {"DCIM": {"100CANON": {"a.jpg": jpeg_bytes(7)}}})
    out = alice.json("import", str(copy), "--free-up")
    assert out["device"]["path"] == str(copy) and out["uploaded"] == 1
    assert out["free_up"]["to"] == "desktop trash" and len(out["free_up"]["deleted"]) == 1
    assert not (copy / "DCIM/100CANON/a.jpg").exists()
    assert (tmp_path / "xdg/Trash/files/a.jpg").read_bytes() == jpeg_bytes(7)


def test_both_storages_of_a_phone_are_imported_and_freed(tmp_path: Path, session: Session) -> None:
    phone = make_tree(
        tmp_path / "gvfs" / "mtp:host=Google_Pixel_8_3A281FDH",
        {
            "Internal shared storage": {"DCIM": {"Camera": {"PXL_1.jpg": jpeg_bytes(21)}}},
            "SD card": {"DCIM": {"Camera": {"PXL_2.jpg": jpeg_bytes(22)}}},
        },
    )
    internal, sd = (str(phone / s / "DCIM") for s in ("Internal shared storage", "SD card"))
    device = Device("mtp-X", "Pixel 8", "phone", str(phone), internal, via="gvfs", more_dcims=(sd,))
    result = import_device(session, device, options=BackupOptions(workers=1))
    assert result.complete and result.report.uploaded == 2, result.as_json()
    freed = free_device(session, device)
    assert freed.result is not None and len(freed.result.deleted) == 2
    assert not list(phone.rglob("*.jpg"))


def test_a_device_listing_that_hangs_does_not_hold_the_daemon(
    tmp_path: Path, session: Session
) -> None:
    """A mount that does not answer hangs the listing's own thread, not the daemon's loop;
    no second listing piles up behind it, and its answer is taken once it comes."""
    device = choose_device(str(make_tree(tmp_path / "CARD", {"DCIM": {"100CANON": {}}})))
    release, listings = threading.Event(), []

    def hung() -> list[Device]:
        listings.append(1)
        release.wait(30)
        return [device]

    Settings(session.db).set("devices.auto_import", "true")
    told: list[tuple[str, str]] = []
    imports = _device_imports(
        session, device, lambda: BackupOptions(workers=1), told, find=hung, list_timeout=0.2
    )
    started = time.monotonic()
    imports.look()
    imports.look()
    assert time.monotonic() - started < 5 and not imports.pending()
    assert len(listings) == 1  # the second look waited on the same listing
    release.set()
    imports.look()
    assert imports.pending() and len(listings) == 1
