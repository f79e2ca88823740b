"""Upload sessions: parts, checksums, sizes, resumption info, quota, storage full, expiry."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from photoark.protocol.models import MIN_PART_SIZE, FileCommit
from photoark.server.blobs import LocalBlobStore
from photoark.server.errors import NotFound
from photoark.server.services import UploadService, build_services

from .conftest import Account, Api, AppFactory

PART = MIN_PART_SIZE


@pytest.mark.local_blobs
def test_session_lists_parts_and_counts_puts(api: Api, alice: Account) -> None:
    data = os.urandom(2 * PART + 100)
    up = api.upload(alice, data, skip=frozenset({1}))
    session = api.http.get(f"/uploads/{up.upload_id}", headers=alice.headers).json()
    assert session["part_count"] == 3 and session["state"] == "open"
    assert [p["number"] for p in session["parts"]] == [0, 2]
    assert session["parts"][1]["size"] == 100
    store = api.services.upload_store
    assert store.put_count(up.upload_id, 0) == 1
    assert store.put_count(up.upload_id, 1) == 0
    # resume: send only the missing part; re-sending one overwrites and is counted
    assert api.put_part(alice, up.upload_id, 1, data[PART : 2 * PART]).status_code == 200
    assert api.put_part(alice, up.upload_id, 0, data[:PART]).status_code == 200
    assert store.put_count(up.upload_id, 1) == 1
    assert store.put_count(up.upload_id, 0) == 2


@pytest.mark.local_blobs
def test_checksum_mismatch(api: Api, alice: Account) -> None:
    session = api.open_upload(alice, PART).json()
    response = api.put_part(alice, session["id"], 0, os.urandom(PART), sha256="00" * 32)
    assert response.status_code == 400
    assert response.json()["code"] == "checksum_mismatch"
    assert api.services.upload_store.put_count(session["id"], 0) == 0


@pytest.mark.local_blobs
def test_wrong_part_sizes_and_numbers(api: Api, alice: Account) -> None:
    session = api.open_upload(alice, PART + 10).json()
    too_short = api.put_part(alice, session["id"], 0, os.urandom(PART - 1))
    assert too_short.status_code == 400 and too_short.json()["code"] == "bad_request"
    too_long = api.put_part(alice, session["id"], 1, os.urandom(11))
    assert too_long.status_code == 400 and too_long.json()["details"]["expected_size"] == 10
    beyond = api.put_part(alice, session["id"], 2, os.urandom(10))
    assert beyond.status_code == 400 and beyond.json()["details"]["part_count"] == 2
    no_header = api.http.put(
        f"/uploads/{session['id']}/parts/1", content=b"x" * 10, headers=alice.headers
    )
    assert no_header.status_code == 400


def test_abort(api: Api, alice: Account) -> None:
    up = api.upload(alice, os.urandom(PART))
    assert api.http.delete(f"/uploads/{up.upload_id}", headers=alice.headers).status_code == 204
    assert api.http.get(f"/uploads/{up.upload_id}", headers=alice.headers).status_code == 404


def test_quota_exceeded_at_session_open(make_api: AppFactory) -> None:
    api = make_api(default_quota=3 * PART)
    alice = api.signup()
    album = api.album(alice)
    api.new_file(alice, album, size=PART, thumb_size=0)  # stored: PART
    api.open_upload(alice, PART)  # open: PART
    response = api.open_upload(alice, PART + 1)
    assert response.status_code == 413
    problem = response.json()
    assert problem["code"] == "quota_exceeded"
    assert problem["details"] == {
        "quota_bytes": 3 * PART,
        "used_bytes": 2 * PART,
        "requested_bytes": PART + 1,
    }
    assert "64.0 KiB" in problem["message"]
    assert api.open_upload(alice, PART).status_code == 201  # exactly fills the quota


class FullDiskStore(LocalBlobStore):
    def _write_file(self, path: Path, data: bytes | bytearray) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_storage_full(make_api: AppFactory, tmp_path: Path) -> None:
    api = make_api(blobs=FullDiskStore(tmp_path / "full"))
    alice = api.signup()
    album = api.album(alice)
    session = api.open_upload(alice, PART).json()
    response = api.put_part(alice, session["id"], 0, os.urandom(PART))
    assert response.status_code == 507
    assert response.json()["code"] == "storage_full"
    assert api.http.get(f"/uploads/{session['id']}", headers=alice.headers).json()["parts"] == []
    from .conftest import Uploaded

    commit = api.commit(alice, album, Uploaded(session["id"], b""))
    assert commit.status_code == 409 and commit.json()["code"] == "upload_incomplete"
    assert api.usage(alice)["files"] == 0


def test_expired_sessions_are_collected(make_api: AppFactory) -> None:
    api = make_api(upload_expiry_seconds=-1)
    alice = api.signup()
    session = api.open_upload(alice, 2 * PART).json()
    # Expired already: parts are refused, as if the session were gone.
    assert api.put_part(alice, session["id"], 0, os.urandom(PART)).status_code == 404
    api.blobs.put_part(session["id"], 0, b"leftover")
    assert api.services.uploads.collect_expired() == 1
    assert api.services.uploads.collect_expired() == 0
    assert api.blobs.part_sizes(session["id"]) == {}
    assert api.http.get(f"/uploads/{session['id']}", headers=alice.headers).status_code == 404


def test_gc_keeps_live_sessions(api: Api, alice: Account) -> None:
    up = api.upload(alice, os.urandom(PART))
    assert api.services.uploads.collect_expired() == 0
    session = api.http.get(f"/uploads/{up.upload_id}", headers=alice.headers).json()
    assert len(session["parts"]) == 1


def test_gc_spares_an_upload_committed_while_it_runs(api: Api, alice: Account) -> None:
    """A commit landing between the collector's look-up and its delete keeps its content.

    The collector runs with a clock an hour past the expiry (the session is expired for it, not
    for the commit). Just before its first DELETE, a commit of that session runs in another
    thread; on PostgreSQL it completes there, on SQLite it waits for the collector's write lock.
    """
    album = api.album(alice)
    content = api.upload(alice, os.urandom(PART + 10))
    engine = api.app.state.engine
    gc_thread = threading.get_ident()
    outcome: dict[str, Any] = {}

    def commit() -> None:
        outcome["response"] = api.commit(alice, album, content)

    def before_execute(*args: Any) -> None:
        statement: str = args[2]
        if (
            threading.get_ident() == gc_thread
            and statement.lstrip().upper().startswith("DELETE")
            and "worker" not in outcome
        ):
            worker = threading.Thread(target=commit)
            outcome["worker"] = worker
            worker.start()
            worker.join(timeout=10 if engine.dialect.name == "postgresql" else 0.2)

    expiry = api.app.state.settings.upload_expiry_seconds
    late_gc = UploadService(
        api.services.upload_store, api.blobs, expiry, clock=lambda: time.time() + expiry + 3600
    )
    event.listen(engine, "before_cursor_execute", before_execute)
    try:
        collected = late_gc.collect_expired()
    finally:
        event.remove(engine, "before_cursor_execute", before_execute)
    outcome["worker"].join(timeout=60)
    response = outcome["response"]
    if response.status_code == 201:  # the commit won: nothing of it may be collected
        file_id = response.json()["id"]
        download = api.http.get(f"/files/{file_id}/content", headers=alice.headers)
        assert download.status_code == 200 and download.content == content.data
        assert collected == 0
        session = api.http.get(f"/uploads/{content.upload_id}", headers=alice.headers)
        assert session.json()["state"] == "committed"
    else:  # the collector won: the commit failed cleanly
        assert response.status_code == 404, response.text
        assert collected == 1 and api.usage(alice)["files"] == 0
    if engine.dialect.name == "postgresql":
        assert response.status_code == 201  # nothing held the commit back


def test_commit_rechecks_expiry_in_its_transaction(api: Api, alice: Account) -> None:
    """A session that expires between the commit's first check and its transaction is gone."""
    album = api.album(alice)
    content = api.upload(alice, os.urandom(PART))
    calls: list[float] = []

    expiry = api.app.state.settings.upload_expiry_seconds

    def clock() -> float:  # fresh at the first look, past expiry afterwards
        calls.append(time.time())
        return calls[0] if len(calls) == 1 else calls[0] + expiry + 60

    services = build_services(api.app.state.settings, api.app.state.engine, api.blobs, clock=clock)
    request = FileCommit(
        collection_id=album.id,
        content_upload_id=content.upload_id,
        encrypted_key=b"k" * 40,
        encrypted_metadata=b"m" * 40,
    )
    with pytest.raises(NotFound):
        services.files.commit(alice.user_id, request)
    assert api.usage(alice)["files"] == 0
    row = api.services.upload_store.get(alice.user_id, content.upload_id)
    assert row.state == "open" and row.file_id is None
