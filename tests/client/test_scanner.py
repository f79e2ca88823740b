from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from photoark.client.pipeline.scanner import Found, PassedOver, scan
from tests.builders import make_tree


def _found(items: list[Found | PassedOver]) -> list[str]:
    return sorted(os.path.basename(i.path) for i in items if isinstance(i, Found))


def test_walks_recursively_skips_hidden_and_reports_sidecars(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        {
            "a.jpg": b"1",
            ".hidden.jpg": b"2",
            ".cache": {"c.jpg": b"3"},
            "sub": {"b.jpg": b"4", "b.xmp": "x", "IMG_1.AAE": "x"},
        },
    )
    items = list(scan([str(tmp_path)]))
    assert _found(items) == ["a.jpg", "b.jpg"]
    sidecars = sorted(os.path.basename(i.path) for i in items if isinstance(i, PassedOver))
    assert sidecars == ["IMG_1.AAE", "b.xmp"]


def test_symlink_loop_is_walked_once(tmp_path: Path) -> None:
    make_tree(tmp_path, {"d": {"a.jpg": b"1"}})
    (tmp_path / "d" / "loop").symlink_to(tmp_path)
    (tmp_path / "d" / "self").symlink_to(tmp_path / "d")
    assert _found(list(scan([str(tmp_path)]))) == ["a.jpg"]


def test_broken_symlink_and_missing_root_are_reported(tmp_path: Path) -> None:
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "nowhere")
    items = list(scan([str(tmp_path), str(tmp_path / "missing")]))
    errors = [i for i in items if isinstance(i, PassedOver) and i.is_error]
    assert len(errors) == 2


_SCAN_ERRORS = """
import json, sys
from photoark.client.pipeline.scanner import PassedOver, scan
items = list(scan([sys.argv[1]]))
print(json.dumps([i.path for i in items if isinstance(i, PassedOver) and i.is_error]))
"""


def _scan_errors_unprivileged(root: Path) -> list[str]:
    """The paths the scanner reports as errors, scanned without the power to read everything:
    in a child process with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped from its bounding
    set (``setpriv``), so that even as root (CI) a folder of mode 0 is refused as it is to a
    user. Without root, the child is simply a user."""
    command = [sys.executable, "-c", _SCAN_ERRORS, str(root)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv (util-linux) to drop privileges")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors: list[str] = json.loads(out)
    return errors


def test_unreadable_folder_is_reported(tmp_path: Path) -> None:
    make_tree(tmp_path, {"locked": {"a.jpg": b"1"}, "open.jpg": b"2"})
    os.chmod(tmp_path / "locked", 0)
    try:
        errors = _scan_errors_unprivileged(tmp_path)
    finally:
        os.chmod(tmp_path / "locked", 0o700)
    assert errors == [str(tmp_path / "locked")]


def test_a_single_file_root(tmp_path: Path) -> None:
    make_tree(tmp_path, {"one.jpg": b"1"})
    assert _found(list(scan([str(tmp_path / "one.jpg")]))) == ["one.jpg"]
