"""Usage stays exact through any sequence of uploads, album adds and removals, trash, restore,
delete for good and emptying (hypothesis, both databases), checked after EVERY step against a
model; and through concurrent trash/restore/delete from several threads."""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from photoark.protocol.models import FileIds, TrashFiles
from photoark.server.errors import Conflict, NotFound

from .conftest import Account, Album, Api, AppFactory
from .test_trash_lifecycle import objects

LIVE, REMOVED, TRASHED = "live", "removed", "trashed"  # an album entry's state in the model


@dataclass
class ModelFile:
    size: int  # content + thumbnail
    state: str = "live"  # live | trashed | deleted
    entries: dict[int, str] = field(default_factory=dict)  # album index → entry state


@dataclass
class Model:
    """What the server should hold for one account."""

    files: dict[int, ModelFile] = field(default_factory=dict)

    def check(self, api: Api, account: Account, albums: list[Album]) -> None:
        live = [f for f in self.files.values() if f.state == "live"]
        trashed = [f for f in self.files.values() if f.state == "trashed"]
        usage = api.usage(account)
        assert usage["files"] == len(live)
        assert usage["stored_bytes"] == sum(f.size for f in live)
        assert usage["trash_bytes"] == sum(f.size for f in trashed)
        assert usage["logical_bytes"] == sum(
            f.size for f in live for state in f.entries.values() if state == LIVE
        )
        # the trash lists exactly the trashed files, with the entries a restore brings back
        page = api.http.get("/trash", headers=account.headers).json()
        listed = {
            i["file"]["id"]: {e["collection_id"] for e in i["entries"]} for i in page["items"]
        }
        assert listed == {
            file_id: {albums[a].id for a, s in f.entries.items() if s == TRASHED}
            for file_id, f in self.files.items()
            if f.state == "trashed"
        }
        # diff sync from scratch yields exactly the live entries
        diff = api.http.get("/diff", params={"limit": 5000}, headers=account.headers).json()
        assert not diff["has_more"]
        entries: dict[tuple[int, int], bool] = {}
        for e in diff["entries"]:
            entries[(e["collection_id"], e["file_id"])] = not e["is_deleted"]
        assert {k for k, alive in entries.items() if alive} == {
            (albums[a].id, file_id)
            for file_id, f in self.files.items()
            for a, s in f.entries.items()
            if s == LIVE
        }


ALBUMS = 3
FILE = st.integers(0, 4)  # files are picked by age, newest first: steps meet on a few files
FILES = st.lists(FILE, min_size=1, max_size=3)


class UsageMachine(RuleBasedStateMachine):
    """Random steps on one fresh account; after each, :meth:`Model.check`. ``api`` is set by
    the test (a function-scoped fixture)."""

    api: Api

    def __init__(self) -> None:
        super().__init__()
        self.account = self.api.signup(f"{uuid.uuid4().hex}@example.org")
        self.albums = [self.api.album(self.account, f"album{i}") for i in range(ALBUMS)]
        self.model = Model()

    def step(self, *step: Any) -> None:
        _apply(self.api, self.account, self.albums, self.model, step)

    @rule(album=st.integers(0, ALBUMS - 1), size=st.integers(1, 3000), thumb=st.integers(0, 400))
    def upload(self, album: int, size: int, thumb: int) -> None:
        self.step("upload", album, size, thumb)

    @precondition(lambda self: self.model.files)
    @rule(pick=FILE, album=st.integers(0, ALBUMS - 1))
    def add(self, pick: int, album: int) -> None:
        self.step("add", pick, album)

    # an even selector picks one of the file's albums, an odd one any album (maybe a 404)
    @precondition(lambda self: self.model.files)
    @rule(pick=FILE, selector=st.integers(0, 4 * ALBUMS - 1))
    def remove(self, pick: int, selector: int) -> None:
        self.step("remove", pick, selector)

    @precondition(lambda self: self.model.files)
    @rule(picks=FILES)
    def trash(self, picks: list[int]) -> None:
        self.step("trash", picks)

    @precondition(lambda self: self.model.files)
    @rule(picks=FILES)
    def restore(self, picks: list[int]) -> None:
        self.step("restore", picks)

    @precondition(lambda self: self.model.files)
    @rule(picks=FILES)
    def delete(self, picks: list[int]) -> None:
        self.step("delete", picks)

    @precondition(lambda self: self.model.files)
    @rule()
    def empty(self) -> None:
        self.step("empty")

    @invariant()
    def usage_is_exact(self) -> None:
        self.model.check(self.api, self.account, self.albums)


def _post(api: Api, account: Account, path: str, ids: list[int] | None = None) -> Any:
    return api.http.post(
        path, json=None if ids is None else {"file_ids": ids}, headers=account.headers
    )


