"""Pure pieces: size parsing, Range headers, part arithmetic, error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from photoark.server.api.ranges import parse_range
from photoark.server.config import ServerSettings, parse_size
from photoark.server.errors import BadRequest, QuotaExceeded, RangeNotSatisfiable
from photoark.server.services.uploads import expected_part_size, part_count
from photoark.server.store.db import normalize_url


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10GiB", 10 * 2**30),
        ("1.5 KiB", 1536),
        ("500MB", 500_000_000),
        ("42", 42),
        ("7B", 7),
        ("2tib", 2 * 2**40),
    ],
)
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "ten", "10XB", "-5GB", "GiB"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(text)


def test_settings_default_database(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path}/photoark.db"
    assert settings.db_url == settings.database_url
    assert ServerSettings(tmp_path, database_url="postgresql://x/y").db_url == "postgresql://x/y"


def test_normalize_url() -> None:
    assert normalize_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-1000", (0, 99)),
        ("bytes=50-5000", (50, 99)),
        ("bytes=5-1", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=-0", "bytes=200-300"])
def test_parse_range_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


def test_part_arithmetic() -> None:
    assert part_count(10, 4) == 3 and part_count(8, 4) == 2
    assert [expected_part_size(10, 4, n) for n in range(3)] == [4, 4, 2]
    assert expected_part_size(8, 4, 1) == 4
    with pytest.raises(BadRequest):
        expected_part_size(10, 4, 3)


def test_quota_message_names_the_numbers() -> None:
    err = QuotaExceeded(quota_bytes=2**30, used_bytes=2**29, requested_bytes=3 * 2**28)
    assert "512.0 MiB" in err.message and "1.0 GiB" in err.message and "768.0 MiB" in err.message
    assert err.details == {
        "quota_bytes": 2**30,
        "used_bytes": 2**29,
        "requested_bytes": 3 * 2**28,
    }
