from __future__ import annotations

import base64
import dataclasses
import os
from pathlib import Path

from photoark.client.library.export import part_targets, safe_component, target_names, wanted_path
from photoark.client.state.mirror import LibraryFile
from tests.optimize.builders import file_metadata


def _f(file_id: int, name: str) -> LibraryFile:
    return LibraryFile(
        file_id, "h", name, 1, "image", None, None, file_metadata(name=name), b"k" * 32, 1, 0, 0.0
    )


def test_clashing_names_never_map_to_one_target() -> None:
    files = [_f(2, "a~5.jpg"), _f(3, "a.jpg"), _f(5, "a.jpg"), _f(6, "A.JPG"), _f(7, "a.jpg")]
    names = target_names(files)
    assert len({n.casefold() for n in names.values()}) == len(files)
    assert names[3] == "a.jpg" and names[2] == "a~5.jpg"
    assert names == target_names(list(reversed(files)))  # stable whatever the order


def test_names_from_metadata_cannot_escape_the_album_folder() -> None:
    assert safe_component("../../etc/passwd") == "..\u2215..\u2215etc\u2215passwd"
    assert safe_component("..") == "_.._"
    assert safe_component("") == "__"


def test_a_live_photos_video_name_is_reserved_too() -> None:
    """A standalone ``IMG_1.MOV`` and a live item ``IMG_1.JPG`` (whose video exports as
    ``IMG_1.MOV``) never write to the same file, whichever came first."""
    parts = [{"name": n, "size": 1, "hash": "h"} for n in ("IMG_1.JPG", "IMG_1.MOV")]
    still = _f(9, "IMG_1.JPG")
    live = dataclasses.replace(
        still, type="live", metadata=file_metadata(name="IMG_1.JPG", type="live", parts=parts)
    )
    for files in ([_f(5, "IMG_1.MOV"), live], [live, _f(12, "img_1.mov")]):
        names = target_names(files)
        video = names[9].rsplit(".", 1)[0] + ".MOV"
        others = [n for i, n in names.items() if i != 9]
        assert all(n.casefold() not in (names[9].casefold(), video.casefold()) for n in others)


def _at(
    file_id: int, relative_path: str | None, name: str | None = None, **fields: object
) -> LibraryFile:
    name = name or (relative_path or "x.jpg").rsplit("/", 1)[-1]
    extra = {} if relative_path is None else {"relative_path": relative_path}
    return dataclasses.replace(
        _f(file_id, name), metadata=file_metadata(name=name, **extra, **fields)
    )


def test_the_folders_backed_up_are_kept_and_flat_drops_them() -> None:
    files = [_at(1, "Trips/Holidays/100000.jpg"), _at(2, "top.jpg"), _at(3, None, "old.jpg")]
    assert target_names(files) == {1: "Trips/Holidays/100000.jpg", 2: "top.jpg", 3: "old.jpg"}
    assert target_names(files, flat=True) == {1: "100000.jpg", 2: "top.jpg", 3: "old.jpg"}
    assert wanted_path(files[0]) == "Trips/Holidays/100000.jpg"


def test_the_name_comes_from_name_bytes_and_the_folders_from_the_path() -> None:
    raw = os.fsdecode(b"\xff.jpg")
    f = _at(
        4, "caf\ufffd/\ufffd.jpg", "\ufffd.jpg", name_bytes=base64.b64encode(b"\xff.jpg").decode()
    )
    assert target_names([f]) == {4: f"caf\ufffd/{raw}"}


def test_paths_that_clash_keep_the_existing_rule_folder_by_folder() -> None:
    files = [_at(5, "A/x.jpg"), _at(3, "a/X.JPG"), _at(7, "b/x.jpg"), _at(8, "A/x.jpg")]
    names = target_names(files)
    assert names == {3: "a/X.JPG", 5: "A/x~5.jpg", 7: "b/x.jpg", 8: "A/x~8.jpg"}
    assert names == target_names(list(reversed(files)))
    flat = target_names(files, flat=True)
    assert flat[3] == "X.JPG" and len({n.casefold() for n in flat.values()}) == 4


def test_a_file_and_a_folder_of_one_name_never_clash() -> None:
    # the older is a folder: the file gets its id
    assert target_names([_at(1, "Trips/a.jpg"), _at(2, "Trips")]) == {
        1: "Trips/a.jpg",
        2: "Trips~2",
    }
    # the older is a file: the newer file, whose folder it would be, goes to the top level
    assert target_names([_at(1, "trips"), _at(2, "Trips/a.jpg")]) == {1: "trips", 2: "a.jpg"}


def test_a_live_photos_video_goes_beside_its_still_in_its_folder() -> None:
    parts = [{"name": n, "size": 1, "hash": "h"} for n in ("IMG_1.JPG", "IMG_1.MOV")]
    live = dataclasses.replace(
        _at(9, "DCIM/100APPLE/IMG_1.JPG", type="live", parts=parts), type="live"
    )
    movie = _at(2, "DCIM/100APPLE/img_1.mov")  # older, and where the video would go
    names = target_names([live, movie])
    assert names == {2: "DCIM/100APPLE/img_1.mov", 9: "DCIM/100APPLE/IMG_1~9.JPG"}
    still, video = part_targets(Path("/d/A") / names[9], live)
    assert video[0] == Path("/d/A/DCIM/100APPLE/IMG_1~9.MOV") and still[0].parent == video[0].parent


HOSTILE = ["../x.jpg", "/etc/x.jpg", "a/../../x.jpg", "a\x00/x.jpg", "..\\..\\x.jpg", "a//x.jpg"]


def test_a_hostile_path_that_slipped_past_reading_exports_under_the_name() -> None:
    """The metadata's reader drops such a path; export checks again (a metadata object made
    without validation must not escape either)."""
    for i, bad in enumerate(HOSTILE, 1):
        meta = file_metadata(name="x.jpg").model_copy(update={"relative_path": bad})
        assert meta.relative_path == bad  # model_copy does not validate
        f = dataclasses.replace(_f(i, "x.jpg"), metadata=meta)
        (target,) = target_names([f]).values()
        assert target == "x.jpg", bad
        dest = Path("/dest/Album")
        assert os.path.normpath(dest / target).startswith(str(dest) + "/")
