"""Trash and albums through the CLI: rm from one album (the last one → Uncategorized), delete
to the trash, restore into the album, delete for good and empty (usage drops), expiry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.builders import Client, jpeg_bytes, make_tree, running_server, wait_for

pytestmark = pytest.mark.e2e


def _where(client: Client) -> dict[str, set[str]]:
    """file name → albums holding it"""
    out: dict[str, set[str]] = {}
    for f in client.json("ls"):
        out.setdefault(f["name"], set()).add(f["album"])
    return out


def _ids(client: Client) -> dict[str, int]:
    return {f["name"]: f["id"] for f in client.json("ls")}


def test_rm_delete_restore_and_empty(tmp_path: Path, alice: Client) -> None:
    pics = make_tree(tmp_path / "p", {f"{c}.jpg": jpeg_bytes(i) for i, c in enumerate("abc")})
    alice.json("backup", str(pics), "--album", "Trips")
    alice.json("backup", str(pics / "a.jpg"), "--album", "Best")
    assert _where(alice)["a.jpg"] == {"Trips", "Best"}

    # rm: out of one album; a file in no other album goes to Uncategorized, never to trash
    alice.json("rm", "Trips", "a.jpg", "b.jpg")
    where = _where(alice)
    assert where["a.jpg"] == {"Best"} and where["b.jpg"] == {"Uncategorized"}
    assert alice.json("usage")["trash_bytes"] == 0
    refused = alice.run("rm", "Trips", "nope.jpg", check=False)
    assert refused.returncode != 0 and "not in the album" in refused.stderr

    # delete: to the trash, from every album
    ids = _ids(alice)
    stored = alice.json("usage")["stored_bytes"]
    alice.json("delete", str(ids["c.jpg"]), str(ids["a.jpg"]))
    assert set(_where(alice)) == {"b.jpg"}
    trash: list[dict[str, Any]] = alice.json("trash", "ls")
    assert {t["name"]: set(t["albums"]) for t in trash} == {"c.jpg": {"Trips"}, "a.jpg": {"Best"}}
    usage = alice.json("usage")
    assert usage["trash_bytes"] == sum(t["stored_bytes"] for t in trash)
    assert usage["stored_bytes"] + usage["trash_bytes"] == stored

    # restore: back where it was, and into --album too
    alice.json("trash", "restore", str(ids["c.jpg"]), "--album", "Restored")
    assert _where(alice)["c.jpg"] == {"Trips", "Restored"}
    assert [t["name"] for t in alice.json("trash", "ls")] == ["a.jpg"]

    # delete for good, then empty: usage drops
    before = alice.json("usage")
    done = alice.json("trash", "delete", str(ids["a.jpg"]))
    assert done["deleted"] == 1 and done["bytes"] == before["trash_bytes"]
    after = alice.json("usage")
    assert after["trash_bytes"] == 0 and after["stored_bytes"] == before["stored_bytes"]
    alice.json("delete", str(ids["b.jpg"]))
    freed = alice.json("trash", "empty")
    assert freed["deleted"] == 1 and alice.json("usage")["trash_bytes"] == 0
    assert alice.json("trash", "ls") == []


def test_trash_expires_after_the_server_period(tmp_path: Path) -> None:
    # 0.00003 days = 2.6 s; swept every 0.5 s
    with running_server(
        tmp_path / "s", "--trash-days", "0.00003", "--trash-sweep-seconds", "0.5"
    ) as server:
        alice = Client(tmp_path / "alice", server.url)
        alice.signup()
        pics = make_tree(tmp_path / "p", {"a.jpg": jpeg_bytes(1), "b.jpg": jpeg_bytes(2)})
        alice.json("backup", str(pics), "--album", "A")
        ids = _ids(alice)
        alice.json("delete", str(ids["a.jpg"]))
        assert len(alice.json("trash", "ls")) == 1
        wait_for(lambda: alice.json("trash", "ls") == [], timeout=30, every=0.5)
        usage = alice.json("usage")
        assert usage["trash_bytes"] == 0 and usage["files"] == 1
