"""What libjpeg refuses in a JPEG's tables and scan headers, checked without decoding.

A JPEG passed through as its own thumbnail (:mod:`.jpeg_passthrough`) must decode wherever
the thumbnail is shown. libjpeg stops with an error (Pillow raises) only for what is wrong in
the segments around the entropy-coded data: a Huffman table no prefix code can have, a table
or component a scan names but nobody defined, a sampling factor or a progression outside the
standard's range. Damage *inside* the entropy-coded data is a warning to libjpeg: it decodes
on (grey or shifted blocks), exactly as it would decode the original. So these checks, made
while the segments are walked, refuse whatever a decode would refuse, at ~1 % of the cost of
the 1/8-scale decode they replace (0.02 against 1.4 ms per 100 KB photo).

Each check mirrors a libjpeg(-turbo) error: ``jdhuff.c`` (``JERR_BAD_HUFF_TABLE``: more than
256 symbols, a code space overfilled, a DC symbol over 15; ``JERR_NO_HUFF_TABLE``),
``jdmarker.c`` (``JERR_BAD_COMPONENT_ID``, ``JERR_DQT_INDEX``, ``JERR_DHT_INDEX``),
``jdinput.c`` (``JERR_BAD_SAMPLING``, ``JERR_BAD_MCU_SIZE``, ``JERR_NO_QUANT_TABLE``),
``jdsample.c`` (``JERR_FRACT_SAMPLE_NOTIMPL``) and ``jdphuff.c`` (``JERR_BAD_PROGRESSION``).
Where libjpeg only warns, the check is still strict when that is cheap (a zero quantiser, a
sequential scan that does not cover all 64 coefficients, a missing Huffman table
libjpeg-turbo would fill with the standard one): a refusal here costs only the normal path,
which renders and reports.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

__all__ = ["TableCheck"]

_MAX_SYMBOLS = 256
_MAX_DC_SYMBOL = 15
_MAX_SUCCESSIVE_BIT = 13
_LAST_COEFFICIENT = 63
_MAX_BLOCKS_IN_MCU = 10  # libjpeg's D_MAX_BLOCKS_IN_MCU (JERR_BAD_MCU_SIZE)


@dataclass
class TableCheck:
    """The tables and frame seen so far in one JPEG; each method checks one segment's body
    (after its length) and answers whether libjpeg would take it."""

    progressive: bool = False
    huffman: set[tuple[int, int]] = field(default_factory=set)  # (class 0 DC / 1 AC, id)
    quant: dict[int, int] = field(default_factory=dict)
    """Quantisation tables defined: id -> the sum of its quantisers (the last table defined
    under that id, as Pillow's ``JpegImageFile.quantization`` keeps it)."""
    components: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Component id -> (quant table, blocks per MCU: horizontal x vertical sampling)."""

    def huffman_tables(self, body: bytes) -> bool:
        """A DHT segment: one or more tables, each a prefix code libjpeg can build."""
        pos = 0
        while pos < len(body):
            if pos + 17 > len(body):
                return False
            kind, ident = body[pos] >> 4, body[pos] & 0x0F
            counts = body[pos + 1 : pos + 17]
            total = sum(counts)
            symbols = body[pos + 17 : pos + 17 + total]
            if kind > 1 or ident > 3 or total > _MAX_SYMBOLS or len(symbols) != total:
                return False
            if not _prefix_code_fits(counts):
                return False
            if kind == 0 and any(symbol > _MAX_DC_SYMBOL for symbol in symbols):
                return False
            self.huffman.add((kind, ident))
            pos += 17 + total
        return True

    def quant_tables(self, body: bytes) -> bool:
        """A DQT segment: 8- or 16-bit tables 0-3, no zero quantiser."""
        pos = 0
        while pos < len(body):
            precision, ident = body[pos] >> 4, body[pos] & 0x0F
            width = 1 if precision == 0 else 2
            values = body[pos + 1 : pos + 1 + 64 * width]
            if precision > 1 or ident > 3 or len(values) != 64 * width:
                return False
            quantisers = values if width == 1 else struct.unpack(">64H", values)
            if 0 in quantisers:
                return False
            self.quant[ident] = sum(quantisers)
            pos += 1 + 64 * width
        return True

    def frame(self, marker: int, body: bytes) -> bool:
        """A SOF0/1/2 segment whose header :func:`~.jpeg_passthrough` already sized: its
        components' ids distinct, sampling factors 1-4 dividing the largest, quant table ids
        0-3."""
        self.progressive = marker == 0xC2
        factors: list[tuple[int, int]] = []
        for i in range(6, len(body), 3):
            ident, sampling, table = body[i], body[i + 1], body[i + 2]
            across, down = sampling >> 4, sampling & 0x0F
            if ident in self.components or table > 3 or not (1 <= across <= 4 and 1 <= down <= 4):
                return False
            self.components[ident] = table, across * down
            factors.append((across, down))
        # each component upsampled by a whole factor (else JERR_FRACT_SAMPLE_NOTIMPL)
        most_across = max(across for across, _ in factors)
        most_down = max(down for _, down in factors)
        return all(most_across % across == 0 and most_down % down == 0 for across, down in factors)

    def scan(self, body: bytes) -> bool:
        """A SOS header: frame components, each with its quant table and the Huffman tables
        the scan's kind decodes with, defined; the coefficients and bits a valid progression
        can have."""
        if not body or not 1 <= body[0] <= 4 or len(body) != 4 + 2 * body[0]:
            return False
        count = body[0]
        start, end, bits = body[1 + 2 * count], body[2 + 2 * count], body[3 + 2 * count]
        high, low = bits >> 4, bits & 0x0F
        if not self._coefficients(count, start, end, high, low):
            return False
        seen: set[int] = set()
        blocks = 0
        for i in range(1, 1 + 2 * count, 2):
            ident, tables = body[i], body[i + 1]
            if ident in seen or ident not in self.components:
                return False
            seen.add(ident)
            quant, component_blocks = self.components[ident]
            blocks += component_blocks
            if quant not in self.quant:
                return False
            needs_dc = start == 0 and high == 0  # a DC first pass (or a sequential scan)
            needs_ac = end > 0  # any AC coefficient (AC refinements decode with it too)
            if needs_dc and (0, tables >> 4) not in self.huffman:
                return False
            if needs_ac and (1, tables & 0x0F) not in self.huffman:
                return False
        return count == 1 or blocks <= _MAX_BLOCKS_IN_MCU

    def _coefficients(self, count: int, start: int, end: int, high: int, low: int) -> bool:
        if not self.progressive:
            return start == 0 and end == _LAST_COEFFICIENT and high == 0 and low == 0
        if start > end or end > _LAST_COEFFICIENT or high > _MAX_SUCCESSIVE_BIT:
            return False
        if low > _MAX_SUCCESSIVE_BIT or (high != 0 and high != low + 1):
            return False
        if start == 0:
            return end == 0  # DC scans carry the DC coefficient only
        return count == 1  # AC scans are never interleaved


def _prefix_code_fits(counts: bytes) -> bool:
    """Whether codes of these lengths (``counts[i]`` of length ``i + 1``) fit as libjpeg
    assigns them: the all-ones code of every length stays unused."""
    code = 0
    for length, count in enumerate(counts, start=1):
        code += count
        if code >= 1 << length:
            return False
        code <<= 1
    return True
