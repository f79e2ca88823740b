"""What export does when the server's copy of a file is damaged, and once a broken album is
deleted: real server process, real CLI.

- An object truncated on the server's disk is answered 410 ``object_damaged`` (no traceback in
  the server's log); the client reports it as an integrity failure naming the file and what to
  do, exports every other file, and exits 7.
- An album that failed to decrypt is reported by every export (exit 7) until it is deleted;
  then it is gone from the report and export exits 0.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.builders import Client, ServerProcess, jpeg_bytes, make_tree, tree_digest

pytestmark = pytest.mark.e2e


def object_of(server: ServerProcess, file_id: int) -> Path:
    with sqlite3.connect(server.data_dir / "photoark.db") as db:
        (key,) = db.execute("SELECT content_object FROM files WHERE id = ?", (file_id,)).fetchone()
    return server.data_dir / "blobs" / str(key)[:2] / str(key)


def token_of(client: Client) -> str:
    with sqlite3.connect(client.home / "state.db") as db:
        (token,) = db.execute("SELECT token FROM account").fetchone()
    return str(token)


def test_export_goes_on_past_a_damaged_object(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    photos = make_tree(
        tmp_path / "photos",
        {
            "a.jpg": jpeg_bytes(1, (400, 300)),
            "b.jpg": jpeg_bytes(2, (400, 300)),
            "c.jpg": jpeg_bytes(3, (400, 300)),
            "movie.mp4": b"\x00\x00\x00\x18ftypmp42" + os.urandom(9 * 1024 * 1024),
        },
    )
    alice.json("backup", str(photos), "--album", "Trip")
    ids = {f["name"]: f["id"] for f in alice.json("ls")}
    damaged = object_of(server, ids["b.jpg"])
    os.truncate(damaged, damaged.stat().st_size // 2)
    os.truncate(object_of(server, ids["movie.mp4"]) / "00000001.part", 10)

    result = alice.run("export", str(tmp_path / "out"), "--json", check=False)

    assert result.returncode == 7, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["written"] == 2
    failed = {item["file_id"]: item for item in report["failed"]}
    assert set(failed) == {str(ids["b.jpg"]), str(ids["movie.mp4"])}
    for name in ("b.jpg", "movie.mp4"):
        item = failed[str(ids[name])]
        assert item["path"].endswith(f"Trip/{name}")
        assert f"file {ids[name]} is damaged" in item["error"]
        assert "report it to the server's admin" in item["error"]
        assert "internal server error" not in item["error"]
    out = tree_digest(tmp_path / "out" / "Trip")
    assert set(out) == {"a.jpg", "c.jpg"}  # nothing partial under a real name
    assert out["a.jpg"] == (photos / "a.jpg").read_bytes()
    log = (server.data_dir.parent / f"server-{server.port}.log").read_text()
    assert "Traceback" not in log and "unhandled error" not in log
    assert f"file {ids['b.jpg']}: object {damaged.name} holds" in log  # told to the admin


def test_a_deleted_broken_album_stops_failing_export(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    alice.json("backup", str(make_tree(tmp_path / "p", {"a.jpg": jpeg_bytes(1)})), "--album", "A")
    headers = {"Authorization": f"Bearer {token_of(alice)}"}
    garbage = base64.b64encode(os.urandom(72)).decode()  # no key of this account opens it
    broken = httpx.post(
        f"{server.url}/collections",
        json={"encrypted_key": garbage, "encrypted_name": garbage},
        headers=headers,
    ).json()
    first = alice.run("export", str(tmp_path / "out"), "--json", check=False)
    assert first.returncode == 7, first.stdout + first.stderr
    assert [f["file_id"] for f in json.loads(first.stdout)["failed"]] == ["0"]

    deleted = httpx.delete(f"{server.url}/collections/{broken['id']}", headers=headers)
    assert deleted.status_code == 204

    again = alice.run("export", str(tmp_path / "out"), "--json", check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["failed"] == []
