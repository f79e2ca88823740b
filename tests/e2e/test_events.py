"""Change push end to end: a real server process (``photoark server`` and ``python -m
photoark.server``), two devices of one account, and shutdown by signal with a stream open: the
stream ends cleanly and the process exits within seconds (an open stream never ends by itself).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from photoark.client.api import ApiClient
from photoark.client.transport import RetryPolicy
from photoark.crypto.boxes import new_key, seal, wrap_key
from photoark.crypto.keys import ARGON2_MIN, create_account_keys
from photoark.protocol.models import (
    CollectionCreate,
    KeyAttributesModel,
    LoginRequest,
    SignupRequest,
)
from tests.builders import PASSWORD, free_port

pytestmark = pytest.mark.e2e


def _start(command: list[str], url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise AssertionError("the server did not start")


def _devices(url: str) -> tuple[ApiClient, ApiClient, bytes]:
    """Two logged-in devices of one new account, and its master key."""
    keys = create_account_keys(PASSWORD, ARGON2_MIN)
    attrs = KeyAttributesModel(
        kek_salt=keys.attributes.kek_salt,
        ops_limit=keys.attributes.ops_limit,
        mem_limit=keys.attributes.mem_limit,
        master_key_wrapped=keys.attributes.master_key_wrapped,
        master_key_wrapped_recovery=keys.attributes.master_key_wrapped_recovery,
        recovery_key_wrapped=keys.attributes.recovery_key_wrapped,
    )
    retry = RetryPolicy(attempts=1)
    laptop = ApiClient(url, retry=retry)
    laptop.token = laptop.signup(
        SignupRequest(email="alice@example.org", login_key=keys.login_key, key_attributes=attrs)
    ).token
    phone = ApiClient(url, retry=retry)
    phone.token = phone.login(
        LoginRequest(email="alice@example.org", login_key=keys.login_key)
    ).token
    return laptop, phone, keys.master_key


def _listen(client: ApiClient) -> queue.Queue[int | BaseException | None]:
    received: queue.Queue[int | BaseException | None] = queue.Queue()

    def run() -> None:
        try:
            for version in client.events():
                received.put(version)
            received.put(None)
        except BaseException as err:
            received.put(err)

    threading.Thread(target=run, daemon=True).start()
    return received


@pytest.mark.parametrize(
    ("entry", "sig"),
    [("photoark server", signal.SIGTERM), ("python -m photoark.server", signal.SIGINT)],
)
def test_push_between_devices_and_shutdown_with_a_stream_open(
    tmp_path: Path, entry: str, sig: signal.Signals
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    module = ["photoark.cli.main", "server"] if entry == "photoark server" else ["photoark.server"]
    command = [sys.executable, "-m", *module, "--data", str(tmp_path / "data")]
    command += ["--port", str(port), "--login-hash", "min"]
    process = _start(command, url, tmp_path / "server.log")
    try:
        laptop, phone, master_key = _devices(url)
        with laptop, phone:
            received = _listen(phone)
            assert received.get(timeout=5) == 0
            key = new_key()
            sent = time.monotonic()
            laptop.create_collection(
                CollectionCreate(
                    encrypted_key=wrap_key(master_key, key), encrypted_name=seal(key, b"Holidays")
                )
            )
            assert received.get(timeout=1) == 1
            assert time.monotonic() - sent < 1

            stopping = time.monotonic()
            os.kill(process.pid, sig)
            process.wait(10)
            assert time.monotonic() - stopping < 5, "the server hung on an open stream"
            assert received.get(timeout=2) is None  # the stream ended cleanly, not broken off
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
