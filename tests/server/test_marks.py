"""Deletion marks: add, remove, revive, no-op versions, validation, isolation, exact diff paging
with collections and entries interleaved, the migration, and the client's methods."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from photoark.crypto.boxes import seal
from photoark.protocol.models import MAX_MARKS, Diff
from photoark.server.store import create_db_engine, migrate
from photoark.server.store.migrations import MIGRATIONS
from photoark.server.store.schema import deletion_marks, schema_version

from .conftest import Account, Api, b64
from .diffs import api_client, diff_all, diff_page, latest_version


def mark(n: int | str) -> str:
    """A well-formed mark (64 lowercase hex digits), distinct for each ``n``."""
    return hashlib.sha256(f"mark {n}".encode()).hexdigest()


def add(api: Api, account: Account, marks: list[str]) -> None:
    response = api.http.post("/marks", json={"marks": marks}, headers=account.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""


def remove(api: Api, account: Account, marks: list[str]) -> None:
    response = api.http.post("/marks/remove", json={"marks": marks}, headers=account.headers)
    assert response.status_code == 204, response.text


def marks_after(api: Api, account: Account, since: int) -> list[dict[str, Any]]:
    page = diff_page(api, account, since)
    assert not page["has_more"]
    marks: list[dict[str, Any]] = page["marks"]
    return marks


def test_add_takes_one_version_per_new_mark(api: Api, alice: Account) -> None:
    start = latest_version(api, alice)
    add(api, alice, [mark(1), mark(2)])
    assert marks_after(api, alice, start) == [
        {"mark": mark(1), "is_deleted": False, "version": start + 1},
        {"mark": mark(2), "is_deleted": False, "version": start + 2},
    ]
    # a live mark again: no new version, nothing in the diff
    add(api, alice, [mark(2), mark(1)])
    assert latest_version(api, alice) == start + 2
    # a mix: only the new one changes; a mark twice in one request counts once
    add(api, alice, [mark(1), mark(3), mark(3)])
    assert latest_version(api, alice) == start + 3
    assert marks_after(api, alice, start + 2) == [
        {"mark": mark(3), "is_deleted": False, "version": start + 3}
    ]


def test_remove_tombstones_and_ignores_unknown_marks(api: Api, alice: Account) -> None:
    add(api, alice, [mark(1), mark(2)])
    before = latest_version(api, alice)
    remove(api, alice, [mark("never added"), mark(1)])
    assert marks_after(api, alice, before) == [
        {"mark": mark(1), "is_deleted": True, "version": before + 1}
    ]
    remove(api, alice, [mark(1)])  # a tombstone already: no-op
    remove(api, alice, [mark("still never added")])
    assert latest_version(api, alice) == before + 1
    # from scratch, each mark shows once at its newest version
    assert marks_after(api, alice, 0) == [
        {"mark": mark(2), "is_deleted": False, "version": before},
        {"mark": mark(1), "is_deleted": True, "version": before + 1},
    ]
    with api.app.state.engine.connect() as conn:  # the unknown marks left no row
        rows = conn.execute(select(deletion_marks.c.mark)).scalars().all()
    assert sorted(rows) == sorted([mark(1), mark(2)])


def test_a_removed_mark_is_revived_with_a_new_version(api: Api, alice: Account) -> None:
    add(api, alice, [mark(1)])
    remove(api, alice, [mark(1)])
    with api.app.state.engine.connect() as conn:
        created = conn.execute(select(deletion_marks.c.created_at)).scalar_one()
    before = latest_version(api, alice)
    add(api, alice, [mark(1), mark(2)])
    assert marks_after(api, alice, before) == [
        {"mark": mark(1), "is_deleted": False, "version": before + 1},
        {"mark": mark(2), "is_deleted": False, "version": before + 2},
    ]
    with api.app.state.engine.connect() as conn:
        rows = conn.execute(select(deletion_marks).order_by(deletion_marks.c.version)).all()
    assert [(r.mark, r.is_deleted, r.version) for r in rows] == [
        (mark(1), False, before + 1),
        (mark(2), False, before + 2),
    ]
    assert rows[0].created_at >= created


BAD_MARKS: list[Any] = [
    mark(1).upper(),
    mark(1)[:63],
    mark(1) + "0",
    "g" * 64,
    mark(1)[:62] + " 0",
    mark(1) + "\n",
    "",
    1234,
    None,
]


@pytest.mark.parametrize("path", ["/marks", "/marks/remove"])
def test_bad_marks_are_400_and_change_nothing(api: Api, alice: Account, path: str) -> None:
    add(api, alice, [mark(1)])
    before = latest_version(api, alice)
    bodies: list[Any] = [{"marks": [mark(2), bad]} for bad in BAD_MARKS]
    bodies += [
        {"marks": []},
        {"marks": [mark(n) for n in range(MAX_MARKS + 1)]},
        {"marks": mark(2)},
        {},
        {"marks": [mark(2)], "other": 1},
        [mark(2)],
    ]
    for body in bodies:
        response = api.http.post(path, json=body, headers=alice.headers)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == "bad_request"
    assert latest_version(api, alice) == before
    assert marks_after(api, alice, 0) == [{"mark": mark(1), "is_deleted": False, "version": 1}]


def test_marks_need_authentication(api: Api, alice: Account) -> None:
    for path in ("/marks", "/marks/remove"):
        response = api.http.post(path, json={"marks": [mark(1)]})
        assert response.status_code == 401


def test_the_largest_request_is_accepted(api: Api, alice: Account) -> None:
    marks = [mark(n) for n in range(MAX_MARKS)]
    add(api, alice, marks)
    assert latest_version(api, alice) == MAX_MARKS
    remove(api, alice, marks)
    assert latest_version(api, alice) == 2 * MAX_MARKS
    items = diff_all(api, alice, 0, limit=700)
    assert [(i["mark"], i["is_deleted"]) for i in items] == [(m, True) for m in marks]
    assert [i["version"] for i in items] == list(range(MAX_MARKS + 1, 2 * MAX_MARKS + 1))


def test_marks_are_per_user(api: Api, alice: Account, bob: Account) -> None:
    add(api, alice, [mark(1), mark(2)])
    assert diff_page(api, bob)["marks"] == []
    assert latest_version(api, bob) == 0
    remove(api, bob, [mark(1)])  # not bob's: ignored, alice's stays
    assert latest_version(api, bob) == 0
    add(api, bob, [mark(1)])  # the same mark is bob's own row
    assert marks_after(api, bob, 0) == [{"mark": mark(1), "is_deleted": False, "version": 1}]
    remove(api, bob, [mark(1)])
    assert [m["is_deleted"] for m in marks_after(api, alice, 0)] == [False, False]
    assert [m["is_deleted"] for m in marks_after(api, bob, 0)] == [True]


def test_concurrent_adds_of_one_mark_take_one_version(api: Api, alice: Account) -> None:
    def go(n: int) -> None:
        add(api, alice, [mark("shared"), mark(n)])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(go, range(16)))
    items = marks_after(api, alice, 0)
    assert len(items) == 17 == latest_version(api, alice)
    assert sorted(i["version"] for i in items) == list(range(1, 18))


def _many_interleaved_changes(api: Api, alice: Account) -> None:
    """Collections, entries and marks changed in an interleaved order, some twice."""
    albums = [api.album(alice, f"album {i}") for i in range(3)]
    add(api, alice, [mark(n) for n in range(4)])
    records = [api.new_file(alice, albums[i % 3], size=2000, thumb_size=0)[0] for i in range(4)]
    add(api, alice, [mark(4)])
    for record in records[:3]:
        assert api.add_to_album(alice, albums[0], record["id"]).status_code == 201
    remove(api, alice, [mark(1), mark(3)])
    api.http.patch(
        f"/collections/{albums[1].id}",
        json={"encrypted_name": b64(seal(albums[1].key, b"renamed"))},
        headers=alice.headers,
    )
    add(api, alice, [mark(5), mark(1)])
    api.http.delete(f"/collections/{albums[2].id}/files/{records[2]['id']}", headers=alice.headers)
    add(api, alice, [mark(6)])
    assert api.http.delete(f"/collections/{albums[0].id}", headers=alice.headers).status_code == 204
    remove(api, alice, [mark(6)])


def test_diff_pages_marks_with_collections_and_entries_exactly(api: Api, alice: Account) -> None:
    _many_interleaved_changes(api, alice)
    full = diff_all(api, alice, 0, limit=5000)
    latest = latest_version(api, alice)
    assert {i["kind"] for i in full} == {"collection", "entry", "mark"}
    assert [i["version"] for i in full] == sorted({i["version"] for i in full})
    assert full[-1]["version"] == latest
    for limit in (1, 2, 3, 4, 5, 7, 11):
        assert diff_all(api, alice, 0, limit) == full, limit  # every change once, in order
    # from every point in between too
    for since in range(0, latest + 1, 3):
        assert diff_all(api, alice, since, 2) == [i for i in full if i["version"] > since]
    marks = {i["mark"]: i["is_deleted"] for i in full if i["kind"] == "mark"}
    assert marks == {
        mark(0): False,
        mark(1): False,  # removed, then added again
        mark(2): False,
        mark(3): True,
        mark(4): False,
        mark(5): False,
        mark(6): True,
    }
    empty = diff_page(api, alice, latest)
    assert empty == {
        "collections": [],
        "entries": [],
        "marks": [],
        "latest_version": latest,
        "has_more": False,
    }


def test_the_client_models_read_a_diff_with_marks(api: Api, alice: Account) -> None:
    add(api, alice, [mark(1)])
    client, _ = api_client(api, alice)
    diff = client.diff(0)
    assert isinstance(diff, Diff)
    assert [(m.mark, m.is_deleted, m.version) for m in diff.marks] == [(mark(1), False, 1)]


def test_client_add_and_remove_marks_in_chunks(api: Api, alice: Account) -> None:
    client, transport = api_client(api, alice)
    marks = [mark(n) for n in range(MAX_MARKS + 5)]
    client.add_marks(marks)
    assert transport.requests == [("POST", "/marks"), ("POST", "/marks")]
    client.add_marks(marks)  # idempotent
    assert latest_version(api, alice) == len(marks)
    client.remove_marks([*marks[:3], mark("unknown")])
    client.add_marks([])
    client.remove_marks([])
    assert transport.requests[-1] == ("POST", "/marks/remove")
    assert len(transport.requests) == 5
    tombstones = [m for m in marks_after(api, alice, len(marks)) if m["is_deleted"]]
    assert [m["mark"] for m in tombstones] == marks[:3]
    with pytest.raises(ValueError):  # pydantic's ValidationError: refused before sending
        client.add_marks([mark(1), "not a mark"])
    assert len(transport.requests) == 5


def test_migration_adds_deletion_marks_to_an_old_database(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        migrate(engine)
        with engine.begin() as conn:  # back to the shape version 4 left
            conn.execute(text("DROP TABLE deletion_marks"))
            conn.execute(schema_version.delete().where(schema_version.c.version >= 5))
        assert migrate(engine) == MIGRATIONS[-1][0] >= 5
        with engine.connect() as conn:
            inspector = inspect(conn)
            columns = {c["name"] for c in inspector.get_columns("deletion_marks")}
            indexes = {i["name"] for i in inspector.get_indexes("deletion_marks")}
            primary = inspector.get_pk_constraint("deletion_marks")["constrained_columns"]
        assert columns == {"owner_id", "mark", "version", "is_deleted", "created_at"}
        assert "ix_deletion_marks_owner_version" in indexes
        assert primary == ["owner_id", "mark"]
    finally:
        engine.dispose()
