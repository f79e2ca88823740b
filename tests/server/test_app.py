"""The app around the routes: migrations, concurrency of the change counter, the lifespan GC,
unexpected errors, and a real server process started with ``python -m photoark.server``."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from photoark.protocol.models import MIN_PART_SIZE
from photoark.server.blobs import BlobStoreError
from photoark.server.store import create_db_engine, migrate
from photoark.server.store.migrations import MIGRATIONS
from photoark.server.store.schema import schema_version

from .conftest import Account, Api, AppFactory, free_port


def test_migrations_are_recorded_and_idempotent(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        latest = MIGRATIONS[-1][0]
        assert migrate(engine) == latest
        assert migrate(engine) == latest
        with engine.begin() as conn:
            versions = conn.execute(select(schema_version.c.version)).scalars().all()
        assert versions == [v for v, _ in MIGRATIONS]
    finally:
        engine.dispose()


def test_concurrent_changes_take_distinct_versions(api: Api, alice: Account) -> None:
    album = api.album(alice)
    records = [api.new_file(alice, album, size=1000, thumb_size=0)[0] for _ in range(4)]
    targets = [api.album(alice, f"t{i}") for i in range(3)]

    def add(job: tuple[int, int]) -> int:
        target, record = targets[job[0]], records[job[1]]
        response = api.add_to_album(alice, target, record["id"])
        assert response.status_code == 201, response.text
        return int(response.json()["version"])

    jobs = [(t, r) for t in range(len(targets)) for r in range(len(records))]
    with ThreadPoolExecutor(8) as pool:
        versions = list(pool.map(add, jobs))
    assert len(set(versions)) == len(jobs)
    diff = api.http.get("/diff", params={"limit": 1000}, headers=alice.headers).json()
    all_versions = [c["version"] for c in diff["collections"]]
    all_versions += [e["version"] for e in diff["entries"]]
    assert len(all_versions) == len(set(all_versions)) == diff["latest_version"]


def test_lifespan_runs_the_upload_collector(make_api: AppFactory) -> None:
    api = make_api(upload_expiry_seconds=0, gc_interval_seconds=0.05)
    alice = api.signup()
    session = api.open_upload(alice, MIN_PART_SIZE).json()
    api.blobs.put_part(session["id"], 0, b"left behind")
    with TestClient(api.app):
        deadline = time.monotonic() + 5
        while api.blobs.part_sizes(session["id"]) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert api.blobs.part_sizes(session["id"]) == {}


def test_unexpected_errors_are_internal_problems(
    api: Api, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(api.services.sync, "usage", boom)
    client = TestClient(api.app, raise_server_exceptions=False)
    response = client.get("/usage", headers=alice.headers)
    assert response.status_code == 500
    assert response.json() == {
        "code": "internal",
        "message": "internal server error (the server's log says what failed)",
        "details": {},
    }


def test_a_store_failing_mid_request_is_logged_not_told(
    api: Api, alice: Account, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "S3 refused the credentials for bucket 'b' at http://10.0.0.5:8333"

    def refused(*_args: object) -> None:
        raise BlobStoreError(secret)

    monkeypatch.setattr(api.services.sync, "usage", refused)
    client = TestClient(api.app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="photoark.server.api.problems"):
        response = client.get("/usage", headers=alice.headers)
    assert response.status_code == 500
    assert response.json()["code"] == "internal"
    assert "10.0.0.5" not in response.text
    assert secret in caplog.text and "GET /usage" in caplog.text


@pytest.mark.e2e
def test_python_m_server_process(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "photoark.server", "--data", str(tmp_path / "data"),
             "--port", str(port), "--login-hash", "min", "--default-quota", "1MiB",
             "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ},
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        response = httpx.post(f"{url}/uploads", json={"size": 1, "part_size": MIN_PART_SIZE})
        assert response.status_code == 401 and response.json()["code"] == "unauthorized"
        assert (tmp_path / "data" / "photoark.db").exists()
    finally:
        process.terminate()
        process.wait(10)


def test_concurrent_identical_adds_make_one_entry(api: Api, alice: Account) -> None:
    album, other = api.album(alice), api.album(alice)
    record, _ = api.new_file(alice, album, size=1000, thumb_size=0)
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: api.add_to_album(alice, other, record["id"]), range(8)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["version"] for r in responses}) == 1


def test_concurrent_commits_of_one_upload_make_one_file(api: Api, alice: Account) -> None:
    album = api.album(alice)
    content = api.upload(alice, os.urandom(2 * MIN_PART_SIZE))
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: api.commit(alice, album, content), range(4)))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert api.usage(alice)["files"] == 1


def test_sqlite_commits_are_fsynced(tmp_path: Path) -> None:
    """``synchronous=FULL`` (2): an acknowledged commit survives power loss, even in WAL mode."""
    engine = create_db_engine(f"sqlite:///{tmp_path}/durable.db")
    try:
        with engine.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    finally:
        engine.dispose()
