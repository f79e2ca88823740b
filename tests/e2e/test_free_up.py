"""``photoark free-up-space`` never deletes a file that is not safely backed up: randomised
rounds of backed-up, modified-after-backup, never-backed-up and trashed-only files; only the
true candidates disappear, each into the desktop trash (or gone with --permanent)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from tests.builders import Client, ServerProcess, jpeg_bytes

pytestmark = pytest.mark.e2e

KINDS = ("backed_up", "modified", "never", "trashed_only")
REASON = {
    "modified": "modified_since_backup",
    "never": "not_backed_up",
    "trashed_only": "only_in_trash",
}


def test_only_true_candidates_are_deleted(
    tmp_path: Path, alice: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the desktop trash goes here
    desktop_trash = tmp_path / "xdg" / "Trash" / "files"
    rng = random.Random(7)
    seed = 0
    for round_no in range(4):
        folder = tmp_path / f"round{round_no}"
        folder.mkdir()
        kinds = {f"IMG_{i:02}.jpg": rng.choice(KINDS) for i in range(10)}
        kinds["IMG_99.jpg"] = "backed_up"  # at least one candidate per round
        content: dict[str, bytes] = {}
        for name, kind in kinds.items():
            if kind != "never":
                seed += 1
                content[name] = jpeg_bytes(seed)
                (folder / name).write_bytes(content[name])
        alice.json("backup", str(folder), "--album", f"R{round_no}")
        listed = {f["name"]: f["id"] for f in alice.json("ls", f"R{round_no}")}
        trashed = [listed[n] for n, k in kinds.items() if k == "trashed_only"]
        if trashed:
            alice.json("delete", *map(str, trashed))
        for name, kind in kinds.items():
            if kind in ("modified", "never"):
                seed += 1
                content[name] = jpeg_bytes(seed)
                (folder / name).write_bytes(content[name])

        plan = alice.json("free-up-space", str(folder))
        expected = {str(folder / n) for n, k in kinds.items() if k == "backed_up"}
        assert {c["path"] for c in plan["candidates"]} == expected
        assert plan["bytes"] == sum(
            (folder / n).stat().st_size for n in content if str(folder / n) in expected
        )
        reasons = {k["path"]: k["reason"] for k in plan["kept"]}
        assert reasons == {str(folder / n): REASON[k] for n, k in kinds.items() if k != "backed_up"}
        assert all((folder / n).exists() for n in kinds), "a listing deletes nothing"

        permanent = round_no % 2 == 1
        trash_before = set(desktop_trash.glob("*")) if desktop_trash.exists() else set()
        extra = ["--permanent"] if permanent else []
        done = alice.json("free-up-space", str(folder), "--apply", *extra)
        assert {d["path"] for d in done["deleted"]} == expected
        trash_now = set(desktop_trash.glob("*")) if desktop_trash.exists() else set()
        if permanent:
            assert trash_now == trash_before
        else:
            assert len(trash_now - trash_before) == len(expected)
        for name, kind in kinds.items():
            if kind != "backed_up":
                assert (folder / name).read_bytes() == content[name], f"{name} ({kind}) touched"
                continue
            assert not (folder / name).exists()
            if not permanent:
                assert any(p.read_bytes() == content[name] for p in trash_now - trash_before), (
                    f"{name} is not in the desktop trash"
                )


def test_a_file_changed_after_the_listing_is_kept(tmp_path: Path, alice: Client) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg_bytes(1))
    alice.json("backup", str(folder), "--album", "A")
    assert len(alice.json("free-up-space", str(folder))["candidates"]) == 1
    (folder / "a.jpg").write_bytes(jpeg_bytes(2))  # edited meanwhile
    done = alice.json("free-up-space", str(folder), "--apply", "--permanent")
    assert done["deleted"] == [] and (folder / "a.jpg").read_bytes() == jpeg_bytes(2)


def test_verify_download_refuses_a_corrupt_server_copy(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg_bytes(1))
    (folder / "b.jpg").write_bytes(jpeg_bytes(2))
    alice.json("backup", str(folder), "--album", "A")
    # flip a byte in one file's stored content (same size: only a download can tell)
    with sqlite3.connect(server.data_dir / "photoark.db") as db:
        key = db.execute("SELECT content_object FROM files ORDER BY id LIMIT 1").fetchone()[0]
    (victim,) = [p for p in (server.data_dir / "blobs").rglob(key) if p.is_file()]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    plain = alice.json("free-up-space", str(folder))
    assert len(plain["candidates"]) == 2  # sizes match: a stat cannot tell
    checked = alice.json("free-up-space", str(folder), "--verify-download")
    assert len(checked["candidates"]) == 1
    assert [k["reason"] for k in checked["kept"]] == ["server_copy_corrupt"]


def test_no_watched_folders_and_no_paths_is_a_clear_error(alice: Client) -> None:
    out = alice.run("free-up-space", check=False)
    assert out.returncode != 0 and "watch" in out.stderr
