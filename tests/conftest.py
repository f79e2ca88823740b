"""Suite-wide: every test under ``tests/e2e/`` is marked ``e2e`` (real server processes), so the
fast loop can leave them out with ``-m "not e2e"`` (README, "Development")."""

from __future__ import annotations

from pathlib import Path

import pytest

_E2E = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _E2E in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)
