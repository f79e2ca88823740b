"""Pushed events and background jobs: the hub fans out what threads publish to every open
stream, each bounded; jobs run once per kind, their progress and end published; the daemon's
board and the server's change stream feed the hub."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
from watchdog.events import FileModifiedEvent

from photoark.client.errors import ClientError, ServerUnreachable
from photoark.client.state.daemonstate import StatusBoard
from photoark.client.state.db import StateDB
from photoark.web import hub as hub_module
from photoark.web.hub import QUEUE_DEPTH, BoardWatcher, Hub, LibraryFollower
from photoark.web.jobs import Job, Jobs, Progress
from tests.builders import wait_for
from tests.web.builders import WebApi, web_library


def run(coroutine: Callable[[], Any]) -> Any:
    """Run ``coroutine()`` on a loop of its own thread: another suite's browser driver may keep
    an event loop running in this one (playwright's sync API does)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(asyncio.wait_for(coroutine(), 5))).result()


def publish_from_thread(hub: Hub, *events: tuple[str, dict[str, Any]]) -> None:
    def publish() -> None:
        for kind, data in events:
            hub.publish(kind, data)

    thread = threading.Thread(target=publish)
    thread.start()
    thread.join(5)


async def connected(hub: Hub) -> AsyncGenerator[str, None]:
    stream = cast(AsyncGenerator[str, None], hub.stream())
    assert await anext(stream) == ": connected\n\n"
    return stream


# -- Hub ----------------------------------------------------------------------------------------


def test_a_stream_gets_what_another_thread_publishes() -> None:
    hub = Hub()

    async def scenario() -> str:
        stream = await connected(hub)
        publish_from_thread(hub, ("library", {"version": 3}))
        message = await anext(stream)
        await stream.aclose()
        return message

    assert run(scenario) == 'event: library\ndata: {"version": 3}\n\n'


def test_every_open_stream_gets_each_event() -> None:
    hub = Hub()

    async def scenario() -> list[str]:
        first, second = await connected(hub), await connected(hub)
        publish_from_thread(hub, ("status", {"state": "idle"}))
        got = [await anext(first), await anext(second)]
        for stream in (first, second):
            await stream.aclose()
        return got

    assert run(scenario) == ['event: status\ndata: {"state": "idle"}\n\n'] * 2


def test_an_event_without_data_sends_an_empty_object() -> None:
    hub = Hub()

    async def scenario() -> str:
        stream = await connected(hub)
        hub.publish("library")
        message = await anext(stream)
        await stream.aclose()
        return message

    message = run(scenario)
    assert message.startswith("event: library\n")
    assert json.loads(message.split("data: ", 1)[1]) == {}


def test_publishing_with_no_page_open_is_a_no_op() -> None:
    Hub().publish("library", {"version": 1})  # no loop yet: dropped, no error


def test_a_slow_page_keeps_only_the_newest_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "HEARTBEAT_SECONDS", 0.05)
    hub = Hub()

    async def scenario() -> list[int]:
        stream = await connected(hub)
        publish_from_thread(hub, *(("job", {"n": n}) for n in range(QUEUE_DEPTH + 36)))
        await asyncio.sleep(0.05)  # the loop takes every event in while the page reads nothing
        seen = []
        while (message := await anext(stream)) != ": heartbeat\n\n":
            seen.append(json.loads(message.split("data: ", 1)[1])["n"])
        await stream.aclose()
        return seen

    assert run(scenario) == list(range(36, QUEUE_DEPTH + 36))


def test_a_quiet_stream_sends_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "HEARTBEAT_SECONDS", 0.01)
    hub = Hub()

    async def scenario() -> list[str]:
        stream = await connected(hub)
        got = [await anext(stream), await anext(stream)]
        await stream.aclose()
        return got

    assert run(scenario) == [": heartbeat\n\n"] * 2


def test_a_closed_stream_gets_nothing_more() -> None:
    hub = Hub()

    async def scenario() -> str:
        gone, staying = await connected(hub), await connected(hub)
        await gone.aclose()
        publish_from_thread(hub, ("library", {}))
        message = await anext(staying)
        await staying.aclose()
        return message

    assert run(scenario).startswith("event: library")
    assert len(hub._queues) == 0


# -- Jobs ---------------------------------------------------------------------------------------


class RecordingHub(Hub):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, kind: str, data: dict[str, Any] | None = None) -> None:
        self.sent.append((kind, dict(data or {})))


