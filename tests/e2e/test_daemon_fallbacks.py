"""The daemon in-process, on a real server, where the system lets it down: inotify cannot
watch (its limit reached), a watched folder is missing (an unplugged disk)."""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from photoark.client.daemon.daemon import Daemon, DaemonTiming
from photoark.client.daemon.policy import Conditions
from photoark.client.session import Session
from photoark.client.state.watches import WatchList
from photoark.client.status import status_report
from tests.builders import jpeg_bytes, wait_for

pytestmark = pytest.mark.e2e


class MainsProbe:
    def read(self) -> Conditions:
        return Conditions(metered=False, on_battery=False, battery_percent=None)


@contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        thread.join(20)
        assert not thread.is_alive()


def _names(session: Session) -> set[str]:
    return {f.name for a in session.mirror.albums() for f in session.mirror.files_in_album(a.id)}


def test_no_inotify_falls_back_to_rescanning(
    tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    pics = tmp_path / "pics"
    pics.mkdir()
    WatchList(session.db).add(str(pics))
    timing = DaemonTiming(policy_every=0.1, watches_every=0.1, unwatched_every=0.5)
    daemon = Daemon(session, MainsProbe(), timing)

    def no_watch(root: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(daemon.watcher, "watch", no_watch)
    with running(daemon):
        (pics / "a.jpg").write_bytes(jpeg_bytes(1))
        wait_for(lambda: "a.jpg" in _names(session), timeout=20)
        problem = status_report(session.db)["watches"][0]["problem"]
        assert "max_user_watches" in problem


def test_a_missing_folder_is_waited_for(tmp_path: Path, session: Session) -> None:
    pics = tmp_path / "disk" / "pics"
    pics.mkdir(parents=True)
    WatchList(session.db).add(str(pics))
    (tmp_path / "disk").rename(tmp_path / "unplugged")
    timing = DaemonTiming(policy_every=0.1, watches_every=0.1)
    with running(Daemon(session, MainsProbe(), timing)):
        wait_for(lambda: status_report(session.db)["watches"][0]["problem"], timeout=10)
        assert not status_report(session.db)["watches"][0]["exists"]
        (tmp_path / "unplugged").rename(tmp_path / "disk")
        (pics / "b.jpg").write_bytes(jpeg_bytes(2))
        wait_for(lambda: "b.jpg" in _names(session), timeout=20)
        assert status_report(session.db)["watches"][0]["problem"] is None
