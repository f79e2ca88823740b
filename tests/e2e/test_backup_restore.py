"""End to end: a real server process, the real CLI; back up, restore on a second device."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from tests.builders import CORPUS, Client, ServerProcess, jpeg_bytes, make_tree

CAMERA = "PhotoarkTestCam-9000"
ODD_NAMES = [
    "été à Zürich 日本.jpg",
    "with spaces and (brackets).jpg",
    "new\nline.jpg",
    ("L" * 240) + ".jpg",
]


def _library(root: Path) -> dict[str, bytes]:
    exif = {0x010F: "PhotoarkMaker", 0x0110: CAMERA, 0x0132: "2021:06:05 14:03:02"}
    spec: dict[str, object] = {
        "Trips": {
            "rome-1.jpg": jpeg_bytes(1, exif=exif),
            "rome-2.jpg": jpeg_bytes(2, (640, 480)),
            "deep": {"deeper": {"x.jpg": jpeg_bytes(3)}},
        },
        "notes.txt": "not a photo",
        "empty.jpg": b"",
    }
    for i, name in enumerate(ODD_NAMES):
        spec[name] = jpeg_bytes(10 + i)
    make_tree(root, spec)  # type: ignore[arg-type]
    return {
        p.name: p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.suffix == ".jpg" and p.stat().st_size > 0
    }


def test_backup_then_export_on_second_device(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    originals = _library(tmp_path / "Pictures")
    report = alice.json(
        "backup", str(tmp_path / "Pictures"), "--album", "Holidays 2021", check=False
    )
    assert report["uploaded"] == len(originals)
    assert [f["path"] for f in report["failed"]] == [str(tmp_path / "Pictures" / "empty.jpg")]
    assert "empty" in report["failed"][0]["error"]
    assert any(i["path"].endswith("notes.txt") for i in report["ignored"])
    assert report["bytes_uploaded"] > sum(len(b) for b in originals.values())

    again = alice.json(
        "backup", str(tmp_path / "Pictures"), "--album", "Holidays 2021", check=False
    )
    assert again["uploaded"] == 0
    assert again["skipped"] == len(originals)
    assert again["bytes_uploaded"] == 0

    phone = Client(tmp_path / "alice-phone", server.url)
    phone.login()
    assert phone.json("albums") == [
        {
            "id": pytest.approx(phone.json("albums")[0]["id"]),
            "name": "Holidays 2021",
            "files": len(originals),
        }
    ]
    listing = phone.json("ls")
    assert {f["name"] for f in listing} == set(originals)
    assert {f["type"] for f in listing} == {"image"}
    dest = tmp_path / "restore"
    result = phone.json("export", str(dest))
    assert result["written"] == len(originals) and result["failed"] == []
    album = dest / "Holidays 2021"
    restored = {p.name: p.read_bytes() for p in album.rglob("*") if p.is_file()}
    assert restored == originals
    # the folders backed up are rebuilt, and each file keeps its original mtime (not the EXIF
    # date taken); more in test_export_layout.py
    rome = tmp_path / "Pictures" / "Trips" / "rome-1.jpg"
    assert (album / "Trips" / "rome-1.jpg").stat().st_mtime_ns == rome.stat().st_mtime_ns
    assert (album / "Trips" / "deep" / "deeper" / "x.jpg").is_file()
    # a second export writes nothing
    assert phone.json("export", str(dest))["written"] == 0

    usage = phone.json("usage")
    assert usage["files"] == len(originals)
    assert usage["stored_bytes"] >= sum(len(b) for b in originals.values())


def test_server_data_holds_no_plaintext(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    originals = _library(tmp_path / "Pictures")
    alice.json("backup", str(tmp_path / "Pictures"), "--album", "SecretAlbumName", check=False)
    blob = b"".join(p.read_bytes() for p in sorted(server.data_dir.rglob("*")) if p.is_file())
    needles = [
        b"SecretAlbumName",
        CAMERA.encode(),
        b"PhotoarkMaker",
        b"rome-1",
        b"Trips",
        "Zürich".encode(),
        b"2021:06:05",
    ]
    for needle in needles:
        assert needle not in blob, needle
    for content in originals.values():
        for start in range(0, len(content) - 64, 64):
            window = content[start : start + 64]
            if len(set(window)) > 4:  # skip runs of one byte (padding) that any file may hold
                assert window not in blob


def _server_db(server: ServerProcess) -> sqlite3.Connection:
    return sqlite3.connect(server.data_dir / "photoark.db")


def _blob_files(server: ServerProcess) -> list[Path]:
    return sorted(
        p
        for p in (server.data_dir / "blobs").rglob("*")
        if p.is_file() and not p.name.startswith("manifest")
    )


def test_tampered_blob_fails_export_with_integrity_error(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    make_tree(tmp_path / "p", {"a.jpg": jpeg_bytes(1, (800, 600))})
    alice.json("backup", str(tmp_path / "p"), "--album", "A")
    sizes = {p: p.stat().st_size for p in _blob_files(server)}
    content = max(sizes, key=lambda p: sizes[p])  # the content blob is larger than the thumbnail
    data = bytearray(content.read_bytes())
    data[len(data) // 2] ^= 0x01
    content.write_bytes(bytes(data))
    out = alice.run("export", str(tmp_path / "out"), check=False)
    assert out.returncode == 7
    assert "tampered" in out.stderr or "integrity" in out.stderr.lower()
    assert not (tmp_path / "out" / "A" / "a.jpg").exists()


def test_truncated_blob_fails_export(tmp_path: Path, server: ServerProcess, alice: Client) -> None:
    big = os.urandom(9 * 1024 * 1024)  # three 4 MiB chunks; the blob loses its last one
    make_tree(tmp_path / "p", {"big.jpg": b"\xff\xd8\xff\xe0" + big})
    alice.json("backup", str(tmp_path / "p"), "--album", "A")
    parts = _blob_files(server)
    last = max(parts, key=lambda p: (p.parent.name, p.name))
    data = last.read_bytes()
    last.write_bytes(data[: len(data) - (1024 * 1024 + 17)])
    out = alice.run("export", str(tmp_path / "out"), check=False)
    assert out.returncode == 7, out.stderr
    assert not (tmp_path / "out" / "A" / "big.jpg").exists()


def test_tampered_metadata_is_an_integrity_error(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    make_tree(tmp_path / "p", {"a.jpg": jpeg_bytes(1), "b.jpg": jpeg_bytes(2)})
    alice.json("backup", str(tmp_path / "p"), "--album", "A")
    with _server_db(server) as db:
        file_id, meta = db.execute(
            "SELECT id, encrypted_metadata FROM files ORDER BY id"
        ).fetchone()
        flipped = bytearray(meta)
        flipped[30] ^= 0x80
        db.execute(
            "UPDATE files SET encrypted_metadata = ? WHERE id = ?", (bytes(flipped), file_id)
        )
    phone = Client(tmp_path / "phone", server.url)
    phone.login()
    out = phone.run("export", str(tmp_path / "out"), check=False)
    assert out.returncode == 7
    assert "failed authentication" in out.stderr
    # the other file is restored; the tampered one is reported, never written
    assert len(list((tmp_path / "out" / "A").iterdir())) == 1


def test_wrong_password_and_unknown_email_look_the_same(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    other = Client(tmp_path / "other", server.url)
    wrong = other.login(password="not the password", check=False)
    unknown = other.login(email="nobody@example.com", check=False)
    assert wrong.returncode == unknown.returncode == 4
    assert wrong.stderr.replace("alice@example.com", "X") == unknown.stderr.replace(
        "nobody@example.com", "X"
    )
    assert "Traceback" not in wrong.stderr


def test_server_unreachable_is_clear_and_loses_nothing(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    make_tree(tmp_path / "p", {"a.jpg": jpeg_bytes(1)})
    server.stop()
    out = alice.run("backup", str(tmp_path / "p"), "--album", "A", check=False, timeout=120)
    assert out.returncode == 5
    assert "cannot reach" in out.stderr and "Traceback" not in out.stderr
    server.start()
    assert alice.json("backup", str(tmp_path / "p"), "--album", "A")["uploaded"] == 1


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_corpus_round_trip(tmp_path: Path, server: ServerProcess, alice: Client) -> None:
    folders = sorted(p for p in CORPUS.iterdir() if p.is_dir())
    backed_up: dict[str, list[bytes]] = {}
    for folder in folders:
        report = alice.json("backup", str(folder), "--album", folder.name, check=False)
        assert report.get("aborted") is None
        failed = {f["path"] for f in report["failed"]}
        ignored = {f["path"] for f in report["ignored"]}
        for path in folder.rglob("*"):
            if (
                path.is_file()
                and str(path) not in failed | ignored
                and not path.name.startswith(".")
            ):
                backed_up.setdefault(folder.name, []).append(path.read_bytes())
    phone = Client(tmp_path / "phone", server.url)
    phone.login()
    dest = tmp_path / "restore"
    result = phone.json("export", str(dest))
    assert result["failed"] == []
    for album, contents in backed_up.items():
        exported = {
            hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (dest / album).rglob("*")
            if p.is_file()
        }
        wanted = {hashlib.sha256(c).hexdigest() for c in contents}
        assert wanted == exported, album