def finished(job: Job) -> Job:
    assert job.thread is not None
    job.thread.join(5)
    assert not job.thread.is_alive()
    return job


def test_a_job_runs_in_the_background_and_keeps_its_result() -> None:
    hub = RecordingHub()
    jobs = Jobs(hub)
    ran_in: list[str] = []

    def work(progress: Progress) -> dict[str, int]:
        ran_in.append(threading.current_thread().name)
        return {"groups": 3}

    job = finished(jobs.start("similar", work))
    assert ran_in == ["web-job-similar"]
    assert jobs.get("similar") is job
    shown = job.as_json()
    assert shown["state"] == "done"
    assert shown["result"] == {"groups": 3}
    assert isinstance(shown["finished_at"], float)
    assert hub.sent[-1] == ("job", {"kind": "similar", "state": "done", "error": None})


def test_starting_a_running_kind_joins_it() -> None:
    jobs = Jobs(RecordingHub())
    release = threading.Event()
    calls: list[str] = []

    def slow(progress: Progress) -> str:
        calls.append("slow")
        assert release.wait(5)
        return "first"

    def other(progress: Progress) -> str:
        calls.append("other")
        return "second"

    job = jobs.start("freeup", slow)
    assert jobs.start("freeup", other) is job
    assert job.as_json()["state"] == "running"
    release.set()
    assert finished(job).result == "first"
    assert calls == ["slow"]


def test_a_finished_kind_can_run_again() -> None:
    jobs = Jobs(RecordingHub())
    finished(jobs.start("similar", lambda progress: 1))
    job = finished(jobs.start("similar", lambda progress: 2))
    assert job.as_json()["result"] == 2


def test_kinds_run_apart() -> None:
    jobs = Jobs(RecordingHub())
    release = threading.Event()
    held = jobs.start("similar", lambda progress: release.wait(5))
    other = finished(jobs.start("freeup", lambda progress: "done"))
    assert other.state == "done"
    assert held.state == "running"
    release.set()
    finished(held)


def test_a_client_error_is_shown_with_its_hint() -> None:
    hub = RecordingHub()
    jobs = Jobs(hub)

    def fails(progress: Progress) -> None:
        raise ClientError("no model", "install it with pip")

    job = finished(jobs.start("similar", fails))
    error = {"message": "no model", "hint": "install it with pip"}
    assert job.as_json() == {"kind": "similar", "state": "failed", "error": error}
    assert hub.sent[-1] == ("job", {"kind": "similar", "state": "failed", "error": error})


def test_an_unexpected_error_fails_the_job_not_the_app() -> None:
    jobs = Jobs(RecordingHub())

    def breaks(progress: Progress) -> None:
        raise ValueError("bad pixel")

    job = finished(jobs.start("similar", breaks))
    assert job.state == "failed"
    assert job.error == {"message": "ValueError: bad pixel", "hint": ""}
    # and a later run clears the error
    job = finished(jobs.start("similar", lambda progress: "ok"))
    assert job.as_json() == {
        "kind": "similar",
        "state": "done",
        "result": "ok",
        "finished_at": job.finished_at,
    }


def test_a_job_that_never_ran_is_idle() -> None:
    assert Jobs(RecordingHub()).get("freeup").as_json() == {"kind": "freeup", "state": "idle"}


def test_a_running_job_shows_its_progress() -> None:
    hub = RecordingHub()
    jobs = Jobs(hub)
    release = threading.Event()
    counted = threading.Event()

    def work(progress: Progress) -> None:
        progress.describe("embedding")
        progress.set_total(10)
        progress.advance(4)
        counted.set()
        assert release.wait(5)

    job = jobs.start("similar", work)
    assert counted.wait(5)
    assert job.as_json() == {
        "kind": "similar",
        "state": "running",
        "stage": "embedding",
        "done": 4,
        "total": 10,
    }
    release.set()
    finished(job)
    total_sent = {"kind": "similar", "state": "running", "stage": "embedding", "total": 10}
    assert ("job", {**total_sent, "done": 0}) in hub.sent


