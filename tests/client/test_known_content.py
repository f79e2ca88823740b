"""The dedup decision against the mirror (:class:`KnownContent`): one read of the mirror per
decision, with the decisions the two queries it replaces made; and, end to end, a run whose
bundles commit while other workers decide uploads each content once."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from photoark.client.pipeline.backup import BackupOptions, backup
from photoark.client.pipeline.bundler import BundleLimits
from photoark.client.pipeline.decide import Action, Decision, MatchProfile, decide
from photoark.client.pipeline.known import KnownContent
from photoark.client.session import Session
from photoark.client.state.db import StateDB
from photoark.client.state.mirror import LibraryFile, Mirror
from photoark.client.state.pathversions import PathVersions
from photoark.protocol.metadata import FileMetadata
from photoark.server.config import ServerSettings
from tests.builders import jpeg_bytes, make_tree
from tests.client.servers import serving, signed_up

ALBUM, OTHER = 1, 2


def library_file(file_id: int, content_hash: str, name: str, trashed: bool = False) -> LibraryFile:
    meta = FileMetadata(name=name, hash=content_hash, size=1, type="image")
    return LibraryFile(
        file_id, content_hash, name, 1, "image", None, None, meta, b"k" * 32, 1, 1, 0.0, trashed
    )


def put(db: StateDB, f: LibraryFile, album: int, path: str | None = None) -> None:
    mirror = Mirror(db)
    with db.transaction() as conn:
        mirror.put_file(conn, f)
        mirror.put_entry(conn, album, f.id)
        if path is not None:
            PathVersions.record(conn, path, album, f.id)


def decided_before(db: StateDB, match: MatchProfile, content_hash: str, path: str) -> Decision:
    """The decision as it was taken before this module read committed state: two queries on
    the shared connection (by hash and name, then by hash for a moved file)."""
    mirror, versions = Mirror(db), PathVersions(db)
    name = os.path.basename(path) if match == "name+hash" else None
    decision = decide(mirror.find_by_hash(content_hash, name), mirror.albums_of_file, ALBUM)
    if decision.action is Action.UPLOAD and name is not None:
        for known in mirror.find_by_hash(content_hash):
            for old in versions.paths_of(known.id):
                if not os.path.lexists(old):
                    versions.forget_path(old)
                    return decide([known], mirror.albums_of_file, ALBUM)
    return decision


@pytest.fixture
def db(tmp_path: Path) -> Iterator[StateDB]:
    state = StateDB(tmp_path / "state.db")
    yield state
    state.close()


@pytest.mark.parametrize("match", ["name+hash", "hash"])
def test_the_decisions_are_those_of_the_queries_on_the_shared_connection(
    tmp_path: Path, db: StateDB, match: MatchProfile
) -> None:
    here = tmp_path / "photos"
    here.mkdir()
    (here / "kept.jpg").write_bytes(b"x")
    put(db, library_file(1, "in-album", "a.jpg"), ALBUM)
    put(db, library_file(2, "elsewhere", "b.jpg"), OTHER)
    put(db, library_file(3, "elsewhere", "b.jpg"), OTHER)  # two copies: the oldest is added
    put(db, library_file(4, "other-name", "c.jpg"), ALBUM)
    put(db, library_file(5, "trashed", "d.jpg", trashed=True), ALBUM)
    put(db, library_file(6, "moved", "e.jpg"), OTHER, str(tmp_path / "gone" / "e.jpg"))
    put(db, library_file(7, "copied", "f.jpg"), OTHER, str(here / "kept.jpg"))
    cases = [
        ("unknown", "x.jpg"),
        ("in-album", "a.jpg"),
        ("in-album", "renamed.jpg"),
        ("elsewhere", "b.jpg"),
        ("other-name", "z.jpg"),
        ("trashed", "d.jpg"),
        ("moved", "e2.jpg"),
        ("copied", "f2.jpg"),
    ]
    # each case twice: a moved file's old path is forgotten by the first decision
    expected = [decided_before(db, match, h, str(here / n)) for h, n in cases + cases]
    put(db, library_file(6, "moved", "e.jpg"), OTHER, str(tmp_path / "gone" / "e.jpg"))
    known = KnownContent(Mirror(db), PathVersions(db), ALBUM, match)
    assert [known.decide(h, str(here / n)) for h, n in cases + cases] == expected
    assert {d.action for d in expected} == {Action.UPLOAD, Action.SKIP, Action.ADD}


def test_unknown_content_is_decided_on_one_query(
    db: StateDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(db, library_file(1, "known", "a.jpg"), OTHER)
    queries: list[str] = []
    query = StateDB.query

    def counted(self: StateDB, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        queries.append(sql)
        return query(self, sql, params)

    monkeypatch.setattr(StateDB, "query", counted)
    known = KnownContent(Mirror(db), PathVersions(db), ALBUM, "name+hash")
    assert known.decide("unknown", "/p/a.jpg") == Decision(Action.UPLOAD)
    assert len(queries) == 1  # was two: by hash and name, then by hash for a moved file


def test_a_run_whose_bundles_commit_while_workers_decide_sends_each_content_once(
    tmp_path: Path,
) -> None:
    # 24 contents, each in three folders under the same name: the copies wait for the first's
    # claim, then must see its commit; bundles of 2 commit all along while others decide
    photos = {f"IMG_{i:02d}.jpg": jpeg_bytes(i, (40 + i, 30)) for i in range(24)}
    root = make_tree(tmp_path / "photos", {d: photos for d in ("a", "b", "c")})
    settings = ServerSettings(data_dir=tmp_path / "server", login_hash="min")
    options = BackupOptions(workers=4, bundle_limits=BundleLimits(max_items=2, linger=0.01))
    with serving(settings) as served, signed_up(tmp_path / "home", served.url) as session:
        report = backup(session, [str(root)], "Phone", options)
        assert report.failed == []
        assert (report.uploaded, report.skipped) == (24, 48)
        assert sorted(f.name for f in _library(session)) == sorted(photos)


def _library(session: Session) -> list[LibraryFile]:
    album = session.mirror.album_by_name("Phone")
    assert album is not None
    return session.mirror.files_in_album(album.id)
