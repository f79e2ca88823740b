"""``photoark quickstart``: a local server, a local account with its credentials file, a first
backup; run again, it keeps the account and backs up only what is new."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

from tests.builders import Client, jpeg_bytes, make_tree


def test_quickstart_sets_up_once_and_backs_up(tmp_path: Path) -> None:
    pics = make_tree(tmp_path / "Holidays", {f"img{i}.jpg": jpeg_bytes(i) for i in range(3)})
    client = Client(tmp_path / "home", server="")
    first = client.json("quickstart", str(pics))
    pid = first["server_pid"]
    try:
        assert first["album"] == "Holidays"
        assert first["backup"]["uploaded"] == 3
        credentials = Path(first["credentials"])
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        text = credentials.read_text()
        assert "password: " in text and "recovery key: " in text
        assert first["server"] in text

        (pics / "img3.jpg").write_bytes(jpeg_bytes(3))
        second = client.json("quickstart", str(pics))
        assert second["server"] == first["server"]
        assert second["backup"]["uploaded"] == 1
        assert second["backup"]["skipped"] == 3
        assert credentials.read_text() == text  # the account is kept, not made again
        names = sorted(row["name"] for row in client.json("ls", "Holidays"))
        assert names == [f"img{i}.jpg" for i in range(4)]
        told = " ".join(client.run("quickstart", str(pics)).stdout.split())
        assert "photoark local status" in told and "photoark local start" in told
    finally:
        if pid:
            os.kill(pid, signal.SIGTERM)


def test_a_folder_that_does_not_exist_sets_nothing_up(tmp_path: Path) -> None:
    client = Client(tmp_path / "home", server="")
    done = client.run("quickstart", str(tmp_path / "Picturs"), check=False)
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Picturs" in done.stderr
    assert not client.home.exists()  # no home: no server started, no account, no album
