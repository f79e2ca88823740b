"""Direct transfers leave no session holding quota: a staged small file or thumbnail opens a
session on the server (counted against the quota until it is committed, aborted, or expires a
day later), so a bundle that fails aborts what it staged, and a run that stopped between the
stage and the commit (the server gone, or the client killed) leaves sessions that the next run
aborts when it settles their queue rows. And an object store that refuses every address the
server signs stops an export at once, with that refusal's hint, not one "damaged copy" per file.

The server is the real app in this process (:mod:`tests.client.servers`) with its blobs in a
real SeaweedFS (:mod:`tests.s3_fixtures`); the client is a real client home."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from photoark.client.errors import ApiError, ServerUnreachable, UrlExpired
from photoark.client.library.export import export
from photoark.client.pipeline.backup import backup
from photoark.client.pipeline.report import BackupReport
from photoark.client.session import Session
from photoark.protocol.models import DirectStageItem, DirectUpload, DownloadUrl
from photoark.server.config import ServerSettings
from tests.builders import jpeg_bytes, make_tree
from tests.client.servers import Served, serving, signed_up
from tests.clusters import WeedCluster
from tests.s3_fixtures import s3_bucket_fixture, s3_url_fixture, weed_fixture  # noqa: F401

PHOTOS = 3


class Killed(BaseException):
    """Stands for the process dying: no ``except Exception`` sees it, so nothing cleans up."""


@pytest.fixture
def server(tmp_path: Path, s3_url: str) -> Iterator[Served]:
    settings = ServerSettings(data_dir=tmp_path / "server", login_hash="min", blobs_url=s3_url)
    with serving(settings) as served:
        yield served


@pytest.fixture
def session(tmp_path: Path, server: Served) -> Iterator[Session]:
    with signed_up(tmp_path / "laptop", server.url) as s:
        assert s.api.direct_transfers(), "the server should be in S3 mode"
        yield s


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "photos", {f"IMG_{i}.jpg": jpeg_bytes(i) for i in range(PHOTOS)})


@pytest.fixture
def staged(session: Session, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of every session the client stages (``POST /uploads/direct``), in order."""
    ids: list[str] = []
    stage = session.api.stage_uploads

    def spy(items: Sequence[DirectStageItem]) -> list[DirectUpload]:
        answer = stage(items)
        ids.extend(up.id for up in answer if up.state == "open")
        return answer

    monkeypatch.setattr(session.api, "stage_uploads", spy)
    return ids


def open_ids(session: Session) -> list[str]:
    """The account's open sessions: what holds quota besides stored files."""
    return [upload.id for upload in session.api.open_uploads()]


def refuse(*args: Any) -> Any:
    raise ApiError("bad_request", "refused (injected)", 400)


def backup_failing(
    session: Session, photos: Path, monkeypatch: pytest.MonkeyPatch, step: str, fail: Any = refuse
) -> BackupReport:
    """One backup of ``photos`` with the API client's ``step`` answering ``fail``."""
    with monkeypatch.context() as patch:
        patch.setattr(session.api, step, fail)
        return backup(session, [str(photos)], "A")


def test_a_refused_bundle_aborts_the_sessions_it_staged(
    session: Session, photos: Path, staged: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    report = backup_failing(session, photos, monkeypatch, "commit_bundle_direct")
    assert report.uploaded == 0 and len(report.failed) == PHOTOS
    assert len(staged) == PHOTOS, "the bytes should have been staged before the commit"
    assert open_ids(session) == []

    report = backup(session, [str(photos)], "A")
    assert report.uploaded == PHOTOS and report.failed == []
    assert open_ids(session) == []


@pytest.mark.parametrize(
    "stop",
    [ServerUnreachable("cannot reach the photoark server (injected)"), Killed()],
    ids=["server-gone", "killed"],
)
def test_sessions_a_run_left_staged_are_aborted_by_the_next(
    session: Session,
    photos: Path,
    staged: list[str],
    monkeypatch: pytest.MonkeyPatch,
    stop: BaseException,
) -> None:
    """Stopped between the stage and the commit: the sessions stay open (the server was out
    of reach, or the process died) with the files' queue rows; the next run finds them open
    when it settles those rows, aborts them, and sends the files under new ids."""

    def stopped(*args: Any) -> Any:
        raise stop

    first = backup_failing(session, photos, monkeypatch, "commit_bundle_direct", stopped)
    assert first.uploaded == 0
    left = open_ids(session)
    assert left and sorted(left) == sorted(staged), "the stop should leave staged sessions"

    second = backup(session, [str(photos)], "A")
    assert second.uploaded == PHOTOS and second.failed == []
    assert open_ids(session) == []


def test_refused_thumbnails_abort_the_sessions_they_staged(
    session: Session, photos: Path, staged: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    report = backup_failing(session, photos, monkeypatch, "set_thumbnails_direct")
    assert report.uploaded == PHOTOS and report.thumbnails_pending == PHOTOS
    assert len(staged) > PHOTOS  # the originals, then the thumbnails
    assert open_ids(session) == []


def test_an_export_stops_when_the_store_refuses_every_address(
    tmp_path: Path,
    session: Session,
    photos: Path,
    weed: WeedCluster,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store answers 403 ``AccessDenied`` to every fresh URL (here: expired ones; the same
    answer as a server whose clock is off, or whose credentials may not read): the export
    stops at the first file with that error and its hint, instead of failing every file as a
    damaged copy."""
    assert backup(session, [str(photos)], "A").uploaded == PHOTOS
    s3 = weed.client()
    key = f"t-{uuid.uuid4().hex}/refused"
    s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x" * 10)
    expired = s3.generate_presigned_url(
        "get_object", Params={"Bucket": s3_bucket, "Key": key}, ExpiresIn=1
    )
    time.sleep(2.1)
    asked: list[int] = []

    def refused_url(file_id: int, kind: str = "content") -> DownloadUrl:
        asked.append(file_id)
        return DownloadUrl(url=expired, size=10, expires_at=0)

    monkeypatch.setattr(session.api, "download_url", refused_url)
    with pytest.raises(UrlExpired) as err:
        export(session, tmp_path / "out")
    assert "fresh addresses" in str(err.value) and "clocks" in err.value.hint
    assert len(set(asked)) == 1, "the export should stop at the first file"