def _apply(
    api: Api, account: Account, albums: list[Album], model: Model, step: tuple[Any, ...]
) -> None:
    ids = list(model.files)
    kind = step[0]
    if kind == "upload":
        _, album, size, thumb = step
        record, _ = api.new_file(account, albums[album], size=size, thumb_size=thumb)
        model.files[record["id"]] = ModelFile(size + thumb, entries={album: LIVE})
        return
    if not ids:
        return
    if kind in ("add", "remove"):
        _, pick, album = step
        file_id = ids[-1 - pick % len(ids)]
        f = model.files[file_id]
        if kind == "remove":
            known = sorted(f.entries)
            album = known[album // 2 % len(known)] if album % 2 == 0 else album // 2 % ALBUMS
        if kind == "add":
            response = api.add_to_album(account, albums[album], file_id)
            if f.state != "live":
                assert response.status_code == 404, response.text
                return
            assert response.status_code == 201, response.text
            f.entries[album] = LIVE
            return
        response = api.http.delete(
            f"/collections/{albums[album].id}/files/{file_id}", headers=account.headers
        )
        if album not in f.entries:
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 204, response.text
        if f.entries[album] == LIVE:
            f.entries[album] = REMOVED  # a tombstone stays as it is (a trash mark too)
        return
    if kind == "empty":
        response = _post(api, account, "/trash/empty")
        assert response.status_code == 200, response.text
        doomed = [i for i, f in model.files.items() if f.state == "trashed"]
        assert response.json() == {
            "deleted": len(doomed),
            "bytes": sum(model.files[i].size for i in doomed),
        }
        for i in doomed:
            _delete(model.files[i])
        return
    chosen = list(dict.fromkeys(ids[-1 - p % len(ids)] for p in step[1]))
    states = {model.files[i].state for i in chosen}
    if kind == "trash":
        response = _post(api, account, "/files/trash", chosen)
        if "deleted" in states:
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 200, response.text
        for i in chosen:
            f = model.files[i]
            if f.state == "live":
                f.state = "trashed"
                f.entries = {a: TRASHED if s == LIVE else s for a, s in f.entries.items()}
        return
    if kind == "restore":
        response = _post(api, account, "/trash/restore", chosen)
        if "deleted" in states:
            assert response.status_code == 404, response.text
            return
        if "live" in states:
            assert response.status_code == 409, response.text
            return
        assert response.status_code == 200, response.text
        answer = {r["file"]["id"]: r["collection_ids"] for r in response.json()}
        for i in chosen:
            f = model.files[i]
            back = sorted(albums[a].id for a, s in f.entries.items() if s == TRASHED)
            assert answer[i] == back
            f.state = "live"
            f.entries = {a: LIVE if s == TRASHED else s for a, s in f.entries.items()}
        return
    assert kind == "delete"
    response = _post(api, account, "/trash/delete", chosen)
    if "live" in states:
        assert response.status_code == 409, response.text
        return
    assert response.status_code == 200, response.text
    doomed = [i for i in chosen if model.files[i].state == "trashed"]
    assert response.json() == {
        "deleted": len(doomed),
        "bytes": sum(model.files[i].size for i in doomed),
    }
    for i in doomed:
        _delete(model.files[i])


def _delete(f: ModelFile) -> None:
    f.state = "deleted"
    f.entries = {a: REMOVED for a in f.entries}


def test_usage_is_exact_after_every_step(api: Api) -> None:
    machine = type("Machine", (UsageMachine,), {"api": api})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


# -- concurrency ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_concurrent_trash_restore_delete_keep_usage_exact(make_api: AppFactory, seed: int) -> None:
    """Threads trash, restore and delete the same files at once through the services (the
    layer that holds the transactions); every byte is then either stored, in the trash, or
    reported deleted exactly once, and the blobs match."""
    api = make_api()
    account = api.signup()
    albums = [api.album(account, f"a{i}") for i in range(2)]
    sizes: dict[int, int] = {}
    for i in range(12):
        record, _ = api.new_file(account, albums[i % 2], size=500 + i, thumb_size=50 + i)
        sizes[record["id"]] = 550 + 2 * i
        if i % 3 == 0:
            assert api.add_to_album(account, albums[1 - i % 2], record["id"]).status_code == 201
    blobs = {i: objects(api, i) for i in sizes}
    trash = api.services.trash
    reported = [0] * 4
    failures: list[BaseException] = []

    def work(index: int) -> None:
        rng = random.Random(seed * 100 + index)
        try:
            for _ in range(25):
                chosen = rng.sample(sorted(sizes), rng.randint(1, 3))
                op = rng.choice(["trash", "trash", "restore", "restore", "delete", "empty"])
                try:
                    if op == "trash":
                        trash.trash(account.user_id, TrashFiles(file_ids=chosen))
                    elif op == "restore":
                        trash.restore(account.user_id, FileIds(file_ids=chosen))
                    elif op == "delete":
                        reported[index] += trash.delete(
                            account.user_id, FileIds(file_ids=chosen)
                        ).bytes
                    else:
                        reported[index] += trash.empty(account.user_id).bytes
                except (Conflict, NotFound):
                    pass  # another thread got there first: expected
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    assert not any(t.is_alive() for t in threads)

    usage = api.usage(account)
    states: dict[int, str] = {}
    for file_id in sizes:
        got = api.http.get(f"/files/{file_id}", headers=account.headers)
        states[file_id] = (
            "deleted"
            if got.status_code == 404
            else "trashed"
            if got.json()["is_trashed"]
            else "live"
        )
    live = [i for i, s in states.items() if s == "live"]
    trashed = [i for i, s in states.items() if s == "trashed"]
    deleted = [i for i, s in states.items() if s == "deleted"]
    assert usage["files"] == len(live)
    assert usage["stored_bytes"] == sum(sizes[i] for i in live)
    assert usage["trash_bytes"] == sum(sizes[i] for i in trashed)
    assert sum(reported) == sum(sizes[i] for i in deleted)  # each deletion reported once
    for file_id, keys in blobs.items():
        present = [api.blobs.object_size(k) is not None for k in keys]
        assert present == [states[file_id] != "deleted"] * len(keys), file_id
    page = api.http.get("/trash", headers=account.headers).json()
    assert sorted(i["file"]["id"] for i in page["items"]) == sorted(trashed)
    # a trashed file is in no album; a live one only where its entries are live
    diff = api.http.get("/diff", params={"limit": 5000}, headers=account.headers).json()
    alive = {e["file_id"] for e in diff["entries"] if not e["is_deleted"]}
    assert alive == set(live)  # every file started in an album, and none was removed by hand
    assert usage["logical_bytes"] == sum(
        sizes[e["file_id"]] for e in diff["entries"] if not e["is_deleted"]
    )
