"""The daemon paused offline says why and what to do, in its log and in ``photoark status``: an
object store out of reach while the server answers is not "the server is unreachable"."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from photoark.cli.main import build_app
from photoark.client.daemon.board import StatusPublisher
from photoark.client.daemon.pausing import Pausing
from photoark.client.daemon.policy import Conditions
from photoark.client.daemon.timing import DaemonTiming
from photoark.client.errors import StoreUnreachable
from photoark.client.home import ClientHome
from photoark.client.settings import Settings
from photoark.client.state.daemonstate import StatusBoard
from photoark.client.state.db import StateDB
from photoark.client.status import status_report


class MainsProbe:
    def read(self) -> Conditions:
        return Conditions(metered=False, on_battery=False, battery_percent=None)


def test_an_unreachable_store_is_told_with_its_hint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = ClientHome(tmp_path / "home").ensure()
    db = StateDB(home.state_db)
    try:
        status = StatusPublisher(StatusBoard(db))
        status.publish(state="backing_up")
        pausing = Pausing(
            MainsProbe(), Settings(db), DaemonTiming(), lambda: 0.0, threading.Event(), status
        )
        err = StoreUnreachable("cannot reach the object store at http://weed:8333 (refused)")
        with caplog.at_level(logging.WARNING, logger="photoark.client.daemon.pausing"):
            pausing.went_offline(str(err), err.hint)
        assert pausing.reason() == "offline"
        logged = caplog.records[-1].getMessage()
        assert logged.startswith(f"{err}; retrying in 1 s") and err.hint in logged
        assert "server unreachable" not in logged

        daemon = status_report(db)["daemon"]
        assert daemon["paused"] == "offline"
        assert (daemon["offline_reason"], daemon["offline_hint"]) == (str(err), err.hint)
    finally:
        db.close()

    printed = CliRunner().invoke(build_app(), ["status", "--home", str(home.root)])
    assert printed.exit_code == 0, printed.output
    flat = " ".join(printed.output.split())
    assert "paused: the server (or its object store) is unreachable" in flat
    assert f"why: {err}" in flat and f"hint: {err.hint}" in flat
