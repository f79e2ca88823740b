"""Logins end to end: a real server process and the real CLI on two devices of one account.

``photoark sessions ls`` lists both logins (this device's marked), ``photoark sessions revoke``
logs the other device out at once (its next command is refused, and its open change stream
ends within a second), an unknown id is a clear error; wrong passwords in a row are told to
wait, and the right one gets in once the wait is over.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from pathlib import Path

import pytest

from photoark.client.api import ApiClient
from photoark.client.home import resolve_home
from photoark.client.session import Session
from photoark.client.transport import RetryPolicy
from tests.builders import Client, ServerProcess

pytestmark = pytest.mark.e2e


def token_of(client: Client) -> str:
    with Session.open(resolve_home(client.home)) as session:
        return session.account.token


def test_list_and_revoke_another_devices_login(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    phone = Client(tmp_path / "alice-phone", server.url)
    phone.login()
    listed = alice.json("sessions", "ls")
    assert len(listed["sessions"]) == 2
    mine = [s for s in listed["sessions"] if s["current"]]
    assert len(mine) == 1
    phone_id = next(s["id"] for s in phone.json("sessions", "ls")["sessions"] if s["current"])
    assert phone_id != mine[0]["id"]
    text = alice.run("sessions", "ls").stdout
    assert "(this device)" in text and f"#{phone_id}" in text

    # the phone keeps its change stream open, as its daemon does
    events: queue.Queue[int | BaseException | None] = queue.Queue()

    def listen() -> None:
        with ApiClient(server.url, token_of(phone), retry=RetryPolicy(attempts=1)) as api:
            try:
                for version in api.events():
                    events.put(version)
                events.put(None)
            except BaseException as err:
                events.put(err)

    threading.Thread(target=listen, daemon=True).start()
    assert events.get(timeout=10) == 0

    revoked = alice.json("sessions", "revoke", str(phone_id))
    assert revoked == {"revoked": phone_id, "current": False}
    started = time.monotonic()
    assert events.get(timeout=5) is None  # the stream ended
    assert time.monotonic() - started < 1.0

    refused = phone.run("sessions", "ls", check=False)
    assert refused.returncode == 4, refused.stderr  # AuthFailed
    assert "revoked" in refused.stderr and "Traceback" not in refused.stderr
    assert [s["id"] for s in alice.json("sessions", "ls")["sessions"]] == [mine[0]["id"]]

    unknown = alice.run("sessions", "revoke", "999999", check=False)
    assert unknown.returncode == 1
    assert "no session 999999" in unknown.stderr and "Traceback" not in unknown.stderr


def test_wrong_passwords_in_a_row_are_told_to_wait(
    tmp_path: Path, server: ServerProcess, alice: Client
) -> None:
    other = Client(tmp_path / "other", server.url)
    outcomes = []
    for _ in range(12):  # the delays double, so a wait is met however slow a CLI run is
        outcomes.append(other.login(password="not the password", check=False))
        if "too many failed logins" in outcomes[-1].stderr:
            break
    assert all(o.returncode == 4 for o in outcomes[:5])  # wrong password
    wait = outcomes[-1]
    assert wait.returncode != 0 and "too many failed logins" in wait.stderr, wait.stderr
    found = re.search(r"try again in (\d+) s", wait.stderr)
    assert found and "Traceback" not in wait.stderr
    time.sleep(int(found.group(1)) + 0.5)
    other.login()  # the right password, once the wait is over
