"""``photoark doctor`` against a real server: reachable, logged in, clock; then down."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders import Client, ServerProcess

pytestmark = pytest.mark.e2e


def test_server_login_and_clock_with_a_real_server(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    report = alice.json("doctor", check=False)
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["server"]["level"] == "ok" and server.url in checks["server"]["detail"]
    assert checks["login"]["level"] == "ok" and checks["clock"]["level"] == "ok"
    server.stop()
    down = alice.run("doctor", "--json", check=False)
    assert down.returncode == 1
    assert '"fail"' in down.stdout and "cannot reach" in down.stdout
