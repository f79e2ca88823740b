"""``relative_path`` in a file's metadata: where it sat under the folder backed up. A value
that could lead export outside its folder is read as absent, never fatal to the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from photoark.client.pipeline.describe import Layout
from photoark.protocol.metadata import MAX_RELATIVE_PATH, FileMetadata, clean_relative_path

BASE = {"name": "x.jpg", "hash": "ab" * 32, "size": 1, "type": "image", "header": "AAEC"}

HOSTILE = [
    "../x.jpg",
    "/etc/x.jpg",
    "a/../../x.jpg",
    "a/./x.jpg",
    "./x.jpg",
    "a//x.jpg",
    "a/",
    "",
    "..",
    "a/\x00/x.jpg",
    "x\x00.jpg",
    "a\\..\\..\\x.jpg",
    "..\\x.jpg",
    "C:/Windows/x.jpg",
    "\udc80/x.jpg",  # a lone surrogate: not UTF-8
    "a/" * MAX_RELATIVE_PATH + "x.jpg",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_relative_path_is_read_as_absent(value: str) -> None:
    assert clean_relative_path(value) is None
    meta = FileMetadata.from_json({**BASE, "relative_path": value})  # the file stays readable
    assert meta.relative_path is None
    assert FileMetadata.model_validate_json(meta.model_dump_json()).relative_path is None


@pytest.mark.parametrize("value", [5, ["a", "b"], {"a": 1}, True])
def test_a_relative_path_of_another_type_is_read_as_absent(value: object) -> None:
    assert FileMetadata.from_json({**BASE, "relative_path": value}).relative_path is None


@pytest.mark.parametrize(
    "value",
    ["x.jpg", "Trips/Holidays/100000.jpg", "été/日本/new\nline.jpg", "a b/(1)/.x", "..a/b..c"],
)
def test_a_safe_relative_path_round_trips(value: str) -> None:
    data = {**BASE, "relative_path": value}
    meta = FileMetadata.from_json(json.loads(json.dumps(data)))
    assert meta.relative_path == value
    assert meta.to_json() == data


def test_metadata_without_the_field_reads_as_before() -> None:
    meta = FileMetadata.from_json(BASE)
    assert meta.relative_path is None
    assert "relative_path" not in meta.to_json()  # an older client's metadata is not changed


def test_the_layout_is_relative_to_the_deepest_folder_backed_up(tmp_path: Path) -> None:
    root = os.path.join(str(tmp_path), "Pictures")
    layout = Layout([root, os.path.join(root, "Trips")])
    assert layout.relative_path(os.path.join(root, "Trips", "Holidays", "1.jpg")) == (
        "Holidays/1.jpg"
    )
    assert layout.relative_path(os.path.join(root, "Other", "2.jpg")) == "Other/2.jpg"
    assert layout.relative_path(os.path.join(root, "3.jpg")) == "3.jpg"
    # a file given itself, or under none of the folders: its name
    assert Layout([os.path.join(root, "4.jpg")]).relative_path(os.path.join(root, "4.jpg")) == (
        "4.jpg"
    )
    assert Layout([]).relative_path(os.path.join(root, "a", "5.jpg")) == "5.jpg"
    # a folder given with a trailing slash, or relative, is the same folder
    assert Layout([root + "/"]).relative_path(os.path.join(root, "a", "6.jpg")) == "a/6.jpg"
    # a backslash in a name breaks the rules: the file keeps its name only, at export
    assert Layout([root]).relative_path(os.path.join(root, "a\\b", "7.jpg")) is None


def test_a_folder_name_that_is_not_utf8_is_spelled_with_replacement_characters(
    tmp_path: Path,
) -> None:
    root = os.path.join(str(tmp_path), "p")
    path = os.path.join(root, os.fsdecode(b"caf\xe9"), os.fsdecode(b"\xff.jpg"))
    assert Layout([root]).relative_path(path) == "caf\ufffd/\ufffd.jpg"
