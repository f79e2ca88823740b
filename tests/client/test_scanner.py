from __future__ import annotations

import os
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


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_folder_is_reported(tmp_path: Path) -> None:
    make_tree(tmp_path, {"locked": {"a.jpg": b"1"}})
    os.chmod(tmp_path / "locked", 0)
    try:
        items = list(scan([str(tmp_path)]))
    finally:
        os.chmod(tmp_path / "locked", 0o700)
    assert any(isinstance(i, PassedOver) and i.is_error for i in items)


def test_a_single_file_root(tmp_path: Path) -> None:
    make_tree(tmp_path, {"one.jpg": b"1"})
    assert _found(list(scan([str(tmp_path / "one.jpg")]))) == ["one.jpg"]
