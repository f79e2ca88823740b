"""The rule both removals (dedup, similar) end with: every add first; a group is trashed only
once all its adds are in place, its contents marked deleted before the trash."""

from __future__ import annotations

from photoark.client.library.marks import DeletionMarks
from photoark.optimize.removal import Removal, add_then_trash
from tests.optimize.builders import Library


def test_adds_come_first_then_the_marks_then_the_trash(library: Library) -> None:
    trips, best = library.album("Trips"), library.album("Best")
    keep = library.file("keep.jpg", hash="aa" * 32, albums=[trips])
    other = library.file("other.jpg", hash="bb" * 32, albums=[best, trips])
    removal = Removal(
        adds=((best.id, keep.id),), trash=(other.id,), hashes=(other.hash,), bytes=1234
    )
    result = add_then_trash(library.session, [removal])
    assert library.api.calls == [
        ("add", best.id, (keep.id,)),
        ("marks", 1),
        ("trash", (other.id,)),
    ]
    assert (result.groups, result.added_to_albums, result.trashed) == (1, 1, 1)
    assert result.bytes_freed == 1234 and result.failed == []
    assert library.albums_of(keep) == {"Trips", "Best"}
    assert library.mirror.file(other.id) is None, "out of every album it was in"
    assert DeletionMarks(library.session).is_deleted(other.hash)


def test_a_group_whose_add_fails_is_not_trashed_and_the_others_are(library: Library) -> None:
    trips, best, refused = library.album("Trips"), library.album("Best"), library.album("Old")
    library.api.refuse_albums.add(refused.id)
    k1 = library.file("k1.jpg", hash="11" * 32, albums=[trips])
    c1 = library.file("c1.jpg", hash="22" * 32, albums=[best, refused])
    k2 = library.file("k2.jpg", hash="33" * 32, albums=[trips])
    c2 = library.file("c2.jpg", hash="44" * 32, albums=[best])
    blocked = Removal(
        # the add to Best succeeds, the one to the refused album fails: still not trashed
        adds=((best.id, k1.id), (refused.id, k1.id)),
        trash=(c1.id,),
        hashes=(c1.hash,),
        bytes=100,
    )
    fine = Removal(adds=((best.id, k2.id),), trash=(c2.id,), hashes=(c2.hash,), bytes=200)
    result = add_then_trash(library.session, [blocked, fine])
    assert library.api.of("trash") == [("trash", (c2.id,))]
    assert library.api.of("marks") == [("marks", 1)]
    assert (result.groups, result.trashed, result.bytes_freed) == (1, 1, 200)
    assert [f["file_id"] for f in result.failed] == [k1.id]
    assert f"no album {refused.id}" in result.failed[0]["error"]
    assert library.albums_of(c1) == {"Best", "Old"}, "the blocked group keeps its copy"
    marks = DeletionMarks(library.session)
    assert not marks.is_deleted(c1.hash) and marks.is_deleted(c2.hash)
    assert library.mirror.file(c2.id) is None


def test_an_album_missing_from_the_mirror_blocks_its_group(library: Library) -> None:
    trips = library.album("Trips")
    keep = library.file("keep.jpg", hash="aa" * 32, albums=[trips])
    copy = library.file("copy.jpg", hash="aa" * 32, albums=[trips])
    removal = Removal(adds=((99, keep.id),), trash=(copy.id,), hashes=(), bytes=10)
    result = add_then_trash(library.session, [removal])
    assert result.failed == [{"file_id": keep.id, "error": "album 99 is not in the local mirror"}]
    assert (result.groups, result.trashed, result.added_to_albums) == (0, 0, 0)
    assert library.api.calls == []
    assert library.mirror.file(copy.id) is not None


def test_the_same_add_wanted_by_two_groups_is_made_once(library: Library) -> None:
    trips, best = library.album("Trips"), library.album("Best")
    keep = library.file("keep.jpg", hash="aa" * 32, albums=[trips])
    a = library.file("a.jpg", hash="bb" * 32, albums=[best])
    b = library.file("b.jpg", hash="cc" * 32, albums=[best])
    removals = [
        Removal(adds=((best.id, keep.id),), trash=(a.id,), hashes=(a.hash,), bytes=1),
        Removal(adds=((best.id, keep.id),), trash=(b.id,), hashes=(b.hash,), bytes=2),
    ]
    result = add_then_trash(library.session, removals)
    assert library.api.of("add") == [("add", best.id, (keep.id,))]
    assert library.api.of("trash") == [("trash", (a.id, b.id))]
    assert library.api.of("marks") == [("marks", 2)]
    assert (result.groups, result.added_to_albums, result.trashed, result.bytes_freed) == (
        2,
        1,
        2,
        3,
    )
