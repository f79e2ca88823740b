"""The README's two commands and the scripts behind them (scripts/install.sh, scripts/test.sh,
scripts/lib/venv.sh): a virtual environment is created and used unless one is active, because a
Debian or Ubuntu system Python refuses ``pip install`` (PEP 668)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import jpeg_bytes, make_tree

ROOT = Path(__file__).resolve().parents[1]
VENV_LIB = ROOT / "scripts" / "lib" / "venv.sh"


def _use_venv(target: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = f'. "{VENV_LIB}"; use_venv "{target}"; echo "PY=$PY"'
    return subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=300
    )


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PHOTOARK_PYTHON")}
    env.update(extra)
    return env


def test_the_readme_names_the_two_scripts() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)
    assert commands == ["bash scripts/install.sh ~/Pictures", "bash scripts/test.sh"]
    for script in ("install.sh", "test.sh"):
        text = (ROOT / "scripts" / script).read_text()
        assert "use_venv" in text  # neither installs into whatever python3 is on PATH


def test_an_active_virtual_environment_is_used(tmp_path: Path) -> None:
    active = tmp_path / "active"
    (active / "bin").mkdir(parents=True)
    (active / "bin" / "python").symlink_to(sys.executable)
    result = _use_venv(tmp_path / "unused", _clean_env(VIRTUAL_ENV=str(active)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"PY={active}/bin/python"
    assert not (tmp_path / "unused").exists()


def test_too_old_a_python_is_refused_with_a_hint(tmp_path: Path) -> None:
    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\n[ \"$1\" = -V ] && echo 'Python 3.9.2'\nexit 1\n")
    old.chmod(0o755)
    result = _use_venv(tmp_path / "venv", _clean_env(PHOTOARK_PYTHON=str(old)))
    assert result.returncode == 1
    assert "needs Python 3.11 or newer" in result.stderr
    assert "Python 3.9.2" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_a_python_that_cannot_make_a_venv_says_what_to_install(tmp_path: Path) -> None:
    # Debian's python3 without python3-venv: `-m venv` fails (ensurepip is missing)
    broken = tmp_path / "python3"
    broken.write_text(
        f'#!/bin/sh\nif [ "$1" = -m ] && [ "$2" = venv ]; then mkdir -p "$3"; exit 1; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    broken.chmod(0o755)
    result = _use_venv(tmp_path / "venv", _clean_env(PHOTOARK_PYTHON=str(broken)))
    assert result.returncode == 1
    assert "sudo apt install python3-venv" in result.stderr
    assert not (tmp_path / "venv").exists()  # no half-made environment left behind


@pytest.mark.slow
def test_a_virtual_environment_is_created_when_none_is_active(tmp_path: Path) -> None:
    target = tmp_path / "venv"
    result = _use_venv(target, _clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"PY={target}/bin/python"
    prefix = subprocess.run(
        [str(target / "bin" / "python"), "-c", "import sys; print(sys.prefix != sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert prefix.stdout.strip() == "True"


@pytest.mark.e2e
@pytest.mark.slow
def test_install_script_installs_links_and_backs_up(tmp_path: Path) -> None:
    """The README's first command in a fresh home: a new virtual environment, photoark
    installed into it (from PyPI through pip's cache), the link, a first backup."""
    home = tmp_path / "home"
    pictures = make_tree(home / "Pictures" / "Trips", {"a.jpg": jpeg_bytes(1)}).parent
    env = _clean_env(
        HOME=str(home),
        PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    for name in ("XDG_DATA_HOME", "PHOTOARK_HOME", "PHOTOARK_VENV"):
        env.pop(name, None)
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install.sh"), str(pictures), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    link = home / ".local" / "bin" / "photoark"
    pid = re.search(r'"server_pid": (\d+)', result.stdout)
    try:
        assert result.returncode == 0, result.stderr[-2000:]
        assert link.resolve() == home / ".local" / "share" / "photoark-venv" / "bin" / "photoark"
        assert '"uploaded": 1' in result.stdout
        assert (home / ".local" / "share" / "photoark" / "local-account.txt").exists()
    finally:
        if pid:
            os.kill(int(pid.group(1)), signal.SIGTERM)
