"""FileMetadata: typed reading of a file's sealed metadata, exact round trips, clear refusals."""

from __future__ import annotations

import json
import os

import pytest

from photoark.protocol.metadata import FileMetadata, MetadataError

BASE = {"name": "IMG_1.jpg", "hash": "ab" * 32, "size": 1234, "type": "image", "header": "AAEC"}


def test_round_trip_keeps_exactly_the_fields_set_and_unknown_ones() -> None:
    data = {**BASE, "taken_at": None, "width": 4000, "from_a_newer_client": {"x": [1, 2]}}
    meta = FileMetadata.from_json(json.loads(json.dumps(data)))
    assert meta.width == 4000 and meta.height is None
    assert meta.to_json() == data  # nothing added (no height: null), nothing lost


def test_required_fields_and_types_are_checked() -> None:
    for missing in ("name", "hash", "size", "type", "header"):
        with pytest.raises(MetadataError):
            FileMetadata.from_json({k: v for k, v in BASE.items() if k != missing})
    with pytest.raises(MetadataError):
        FileMetadata.from_json({**BASE, "size": "big"})
    with pytest.raises(MetadataError):
        FileMetadata.from_json(["not", "an", "object"])


def test_header_is_added_once_known() -> None:
    prepared = FileMetadata.model_validate({k: v for k, v in BASE.items() if k != "header"})
    sealed = prepared.with_header(b"\x00\x01\x02")
    assert sealed.header_bytes() == b"\x00\x01\x02"
    assert sealed.to_json()["header"] == "AAEC"
    assert "header" not in prepared.to_json()


def test_live_parts_and_names_that_are_not_utf8() -> None:
    raw = b"caf\xe9.jpg"
    meta = FileMetadata.from_json(
        {
            **BASE,
            "type": "live",
            "name": raw.decode("utf-8", "replace"),
            "name_bytes": "Y2Fm6S5qcGc=",
            "parts": [
                {"name": "a.heic", "size": 1, "hash": "11" * 32},
                {"name": "a.mov", "size": 2, "hash": "22" * 32, "mtime_ns": 5},
            ],
        }
    )
    assert meta.restore_name() == os.fsdecode(raw)
    assert meta.part_hashes() == ["11" * 32, "22" * 32]
    assert meta.parts is not None and meta.parts[1].mtime_ns == 5
    assert FileMetadata.from_json(BASE).part_hashes() == []
