"""The table and scan-header checks of the JPEG pass-through: whatever they accept decodes.

The checks replaced a decode of every passed-through thumbnail, so the property that matters
is that they are at least as strict as libjpeg: every header byte of real JPEGs (baseline,
progressive, grey, 4:4:4) is mutated, and each mutant the pass-through accepts must decode
in full with Pillow. Named cases pin each rule.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from photoark.media import jpeg_passthrough as jp
from photoark.media.jpeg_tables import TableCheck
from tests.media.builders import photo_jpeg_bytes

_SOS = b"\xff\xda"
_FLIPS = (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF)


def _decodes(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except Exception:
        return False
    return True


def _header_spans(data: bytes) -> list[range]:
    """The byte ranges of every segment but the entropy-coded data (tables and scan headers
    included, between progressive scans too)."""
    spans, pos = [], 2
    while pos < len(data) - 2:
        marker = data[pos + 1]
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        spans.append(range(pos + 2, end))  # length and body (a wrong length is a mutant too)
        if marker == 0xDA:
            match = jp._SCAN_END.search(data, end)
            assert match is not None
            end = match.start()
        pos = end
    return spans


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(photo_jpeg_bytes((96, 72)), id="baseline 4:2:0"),
        pytest.param(photo_jpeg_bytes((96, 72), progressive=True), id="progressive"),
        pytest.param(photo_jpeg_bytes((96, 72), mode="L"), id="grey"),
        pytest.param(photo_jpeg_bytes((96, 72), subsampling=0), id="4:4:4"),
    ],
)
def test_every_header_mutant_that_passes_decodes(data: bytes) -> None:
    assert jp.strip_metadata(data) is not None and _decodes(data)
    accepted = refused = 0
    for span in _header_spans(data):
        for pos in span:
            for flip in _FLIPS:
                mutant = bytearray(data)
                mutant[pos] ^= flip
                stripped = jp.strip_metadata(bytes(mutant))
                if stripped is None:
                    refused += 1
                    continue
                accepted += 1
                assert _decodes(stripped.data), f"byte {pos} ^ {flip:#x} passed but fails"
    assert accepted > 100 and refused > 100  # both sides of the line were reached


def _huffman(kind: int, ident: int, counts: list[int], symbols: list[int]) -> bytes:
    return bytes([kind << 4 | ident, *counts, *symbols])


def test_huffman_table_rules() -> None:
    check = TableCheck()
    counts = [0] * 16
    counts[1] = 3  # three 2-bit codes: 00 01 10, the all-ones 11 unused
    assert check.huffman_tables(_huffman(0, 0, counts, [0, 1, 2]))
    counts[1] = 4  # four 2-bit codes fill the space: libjpeg's JERR_BAD_HUFF_TABLE
    assert not TableCheck().huffman_tables(_huffman(0, 0, counts, [0, 1, 2, 3]))
    counts[1] = 3
    assert not TableCheck().huffman_tables(_huffman(0, 0, counts, [0, 1, 16]))  # DC symbol 16
    assert TableCheck().huffman_tables(_huffman(1, 0, counts, [0, 1, 16]))  # AC: fine
    assert not TableCheck().huffman_tables(_huffman(0, 0, counts, [0, 1]))  # symbols missing
    assert not TableCheck().huffman_tables(_huffman(2, 0, counts, [0, 1, 2]))  # class 2
    assert not TableCheck().huffman_tables(_huffman(0, 4, counts, [0, 1, 2]))  # id 4


def test_quant_table_rules() -> None:
    assert TableCheck().quant_tables(bytes([0x00, *[1] * 64]))
    assert TableCheck().quant_tables(bytes([0x13, *[0, 1] * 64]))  # 16-bit table 3
    assert not TableCheck().quant_tables(bytes([0x00, 0, *[1] * 63]))  # a zero quantiser
    assert not TableCheck().quant_tables(bytes([0x04, *[1] * 64]))  # id 4
    assert not TableCheck().quant_tables(bytes([0x00, *[1] * 63]))  # short


def _frame(*components: tuple[int, int, int]) -> bytes:
    body = bytes([8, 0, 8, 0, 8, len(components)])
    return body + b"".join(bytes(c) for c in components)


def _scan(components: list[tuple[int, int]], start: int, end: int, bits: int) -> bytes:
    return bytes([len(components), *[b for c in components for b in c], start, end, bits])


def _ready(progressive: bool = False) -> TableCheck:
    check = TableCheck()
    assert check.frame(0xC2 if progressive else 0xC0, _frame((1, 0x22, 0), (2, 0x11, 1)))
    assert check.quant_tables(bytes([0x00, *[1] * 64, 0x01, *[1] * 64]))
    counts = [0, 3, *[0] * 14]
    for kind in (0, 1):
        assert check.huffman_tables(_huffman(kind, 0, counts, [0, 1, 2]))
    return check


def test_scan_rules_sequential() -> None:
    assert _ready().scan(_scan([(1, 0x00), (2, 0x00)], 0, 63, 0))
    assert not _ready().scan(_scan([(1, 0x10), (2, 0x00)], 0, 63, 0))  # DC table 1 undefined
    assert not _ready().scan(_scan([(1, 0x01)], 0, 63, 0))  # AC table 1 undefined
    assert not _ready().scan(_scan([(3, 0x00)], 0, 63, 0))  # no component 3
    assert not _ready().scan(_scan([(1, 0x00), (1, 0x00)], 0, 63, 0))  # twice
    assert not _ready().scan(_scan([(1, 0x00)], 0, 5, 0))  # not all 64 coefficients
    check = TableCheck()
    assert check.frame(0xC0, _frame((1, 0x11, 2)))
    assert not check.scan(_scan([(1, 0x00)], 0, 63, 0))  # quant table 2 never defined


def test_scan_rules_progressive() -> None:
    assert _ready(True).scan(_scan([(1, 0x00), (2, 0x00)], 0, 0, 0x01))  # DC first
    assert _ready(True).scan(_scan([(1, 0xF0)], 0, 0, 0x10))  # DC refinement: no table
    assert _ready(True).scan(_scan([(1, 0x00)], 1, 63, 0x21))  # AC refinement
    assert not _ready(True).scan(_scan([(1, 0x00)], 0, 5, 0))  # DC scan with AC
    assert not _ready(True).scan(_scan([(1, 0x00), (2, 0x00)], 1, 5, 0))  # interleaved AC
    assert not _ready(True).scan(_scan([(1, 0x00)], 6, 5, 0))  # start after end
    assert not _ready(True).scan(_scan([(1, 0x00)], 1, 5, 0x31))  # Ah not Al + 1
    assert not _ready(True).scan(_scan([(1, 0x00)], 1, 64, 0))  # past coefficient 63


def test_frame_rules() -> None:
    assert not TableCheck().frame(0xC0, _frame((1, 0x51, 0)))  # sampling 5
    assert not TableCheck().frame(0xC0, _frame((1, 0x10, 0)))  # sampling 0
    assert not TableCheck().frame(0xC0, _frame((1, 0x11, 4)))  # quant table 4
    assert not TableCheck().frame(0xC0, _frame((1, 0x11, 0), (1, 0x11, 0)))  # same id
    check = TableCheck()  # blocks per MCU: 4x2 + 1 + 1 + 1 > 10 (interleaved)
    frame = _frame((1, 0x42, 0), (2, 0x11, 0), (3, 0x11, 0), (4, 0x11, 0))
    assert check.frame(0xC0, frame) and check.quant_tables(bytes([0x00, *[1] * 64]))
    counts = [0, 3, *[0] * 14]
    assert check.huffman_tables(_huffman(0, 0, counts, [0, 1, 2]))
    assert check.huffman_tables(_huffman(1, 0, counts, [0, 1, 2]))
    assert not check.scan(_scan([(1, 0), (2, 0), (3, 0), (4, 0)], 0, 63, 0))
    assert check.scan(_scan([(1, 0)], 0, 63, 0))  # one component at a time is fine
