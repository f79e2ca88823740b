"""``photoark backup`` limits glibc's malloc arenas to two before its threads start, as the
daemon does (:func:`photoark.tuning.limit_arenas`): each worker, sender and render thread
otherwise kept an arena, and the memory freed in it (parts, pictures) stayed in the process.

The limit only holds if it is set before the threads make their arenas, so it is checked on
the real command in a fresh interpreter: glibc's own ``malloc_stats`` lists every arena the
process made, at its exit. The server is the real app in a thread of the test process."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from photoark.server.config import ServerSettings
from tests.builders import jpeg_bytes, make_tree
from tests.client.servers import Served, serving, signed_up

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="malloc arenas are glibc's",
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    with serving(ServerSettings(data_dir=tmp_path / "server", login_hash="min")) as served:
        yield served


def arenas_after(home: Path, argv: list[str]) -> tuple[int, str]:
    """Run ``photoark ARGV`` in a fresh interpreter; the malloc arenas it had made by its
    exit, and its stdout."""
    script = textwrap.dedent(
        f"""
        import atexit, ctypes, sys
        atexit.register(ctypes.CDLL("libc.so.6").malloc_stats)  # to stderr, every arena
        from photoark.cli.main import main
        sys.argv = ["photoark", *{argv!r}]
        main()
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env |= {"PHOTOARK_HOME": str(home), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return len(re.findall(r"^Arena \d+:$", done.stderr, re.M)), done.stdout


def test_the_backup_command_runs_on_two_arenas(tmp_path: Path, server: Served) -> None:
    home = tmp_path / "laptop"
    signed_up(home, server.url).close()
    photos = make_tree(tmp_path / "photos", {f"IMG_{i}.JPG": jpeg_bytes(i) for i in range(12)})
    count, out = arenas_after(home, ["backup", str(photos), "--album", "A", "--workers", "4"])
    assert "uploaded 12" in out
    # the main thread's and one more, whatever the workers, bundle senders and renderers
    assert count <= 2
