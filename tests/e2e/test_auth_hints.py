"""The hint after a refused login fits the command: a wrong password at `photoark login` is
"check the email and password" (and where quickstart wrote this home's password, if it did),
not "log in again"; a revoked login on another command says how to log in again, with this
home's server and email."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders import Client, ServerProcess

pytestmark = pytest.mark.e2e


def _hint(stderr: str) -> str:
    return " ".join(stderr.split("hint:", 1)[1].split())


def test_a_wrong_password_at_login(tmp_path: Path, server: ServerProcess, alice: Client) -> None:
    other = Client(tmp_path / "other", server.url)
    wrong = other.login(password="not the password", check=False)
    assert wrong.returncode == 4
    assert _hint(wrong.stderr) == "check the email and password"

    # a home quickstart set up: its credentials file is pointed at
    other.home.mkdir(parents=True)
    (other.home / "local-account.txt").write_text("password: ...\n")
    wrong = other.login(password="not the password", check=False)
    assert _hint(wrong.stderr) == (
        "check the email and password (this home's quickstart account and password are in "
        f"{other.home.resolve() / 'local-account.txt'})"
    )


def test_a_revoked_login(tmp_path: Path, server: ServerProcess, alice: Client) -> None:
    phone = Client(tmp_path / "alice-phone", server.url)
    phone.login()
    mine = next(s["id"] for s in phone.json("sessions", "ls")["sessions"] if s["current"])
    alice.json("sessions", "revoke", str(mine))
    refused = phone.run("ls", check=False)
    assert refused.returncode == 4 and "Traceback" not in refused.stderr
    assert _hint(refused.stderr) == (
        f"log in again: `photoark login --server {server.url} --email alice@example.com`"
    )
