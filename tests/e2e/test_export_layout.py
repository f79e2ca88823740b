"""Export rebuilds the folders that were backed up (``DEST/<album>/<folders>/<name>``),
byte-identical, with the original modification times and the permissions the umask gives;
``--flat`` keeps every file at its album's top level. A hostile ``relative_path`` in sealed
metadata never leads export outside DEST; a file backed up before the field existed exports
under its name. Export into a file is one clear error; the counts tell items from files."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from photoark.client.home import resolve_home
from photoark.client.library.records import seal_metadata
from photoark.client.pipeline import smallfiles
from photoark.client.pipeline.backup import BackupOptions, backup
from photoark.client.session import Session
from photoark.crypto.boxes import seal_json
from photoark.protocol.metadata import FileMetadata
from tests.builders import (
    CORPUS,
    Client,
    ServerProcess,
    jpeg_bytes,
    make_tree,
    running_daemon,
    tree_digest,
    wait_for,
)

pytestmark = pytest.mark.e2e

LIVE = CORPUS / "lychee-samples" / "tests" / "Samples"
TAKEN = {0x0132: "2021:06:05 14:03:02"}  # EXIF DateTime: export no longer uses it for mtime


def _pictures(root: Path) -> Path:
    make_tree(
        root,
        {
            "top.jpg": jpeg_bytes(1),
            "Trips": {
                "Holidays": {
                    "100000.jpg": jpeg_bytes(2, exif=TAKEN),
                    "été 日本.jpg": jpeg_bytes(3),
                },
                "x.jpg": jpeg_bytes(4),
            },
            "Home": {"x.jpg": jpeg_bytes(5)},  # the same name in another folder
            "deep": {"a": {"b": {"c": {"d.jpg": jpeg_bytes(6)}}}},
        },
    )
    for n, path in enumerate(sorted(p for p in root.rglob("*") if p.is_file())):
        when = 1_500_000_000_123_456_789 + n * 86_400_000_000_123
        os.utime(path, ns=(when, when))
    return root


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)  # the CLI subprocesses inherit it
    try:
        yield
    finally:
        os.umask(old)


def _second_device(tmp_path: Path, server: ServerProcess) -> Client:
    phone = Client(tmp_path / "phone", server.url)
    phone.login()
    return phone


def test_export_rebuilds_the_tree_byte_identical_with_mtimes_and_umask_permissions(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    pictures = _pictures(tmp_path / "Pictures")
    report = alice.json("backup", str(pictures), "--album", "Pictures")
    assert report["uploaded"] == 6 and not report["failed"], report
    phone = _second_device(tmp_path, server)
    dest = tmp_path / "restore"
    with _umask(0o027):
        result = phone.json("export", str(dest))
    assert result["failed"] == []
    assert (result["written"], result["files_written"], result["existing"]) == (6, 6, 0)
    album = dest / "Pictures"
    assert tree_digest(album) == tree_digest(pictures)
    assert (album / "Trips" / "Holidays" / "100000.jpg").is_file()
    # the original modification times, to the nanosecond (not the EXIF date taken)
    assert _mtimes(album) == _mtimes(pictures)
    # what a new file gets under the umask, not 0600
    for path in [dest, *dest.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o750 if path.is_dir() else 0o640), (path, oct(mode))
    assert not [p for p in dest.rglob(".photoark-*")], "a temporary file was left behind"
    again = phone.json("export", str(dest))
    assert (again["written"], again["files_written"], again["existing"]) == (0, 0, 6)


def test_flat_keeps_the_old_layout_and_clashing_names_get_the_file_id(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    pictures = _pictures(tmp_path / "Pictures")
    alice.json("backup", str(pictures), "--album", "P")
    ids = {(f["name"], f["id"]) for f in alice.json("ls", "P")}
    dest = tmp_path / "flat"
    result = alice.json("export", str(dest), "--flat")
    assert result["written"] == 6 and result["failed"] == []
    album = dest / "P"
    assert all(p.is_file() for p in album.iterdir()), "--flat writes no folder"
    names = sorted(p.name for p in album.iterdir())
    later_x = max(i for n, i in ids if n == "x.jpg")
    assert names == sorted(
        ["top.jpg", "100000.jpg", "été 日本.jpg", "x.jpg", f"x~{later_x}.jpg", "d.jpg"]
    )
    flat = sorted(p.read_bytes() for p in album.iterdir())
    assert flat == sorted(tree_digest(pictures).values())


def test_a_file_given_alone_and_several_folders_keep_their_own_layout(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    make_tree(tmp_path / "one", {"sub": {"a.jpg": jpeg_bytes(1)}})
    make_tree(tmp_path / "two", {"b.jpg": jpeg_bytes(2), "in": {"c.jpg": jpeg_bytes(3)}})
    make_tree(tmp_path / "loose", {"deep": {"e.jpg": jpeg_bytes(4)}})
    alice.json(
        "backup",
        str(tmp_path / "one"),
        str(tmp_path / "two"),
        str(tmp_path / "loose" / "deep" / "e.jpg"),
        "--album",
        "Mixed",
    )
    alice.json("export", str(tmp_path / "out"))
    assert set(tree_digest(tmp_path / "out" / "Mixed")) == {
        "sub/a.jpg",
        "b.jpg",
        "in/c.jpg",
        "e.jpg",
    }


HOSTILE = {
    "h1.jpg": "../../h1.jpg",
    "h2.jpg": "/tmp/photoark-hostile/h2.jpg",
    "h3.jpg": "a/../../../h3.jpg",
    "h4.jpg": "a\x00b/h4.jpg",
    "h5.jpg": "..\\..\\h5.jpg",
    "h6.jpg": "C:/h6.jpg",
    "h7.jpg": "ok/../../h7.jpg",
}
OLD = "old.jpg"  # sealed without relative_path, as a client before it did


def test_hostile_or_missing_relative_paths_export_under_the_name_inside_dest(
    tmp_path: Path, server: ServerProcess, alice: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [*HOSTILE, OLD, "fine.jpg"]
    source = make_tree(
        tmp_path / "area" / "src",
        {"in": {"deeper": {n: jpeg_bytes(i) for i, n in enumerate(names)}}},
    )

    def hostile_seal(file_key: bytes, metadata: FileMetadata) -> bytes:
        fields: dict[str, Any] = metadata.to_json()
        if metadata.name == OLD:
            del fields["relative_path"]
        elif metadata.name in HOSTILE:
            fields["relative_path"] = HOSTILE[metadata.name]
        else:
            return seal_metadata(file_key, metadata)
        return seal_json(file_key, fields)

    monkeypatch.setattr(smallfiles, "seal_metadata", hostile_seal)
    with Session.open(resolve_home(alice.home)) as session:
        report = backup(session, [str(source)], "H", BackupOptions(workers=1))
    assert report.uploaded == len(names) and not report.failed
    phone = _second_device(tmp_path, server)
    dest = tmp_path / "area" / "dest"
    before = {p for p in (tmp_path / "area").rglob("*") if not p.is_relative_to(dest)}
    result = phone.json("export", str(dest))
    assert result["failed"] == [] and result["written"] == len(names)
    exported = tree_digest(dest / "H")
    assert set(exported) == {*HOSTILE, OLD, "in/deeper/fine.jpg"}
    assert {p for p in (tmp_path / "area").rglob("*") if not p.is_relative_to(dest)} == before
    assert not Path("/tmp/photoark-hostile").exists()
    for name in names:
        assert (
            exported[name if name != "fine.jpg" else "in/deeper/fine.jpg"]
            == (source / "in" / "deeper" / name).read_bytes()
        )


def test_export_into_a_file_is_one_clear_error_and_writes_nothing(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    pictures = _pictures(tmp_path / "Pictures")
    alice.json("backup", str(pictures), "--album", "Pictures")
    target = tmp_path / "a-file"
    target.write_bytes(b"keep me")
    before = sorted(p.name for p in tmp_path.iterdir())
    for dest in (target, target / "sub"):
        out = alice.run("export", str(dest), check=False)
        assert out.returncode != 0
        assert out.stderr.count("error:") == 1 and "not a folder" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr and "Not a directory" not in out.stderr
        assert out.stdout == ""
    assert target.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.skipif(not (LIVE / "train.jpg").is_file(), reason="../shared/corpus is absent")
def test_a_live_photo_is_one_item_of_two_files_beside_each_other(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    folder = tmp_path / "iphone" / "DCIM"
    (folder / "100APPLE").mkdir(parents=True)
    shutil.copy(LIVE / "train.jpg", folder / "100APPLE" / "train.jpg")
    shutil.copy(LIVE / "train.mov", folder / "100APPLE" / "train.mov")
    (folder / "other.jpg").write_bytes(jpeg_bytes(7))
    for i, name in enumerate(("100APPLE/train.jpg", "100APPLE/train.mov", "other.jpg")):
        when = 1_400_000_000_000_000_001 + i * 3_600_000_000_007  # each its own
        os.utime(folder / name, ns=(when, when))
    report = alice.json("backup", str(folder), "--album", "Camera")
    assert report["uploaded"] == 2, report
    assert [f["type"] for f in alice.json("ls", "Camera")].count("live") == 1
    dest = tmp_path / "out"
    result = alice.json("export", str(dest))
    assert (result["written"], result["files_written"]) == (2, 3)
    assert tree_digest(dest / "Camera") == tree_digest(folder)
    assert _mtimes(dest / "Camera") == _mtimes(folder)
    shutil.rmtree(dest)
    text = alice.run("export", str(dest)).stdout
    assert "wrote 2 items (3 files, " in text and "0 items already there" in text, text
    again = alice.run("export", str(dest)).stdout
    assert "wrote 0 items (0 files, 0 bytes); 2 items already there" in again, again


def test_the_daemon_records_the_layout_under_the_watched_folder(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    """A watched folder's files keep their folders under it, whether found at start (a
    reconcile) or while running (the queue); with --album-per-folder each album is a folder,
    so a file keeps its name."""
    pics = make_tree(
        tmp_path / "pics", {"a.jpg": jpeg_bytes(1), "T": {"R": {"b.jpg": jpeg_bytes(2)}}}
    )
    per = make_tree(
        tmp_path / "per", {"c.jpg": jpeg_bytes(3), "T": {"R": {"d.jpg": jpeg_bytes(4)}}}
    )
    alice.json("watch", "add", str(pics), "--album", "W")
    alice.json("watch", "add", str(per), "--album-per-folder")
    with running_daemon(alice):
        wait_for(lambda: len(alice.json("ls")) == 4, timeout=60)
        (pics / "T" / "New").mkdir()
        (pics / "T" / "New" / "e.jpg").write_bytes(jpeg_bytes(5))  # settled, then queued
        wait_for(lambda: len(alice.json("ls")) == 5, timeout=60)
    alice.json("export", str(tmp_path / "out"))
    assert tree_digest(tmp_path / "out" / "W") == tree_digest(pics)
    assert set(tree_digest(tmp_path / "out")) - set("W/" + k for k in tree_digest(pics)) == {
        "per/c.jpg",
        "T\u2215R/d.jpg",
    }  # album "T/R": one folder, its '/' made safe
