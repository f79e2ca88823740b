"""One version, from pyproject.toml: the package, the CLI and the server's ``/health`` agree."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from fastapi.testclient import TestClient

import photoark
from photoark.server.app import create_app
from photoark.server.config import ServerSettings

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_cli_and_server_report_pyprojects_version(tmp_path: Path) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert photoark.__version__ == declared
    done = subprocess.run(
        [sys.executable, "-c", "from photoark.cli.main import main; main()", "--version"],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.strip() == f"photoark {declared}"
    app = create_app(ServerSettings(data_dir=tmp_path / "server", login_hash="min"))
    with TestClient(app) as http:
        assert http.get("/health").json()["version"] == declared
