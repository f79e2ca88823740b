"""``photoark dedup``'s plan, its checking of an edited plan, and the order it is applied in."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pytest

from photoark.client.library.marks import DeletionMarks
from photoark.client.state.mirror import Album, LibraryFile
from photoark.optimize.duplicates import (
    InvalidDedupPlan,
    apply_plan,
    find_duplicates,
    plan_from_json,
    plan_json,
)
from photoark.optimize.reasons import KeepRule
from tests.optimize.builders import Library


@dataclass
class Copies:
    """A library with copies: X three times (the newest copy in the most albums), Y twice
    (the older upload has the higher id), Z twice (same time, same albums), W once live and
    once trashed, U once. Only X has a copy's name ("IMG_1 copy"): there the albums decide
    (the name rule: tests/optimize/test_keeper_names.py)."""

    trips: Album
    best: Album
    family: Album
    x1: LibraryFile
    x2: LibraryFile
    x3: LibraryFile
    y1: LibraryFile
    y2: LibraryFile
    z1: LibraryFile
    z2: LibraryFile
    w1: LibraryFile
    w2: LibraryFile
    u: LibraryFile


def copies(library: Library) -> Copies:
    trips, best, family = library.album("Trips"), library.album("Best"), library.album("Family")
    x, y, z, w, u = "aa" * 32, "bb" * 32, "cc" * 32, "dd" * 32, "ee" * 32
    f = library.file
    return Copies(
        trips=trips,
        best=best,
        family=family,
        x1=f("IMG_1.jpg", hash=x, albums=[trips], created_at=100.0),
        x2=f("IMG_1 copy.jpg", hash=x, albums=[trips, best], created_at=300.0),
        x3=f("favourite.jpg", hash=x, albums=[family], created_at=200.0),
        y1=f("IMG_2.jpg", hash=y, albums=[trips], created_at=500.0),
        y2=f("IMG_2b.jpg", hash=y, albums=[best], created_at=400.0),
        z1=f("IMG_3.jpg", hash=z, albums=[family], created_at=600.0),
        z2=f("IMG_3b.jpg", hash=z, albums=[family], created_at=600.0),
        w1=f("IMG_4.jpg", hash=w, albums=[trips]),
        w2=f("IMG_4 (2).jpg", hash=w, albums=[trips], trashed=True),
        u=f("IMG_5.jpg", hash=u, albums=[trips]),
    )


def _stored(*files: LibraryFile) -> int:
    return sum(f.content_size + f.thumbnail_size for f in files)


def test_keeper_is_the_copy_in_most_albums_then_the_oldest_then_the_lowest_id(
    library: Library,
) -> None:
    c = copies(library)
    groups = {g.hash: g for g in find_duplicates(library.mirror)}
    found = {h: (g.keep.id, [r.id for r in g.remove]) for h, g in groups.items()}
    assert found == {
        c.x1.hash: (c.x2.id, [c.x1.id, c.x3.id]),  # two albums beat an older upload
        c.y1.hash: (c.y2.id, [c.y1.id]),  # the older upload, though its id is higher
        c.z1.hash: (c.z1.id, [c.z2.id]),  # same albums, same time: the lower id
    }  # W's trashed copy is no copy; U has none
    x = groups[c.x1.hash]
    assert x.albums == (c.trips.id, c.best.id, c.family.id)
    assert x.bytes_freed == _stored(c.x1, c.x3)
    assert x.size == 1000


def test_the_plan_names_albums_and_says_why(library: Library) -> None:
    c = copies(library)
    plan = plan_json(find_duplicates(library.mirror), library.mirror)
    (x,) = [g for g in plan["groups"] if g["keep"] == c.x2.id]
    assert x["remove"] == [c.x1.id, c.x3.id]
    assert x["albums"] == ["Trips", "Best", "Family"]  # by album id
    assert [(f["id"], f["name"], f["albums"]) for f in x["files"]] == [
        (c.x2.id, "IMG_1 copy.jpg", ["Trips", "Best"]),
        (c.x1.id, "IMG_1.jpg", ["Trips"]),
        (c.x3.id, "favourite.jpg", ["Family"]),
    ]
    assert x["why"].startswith("in the most albums, then the original name")
    assert x["why"] == KeepRule.MOST_ALBUMS_THEN_NAME_THEN_OLDEST.value
    assert plan["bytes_freed"] == _stored(c.x1, c.x3, c.y1, c.z2)
    assert json.loads(json.dumps(plan)) == plan  # plain JSON: what `dedup --json` prints


def test_an_unedited_plan_reads_back_as_the_same_groups(library: Library) -> None:
    copies(library)
    groups = find_duplicates(library.mirror)
    document = json.loads(json.dumps(plan_json(groups, library.mirror)))
    assert plan_from_json(document, library.mirror) == groups


def test_an_edited_keeper_is_taken_and_a_group_removing_nothing_is_dropped(
    library: Library,
) -> None:
    c = copies(library)
    document = {
        "groups": [
            {"keep": c.x3.id, "remove": [c.x2.id, c.x1.id]},
            {"keep": c.z2.id, "remove": []},
        ]
    }
    (group,) = plan_from_json(document, library.mirror)
    assert (group.keep.id, [r.id for r in group.remove]) == (c.x3.id, [c.x2.id, c.x1.id])
    assert group.albums == (c.trips.id, c.best.id, c.family.id)


def _plan(*groups: tuple[Any, Any]) -> dict[str, Any]:
    return {"groups": [{"keep": keep, "remove": remove} for keep, remove in groups]}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # the last copy of X removed, a file of another content kept instead
        (lambda c: _plan((c.y1.id, [c.x1.id, c.x2.id, c.x3.id])), "not have the same content"),
        # the last copy of X removed, a file with no copy kept instead
        (lambda c: _plan((c.u.id, [c.x1.id, c.x2.id, c.x3.id])), "not live duplicates"),
        # each copy of Y kept by one group and removed by the other
        (lambda c: _plan((c.y1.id, [c.y2.id]), (c.y2.id, [c.y1.id])), "appears twice"),
        (lambda c: _plan((c.x1.id, [c.x1.id, c.x2.id])), "appears twice"),
        # W's other copy is in the trash: W1 is the last live one
        (lambda c: _plan((c.w2.id, [c.w1.id])), "not live duplicates"),
        (lambda c: _plan((c.x1.id, [c.x2.id, 999])), r"\[999\] are not live duplicates"),
        (lambda c: _plan((None, [c.x2.id])), "needs an integer keep"),
        (lambda c: {"groups": [{"remove": [c.x2.id]}]}, "needs an integer keep"),
        (lambda c: _plan(("x", [c.x2.id])), "needs an integer keep"),
        (lambda c: [], 'a JSON object with a "groups" list'),
        (lambda c: {"groups": {}}, 'a JSON object with a "groups" list'),
    ],
)
def test_an_edited_plan_that_could_lose_a_photo_is_refused(
    library: Library, edit: Any, message: str
) -> None:
    c = copies(library)
    with pytest.raises(InvalidDedupPlan, match=message):
        plan_from_json(edit(c), library.mirror)
    assert library.api.calls == []


def test_a_plan_is_checked_against_the_library_as_it_is_now(library: Library) -> None:
    c = copies(library)
    document = json.loads(json.dumps(plan_json(find_duplicates(library.mirror), library.mirror)))
    with library.db.transaction() as conn:  # another device trashed the kept copy meanwhile
        library.mirror.put_file(conn, replace(c.x2, is_trashed=True))
    with pytest.raises(InvalidDedupPlan, match=rf"\[{c.x2.id}\] are not live duplicates"):
        plan_from_json(document, library.mirror)


def test_apply_adds_each_keeper_to_every_album_before_anything_is_trashed(
    library: Library,
) -> None:
    c = copies(library)
    groups = find_duplicates(library.mirror)
    result = apply_plan(library.session, groups)

    kinds = [call[0] for call in library.api.calls]
    assert kinds == ["add", "add", "marks", "trash"]
    assert set(library.api.of("add")) == {
        ("add", c.family.id, (c.x2.id,)),  # X's keeper was not in Family
        ("add", c.trips.id, (c.y2.id,)),  # Y's keeper was not in Trips
    }
    assert library.api.of("marks") == [("marks", 3)]
    (trash,) = library.api.of("trash")
    assert sorted(trash[1]) == sorted([c.x1.id, c.x3.id, c.y1.id, c.z2.id])

    assert (result.groups, result.added_to_albums, result.trashed) == (3, 2, 4)
    assert result.bytes_freed == _stored(c.x1, c.x3, c.y1, c.z2)
    assert result.failed == []
    # every album still shows every content; one library file per content
    assert library.albums_of(c.x2) == {"Trips", "Best", "Family"}
    assert library.albums_of(c.y2) == {"Trips", "Best"}
    assert library.albums_of(c.z1) == {"Family"}
    assert all(library.mirror.file(f.id) is None for f in (c.x1, c.x3, c.y1, c.z2))
    assert find_duplicates(library.mirror) == []
    # the removed contents are marked deleted, so no backup uploads them again
    marks = DeletionMarks(library.session)
    assert all(marks.is_deleted(h) for h in (c.x1.hash, c.y1.hash, c.z1.hash))
    assert not marks.is_deleted(c.u.hash)
