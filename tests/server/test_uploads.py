"""Upload sessions: parts, checksums, sizes, resumption info, quota, storage full, expiry."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from photoark.protocol.models import MIN_PART_SIZE
from photoark.server.blobs import LocalBlobStore

from .conftest import Account, Api, AppFactory

PART = MIN_PART_SIZE


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


def test_checksum_mismatch(api: Api, alice: Account) -> None:
    session = api.open_upload(alice, PART).json()
    response = api.put_part(alice, session["id"], 0, os.urandom(PART), sha256="00" * 32)
    assert response.status_code == 400
    assert response.json()["code"] == "checksum_mismatch"
    assert api.services.upload_store.put_count(session["id"], 0) == 0


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
    def _write_file(self, path: Path, data: bytes) -> None:
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
