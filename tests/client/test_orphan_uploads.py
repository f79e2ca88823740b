"""Upload sessions a killed run left unrecorded (opened on the server, never written to the
upload queue) are aborted at the start of the next backup and of the daemon, so they stop
holding quota; sessions of other devices, and those the queue names, are left alone.

The server is the real app on uvicorn in a thread; the client is a real client home
(:mod:`tests.client.servers`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from photoark.client.daemon.daemon import Daemon, DaemonTiming
from photoark.client.daemon.policy import Conditions
from photoark.client.pipeline.backup import backup
from photoark.client.pipeline.orphans import abort_orphan_uploads, home_tag, session_key
from photoark.client.pipeline.uploader import PART_SIZE
from photoark.client.session import Session
from photoark.client.state.queue import PendingUpload, UploadQueue
from photoark.server.config import ServerSettings
from tests.builders import jpeg_bytes, make_tree, wait_for
from tests.client.servers import Served, serving, signed_up

QUOTA = 4 * 1024 * 1024
ORPHAN = QUOTA - 2048  # leaves too little room for the backup while it holds quota


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    settings = ServerSettings(
        data_dir=tmp_path / "server",
        login_hash="min",
        default_quota=QUOTA,
        events_heartbeat_seconds=0.5,
    )
    with serving(settings) as served:
        yield served


@pytest.fixture
def session(tmp_path: Path, server: Served) -> Iterator[Session]:
    with signed_up(tmp_path / "laptop", server.url) as s:
        yield s


def open_ids(session: Session) -> list[str]:
    return [u.id for u in session.api.open_uploads()]


def queued(session: Session, upload_id: str, path: str) -> None:
    UploadQueue(session.db).put(
        PendingUpload(
            path=path,
            size=1,
            mtime_ns=1,
            hash="h",
            file_key=b"k" * 32,
            header=b"h" * 24,
            upload_id=upload_id,
            part_size=PART_SIZE,
            part_count=1,
        )
    )


def test_only_this_homes_forgotten_sessions_are_aborted(session: Session, server: Served) -> None:
    tag = home_tag(session.db)
    assert home_tag(session.db) == tag  # kept
    api = session.api
    orphan = api.open_upload(1000, PART_SIZE, idempotency_key=session_key(tag)).id
    known = api.open_upload(1000, PART_SIZE, idempotency_key=session_key(tag)).id
    queued(session, known, "/photos/big.mov")
    other_device = api.open_upload(1000, PART_SIZE, idempotency_key=session_key("f" * 16)).id
    random_key = api.open_upload(1000, PART_SIZE).id  # a key without any home's tag
    no_key = httpx.post(
        f"{server.url}/uploads",
        json={"size": 1000, "part_size": PART_SIZE},
        headers={"Authorization": f"Bearer {session.account.token}"},
    ).json()["id"]

    assert abort_orphan_uploads(session.api, session.db) == [orphan]
    assert sorted(open_ids(session)) == sorted([known, other_device, random_key, no_key])
    assert abort_orphan_uploads(session.api, session.db) == []


def test_a_server_that_cannot_list_sessions_is_left_alone(session: Session) -> None:
    def old_server() -> Any:
        from photoark.client.errors import ApiError

        raise ApiError("bad_request", "Method Not Allowed", 405)

    session.api.open_uploads = old_server  # type: ignore[method-assign]
    assert abort_orphan_uploads(session.api, session.db) == []


def test_a_backup_first_frees_the_quota_a_killed_run_held(tmp_path: Path, session: Session) -> None:
    # a run killed right after POST /uploads: the session holds quota, the queue never saw it
    orphan = session.api.open_upload(ORPHAN, PART_SIZE, session_key(home_tag(session.db)))
    assert open_ids(session) == [orphan.id]
    photos = make_tree(tmp_path / "photos", {f"p{i}.jpg": jpeg_bytes(i) for i in range(3)})

    report = backup(session, [str(photos)], "Phone")

    assert report.failed == [] and not report.quota_exceeded, report.failed
    assert report.uploaded == 3
    assert open_ids(session) == []


def test_the_pipeline_tags_the_sessions_it_opens(tmp_path: Path, session: Session) -> None:
    keys: list[str | None] = []
    opened = session.api.open_upload

    def spy(size: int, part_size: int, idempotency_key: str | None = None) -> Any:
        keys.append(idempotency_key)
        return opened(size, part_size, idempotency_key)

    session.api.open_upload = spy  # type: ignore[method-assign]
    size = PART_SIZE + 1000  # more than one part: the resumable path, through a session
    movie = b"\x00\x00\x00\x18ftypmp42" + bytes(size)
    make_tree(tmp_path / "videos", {"clip.mp4": movie})
    report = backup(session, [str(tmp_path / "videos")], "Videos")
    assert report.quota_exceeded  # the session was asked for (and refused: 4 MiB of quota)
    tag = home_tag(session.db)
    assert keys and all(key is not None and key.startswith(tag + "-") for key in keys)


class MainsProbe:
    def read(self) -> Conditions:
        return Conditions(metered=False, on_battery=False, battery_percent=None)


def test_the_daemon_aborts_them_when_it_starts(session: Session) -> None:
    orphan = session.api.open_upload(1000, PART_SIZE, session_key(home_tag(session.db)))
    daemon = Daemon(session, MainsProbe(), DaemonTiming(policy_every=0.1, watches_every=0.1))
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: orphan.id not in open_ids(session), timeout=20)
    finally:
        daemon.stop()
        thread.join(20)
    assert not thread.is_alive()