def test_progress_is_published_sparingly_but_stages_and_totals_always() -> None:
    sent: list[dict[str, Any]] = []
    progress = Progress("freeup", lambda kind, data: sent.append(data))
    progress.describe("checking files")
    progress.set_total(1000)
    for _ in range(1000):
        progress.tick()
    progress.describe("done checking")
    assert [s["stage"] for s in sent[:2]] == ["checking files", "checking files"]
    assert sent[1]["total"] == 1000
    assert sent[-1] == {
        "kind": "freeup",
        "state": "running",
        "stage": "done checking",
        "done": 1000,
        "total": 1000,
    }
    assert len(sent) < 10  # not one per file


# -- BoardWatcher -------------------------------------------------------------------------------


class CountingBoard(StatusBoard):
    reads = 0

    def read(self) -> dict[str, Any] | None:
        self.reads += 1
        return super().read()


class Boards:
    """A state DB with a status board, and a watcher of it that records what it publishes."""

    def __init__(self, root: Path) -> None:
        self.path = root / "state.db"
        self.db = StateDB(self.path)
        self.board = CountingBoard(self.db)
        self.seen: list[dict[str, Any]] = []
        self.watcher = BoardWatcher(self.path, self.board, self.seen.append, settle=0.05)

    def touch(self, name: str = "state.db") -> None:
        self.watcher.on_any_event(FileModifiedEvent(str(self.path.parent / name)))


@pytest.fixture
def boards(tmp_path: Path) -> Iterator[Boards]:
    built = Boards(tmp_path)
    yield built
    built.watcher.stop()
    built.db.close()


def test_a_change_of_the_board_is_published_once(boards: Boards) -> None:
    boards.board.write({"state": "uploading", "pid": os.getpid()})
    boards.touch("state.db-wal")
    wait_for(lambda: boards.seen, timeout=5)
    assert boards.seen[0]["state"] == "uploading"
    assert boards.seen[0]["running"] is True
    boards.touch()
    threading.Event().wait(0.2)
    assert boards.board.reads == 2
    assert len(boards.seen) == 1  # the board did not change: nothing new to say


def test_a_burst_of_writes_is_one_look(boards: Boards) -> None:
    boards.board.write({"state": "idle", "pid": os.getpid()})
    for _ in range(20):
        boards.touch()
    threading.Event().wait(0.2)
    assert boards.board.reads == 1
    assert len(boards.seen) == 1


def test_other_files_do_not_wake_the_watcher(boards: Boards) -> None:
    boards.board.write({"state": "idle"})
    boards.touch("photo.jpg")
    threading.Event().wait(0.2)
    assert boards.board.reads == 0
    assert boards.seen == []


def test_a_stopped_daemon_is_not_running(boards: Boards) -> None:
    boards.board.write({"state": "stopped", "pid": os.getpid()})
    boards.touch()
    wait_for(lambda: boards.seen, timeout=5)
    assert boards.seen[0]["running"] is False


def test_the_watcher_sees_the_daemon_write_its_board(boards: Boards) -> None:
    boards.watcher.start()
    boards.board.write({"state": "scanning", "pid": os.getpid()})
    wait_for(lambda: any(s.get("state") == "scanning" for s in boards.seen), timeout=5)


# -- LibraryFollower ----------------------------------------------------------------------------


def follow(tmp_path: Path, setup: Callable[[WebApi], None]) -> list[tuple[str, dict[str, Any]]]:
    """Run a follower over a fake server until its change stream is drained; what it published."""
    library = web_library(tmp_path / "home")
    api = library.api
    assert isinstance(api, WebApi)
    hub = RecordingHub()
    follower = LibraryFollower(library.session, hub, threading.Lock())
    setup(api)
    api.after_events.append(follower.stop)
    follower.start()
    follower._thread.join(5)
    assert not follower._thread.is_alive()
    library.close()
    return hub.sent


def test_a_newer_version_is_pulled_and_published(tmp_path: Path) -> None:
    def announce(api: WebApi) -> None:
        api.versions = [0, 7]

    assert follow(tmp_path, announce) == [("library", {"version": 7})]


def test_an_unreachable_server_is_published(tmp_path: Path) -> None:
    def down(api: WebApi) -> None:
        api.events_error = ServerUnreachable("connection refused")

    assert follow(tmp_path, down) == [("server", {"reachable": False})]


def test_a_refusing_server_is_published_with_its_error(tmp_path: Path) -> None:
    def refusing(api: WebApi) -> None:
        api.events_error = ClientError("token revoked")

    assert follow(tmp_path, refusing) == [("server", {"reachable": True, "error": "token revoked"})]
