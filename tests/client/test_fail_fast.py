"""A server that is down, or an address mistyped, is said at once to someone waiting at the
command line; a server that answered and then went away (a restart mid-upload) is waited for,
and the patient policy waits for the first contact too."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from photoark.client.api import ApiClient
from photoark.client.errors import InvalidServerUrl, ServerUnreachable
from photoark.client.home import resolve_home
from photoark.client.state import StateDB
from photoark.client.state.account import Account, AccountStore
from photoark.client.transport import PATIENT, Retry, RetryPolicy, server_url
from photoark.crypto.keys import ARGON2_MIN, create_account_keys
from photoark.protocol.models import KeyAttributesModel
from tests.builders import free_port


class Server(httpx.BaseTransport):
    """Answers ``/health`` while ``up``; refuses the connection (or lets it time out) when
    not. Counts the attempts."""

    def __init__(self, up: bool = False, down: type[httpx.TransportError] = httpx.ConnectError):
        self.up = up
        self.down = down
        self.attempts = 0
        self.status = 200

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if not self.up:
            raise self.down("[Errno 111] Connection refused", request=request)
        return httpx.Response(self.status, json={"status": "ok", "version": "1", "time": 0.0})


def _client(server: Server, policy: RetryPolicy, sleeps: list[float]) -> ApiClient:
    fake = dataclasses.replace(policy, sleep=sleeps.append)  # no real waiting in tests
    return ApiClient("http://127.0.0.1:9", retry=fake, transport=server)


def test_a_refused_first_contact_fails_after_one_quick_retry() -> None:
    server, sleeps = Server(), list[float]()
    with _client(server, RetryPolicy(), sleeps) as api, pytest.raises(ServerUnreachable) as err:
        api.health()
    assert server.attempts == 2 and sleeps == [0.25]
    assert err.value.url == "http://127.0.0.1:9"
    assert str(err.value) == (
        "cannot reach the photoark server at http://127.0.0.1:9 ([Errno 111] Connection refused)"
    )
    assert "server running" in err.value.hint


def test_a_connect_timeout_at_first_contact_is_not_tried_again() -> None:
    server, sleeps = Server(down=httpx.ConnectTimeout), list[float]()
    with _client(server, RetryPolicy(), sleeps) as api, pytest.raises(ServerUnreachable) as err:
        api.health()
    assert server.attempts == 1 and sleeps == []
    assert "no answer within 10 s" in str(err.value)


def test_a_request_that_is_not_idempotent_fails_fast_too() -> None:
    server, sleeps = Server(), list[float]()
    with _client(server, RetryPolicy(), sleeps) as api, pytest.raises(ServerUnreachable) as err:
        api._send("POST", "/auth/signup", json={}, retry=Retry.UNSENT)
    assert server.attempts == 2 and "cannot reach" in str(err.value)


def test_the_patient_policy_retries_the_first_contact_with_backoff() -> None:
    """The daemon's: it would rather wait (and has its own backoff on top)."""
    server, sleeps = Server(), list[float]()
    with _client(server, PATIENT, sleeps) as api, pytest.raises(ServerUnreachable) as err:
        api.health()
    assert server.attempts == 6 and sleeps == [0.25, 0.5, 1.0, 2.0, 4.0]
    assert "after 6 attempts" in str(err.value)


def test_a_server_that_answered_once_is_waited_for() -> None:
    """A backup that loses the server mid-run (a restart) retries with backoff, and goes on
    when it is back."""
    server, sleeps = Server(up=True), list[float]()
    back_after: int | None = None  # the server is back after this many waits

    def sleep(delay: float) -> None:
        sleeps.append(delay)
        if back_after is not None and len(sleeps) >= back_after:
            server.up = True

    with ApiClient("http://127.0.0.1:9", retry=RetryPolicy(sleep=sleep), transport=server) as api:
        api.health()
        server.up = False
        with pytest.raises(ServerUnreachable) as err:
            api.health()
        assert server.attempts == 1 + 6 and sleeps == [0.25, 0.5, 1.0, 2.0, 4.0]
        assert "after 6 attempts" in str(err.value)
        back_after = len(sleeps) + 2
        assert api.health().status == "ok"
        assert server.attempts == 7 + 3


