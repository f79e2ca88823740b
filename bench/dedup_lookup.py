"""Dedup lookup cost per file against library size: the client's decision reads the local
mirror (SQLite, indexed on (hash, name)); its cost per file must stay flat from 1 000 to
100 000 library files.

Fills a fresh mirror with N synthetic files (random hashes, names, a few albums), then times
the exact calls a backup makes per file — ``find_by_hash`` under both profiles and
``albums_of_file`` for the matches, through
:func:`photoark.client.pipeline.decide.decide` — for a mix of hits and misses.
No server: this isolates the lookup.

    python bench/dedup_lookup.py [--sizes 1000,10000,100000] [--lookups 20000] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Table, write_json

from photoark.client.pipeline.decide import decide
from photoark.client.state.db import StateDB
from photoark.client.state.mirror import Album, LibraryFile, Mirror
from photoark.protocol.metadata import FileMetadata

ALBUMS = 20
HEADER = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"  # base64 of a 24-byte secretstream header


def fill(mirror: Mirror, db: StateDB, n: int, rnd: random.Random) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    with db.transaction() as conn:
        for a in range(1, ALBUMS + 1):
            mirror.put_album(conn, Album(a, f"album {a}", os.urandom(32), a))
        for i in range(1, n + 1):
            content_hash = rnd.randbytes(32).hex()
            name = f"IMG_{i:06d}.JPG"
            keys.append((content_hash, name))
            meta = FileMetadata(
                name=name, hash=content_hash, size=1000, type="image", header=HEADER
            )
            mirror.put_file(
                conn,
                LibraryFile(
                    id=i,
                    hash=content_hash,
                    name=name,
                    size=1000,
                    type="image",
                    taken_at=None,
                    taken_at_utc=None,
                    metadata=meta,
                    file_key=os.urandom(32),
                    content_size=1017,
                    thumbnail_size=100,
                    created_at=float(i),
                ),
            )
            mirror.put_entry(conn, 1 + i % ALBUMS, i)
    return keys


def time_lookups(mirror: Mirror, keys: list[tuple[str, str]], lookups: int) -> float:
    """Microseconds per decision, half hits (known content) and half misses."""
    rnd = random.Random(7)
    probes = [
        rnd.choice(keys) if i % 2 == 0 else (rnd.randbytes(32).hex(), "new.jpg")
        for i in range(lookups)
    ]
    start = time.perf_counter()
    for i, (content_hash, name) in enumerate(probes):
        by_name = name if i % 4 < 2 else None  # both profiles
        decide(mirror.find_by_hash(content_hash, by_name), mirror.albums_of_file, 1)
    return (time.perf_counter() - start) / lookups * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--lookups", type=int, default=20000)
    ap.add_argument("--json-out")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    table = Table("dedup lookup per file vs library size (local mirror, SQLite)")
    results: dict[str, float] = {}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = StateDB(Path(tmp) / "state.db")
            mirror = Mirror(db)
            keys = fill(mirror, db, n, random.Random(n))
            time_lookups(mirror, keys, 1000)  # warm the page cache and the statement cache
            results[str(n)] = time_lookups(mirror, keys, args.lookups)
            db.close()
    base = results[str(sizes[0])]
    for n in sizes:
        us = results[str(n)]
        ratio = us / base
        table.add(
            f"library of {n:,} files",
            f"{us:.1f} µs/decision ({ratio:.2f}× the {sizes[0]:,} figure)",
            "flat: ≤ 1.5×",
            ratio <= 1.5,
        )
    print(table.render())
    write_json(args.json_out, {"benchmark": "dedup_lookup", "us_per_decision": results})
    if args.json_out is None:
        print(json.dumps({"us_per_decision": results}))


if __name__ == "__main__":
    main()