def test_a_busy_server_at_first_contact_is_waited_for() -> None:
    """502/503/504: something answered (a proxy, a server restarting): the whole backoff."""
    server, sleeps = Server(up=True), list[float]()
    server.status = 503
    with _client(server, RetryPolicy(), sleeps) as api, pytest.raises(ServerUnreachable):
        api.health()
    assert server.attempts == 6


@pytest.mark.parametrize(
    ("given", "suggested"),
    [
        ("htp://127.0.0.1:1", "http://127.0.0.1:1"),
        ("localhost:8080", "http://localhost:8080"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http:/photos.example.org", "http://photos.example.org"),
        ("htps://photos.example.org", "https://photos.example.org"),
        ("http://", "http://127.0.0.1:8080"),
        ("http://host:port", "http://host:port"),
        ("", "http://127.0.0.1:8080"),
    ],
)
def test_an_address_that_is_not_a_url_is_refused_before_any_request(
    given: str, suggested: str
) -> None:
    server = Server(up=True)
    with pytest.raises(InvalidServerUrl) as err:
        ApiClient(given, transport=server)
    assert server.attempts == 0
    assert err.value.hint.endswith(f"e.g. {suggested}")


def test_good_addresses_are_kept() -> None:
    assert server_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert server_url(" https://photos.example.org/ark ") == "https://photos.example.org/ark"
    assert server_url("HTTP://[::1]:8080") == "HTTP://[::1]:8080"


# -- through the real CLI ---------------------------------------------------------------------


def _home_on(tmp_path: Path, server: str) -> Path:
    """A client home logged in to ``server`` (no server needed to make it)."""
    home = resolve_home(tmp_path / "home").ensure()
    keys = create_account_keys("pw", ARGON2_MIN)
    db = StateDB(home.state_db)
    try:
        AccountStore(db).save(
            Account(
                server=server,
                email="alice@example.com",
                user_id=1,
                token="t" * 32,
                master_key=keys.master_key,
                key_attributes=KeyAttributesModel(**dataclasses.asdict(keys.attributes)),
            )
        )
    finally:
        db.close()
    return home.root


def _photoark(
    home: Path, *args: str, stdin: str = ""
) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "PHOTOARK_HOME": str(home), "COLUMNS": "300"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "photoark.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    return done, time.monotonic() - started


def test_ls_on_a_dead_server_fails_within_a_second(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    home = _home_on(tmp_path, url)
    startup = _photoark(home, "--version")[1]  # the interpreter and imports, not the wait
    done, took = _photoark(home, "ls")
    assert done.returncode == 5, done.stderr
    assert took - startup < 1.0, f"{took:.2f} s (start-up {startup:.2f} s)"
    assert f"cannot reach the photoark server at {url}" in done.stderr
    assert "is the server running? check the address (`photoark doctor`)" in done.stderr


def test_a_dead_local_server_is_to_be_started(tmp_path: Path) -> None:
    """The account is on the local server quickstart set up: start it, says the hint."""
    url = f"http://127.0.0.1:{free_port()}"
    home = _home_on(tmp_path, url)
    (home / "server").mkdir()
    (home / "server" / "local-server.json").write_text(
        json.dumps({"url": url, "data_dir": str(home / "server"), "log": "x", "pid": None})
    )
    done, _ = _photoark(home, "ls")
    assert done.returncode == 5
    assert "start it with `photoark local start`" in done.stderr


def test_signup_with_a_mistyped_address_fails_at_once(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    startup = _photoark(home, "--version")[1]
    args = ("signup", "--email", "a@example.com", "--password-stdin", "--server")
    done, took = _photoark(home, *args, "htp://127.0.0.1:1", stdin="pw\n")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "'htp://127.0.0.1:1' is not a server address" in done.stderr
    assert "e.g. http://127.0.0.1:1" in done.stderr
    assert took - startup < 1.0
    # refused (without `--kdf min`: the server is asked before the costly keys are made)
    done, took = _photoark(home, *args, f"http://127.0.0.1:{free_port()}", stdin="pw\n")
    assert done.returncode == 5 and "cannot reach" in done.stderr
    assert took - startup < 1.0, f"{took:.2f} s (start-up {startup:.2f} s)"
