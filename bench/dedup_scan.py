"""``photoark dedup``'s scan: finding exact-duplicate groups in a 100 000-file library must take
at most 5 s, with memory proportional to the duplicate groups, not to the library.

Fills a fresh mirror (as ``dedup_lookup.py`` does) with N unique files, then adds G groups of
three copies (other names, other albums), and times :func:`find_duplicates` plus the plan's
JSON; peak Python memory by tracemalloc. No server: the scan reads only the local mirror.

    python bench/dedup_scan.py [--sizes 10000,100000] [--groups 100,10000] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Table, write_json
from dedup_lookup import ALBUMS, fill

from photoark.client.state.db import StateDB
from photoark.client.state.mirror import Mirror
from photoark.optimize.duplicates import find_duplicates, plan_json


def add_copies(mirror: Mirror, db: StateDB, n: int, groups: int, rnd: random.Random) -> None:
    """Two more copies (another name, another album) of ``groups`` of the n files."""
    next_id = n + 1
    with db.transaction() as conn:
        for original_id in rnd.sample(range(1, n + 1), groups):
            original = mirror.file(original_id)
            assert original is not None
            for copy in range(2):
                name = f"copy {copy} of {original.name}"
                mirror.put_file(
                    conn, dataclasses.replace(original, id=next_id, name=name, created_at=1e9)
                )
                mirror.put_entry(conn, 1 + (original_id + copy + 1) % ALBUMS, next_id)
                next_id += 1


def measure(n: int, groups: int) -> tuple[float, int, int]:
    """(seconds, peak bytes, groups found)"""
    with tempfile.TemporaryDirectory() as tmp:
        db = StateDB(Path(tmp) / "state.db")
        mirror = Mirror(db)
        rnd = random.Random(n + groups)
        fill(mirror, db, n, rnd)
        add_copies(mirror, db, n, groups, rnd)
        find_duplicates(mirror)  # warm the page cache
        tracemalloc.start()
        start = time.perf_counter()
        found = find_duplicates(mirror)
        plan_json(found, mirror)
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.close()
    return seconds, peak, len(found)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--groups", default="100,10000")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    group_counts = [int(g) for g in args.groups.split(",")]
    table = Table("dedup scan (local mirror, SQLite; tracemalloc peak)")
    results = []
    for n in sizes:
        for g in group_counts:
            seconds, peak, found = measure(n, g)
            assert found == g, (found, g)
            results.append({"files": n, "groups": g, "seconds": seconds, "peak_bytes": peak})
            table.add(
                f"{n:,} unique files + {g:,} groups of 3",
                f"{seconds:.2f} s, peak {peak / 1e6:.1f} MB",
                "≤ 5 s" if n >= 100_000 else "",
                seconds <= 5 if n >= 100_000 else None,
            )
    by = {(r["files"], r["groups"]): r["peak_bytes"] for r in results}
    g = group_counts[-1]
    ratio = by[(sizes[-1], g)] / by[(sizes[0], g)]
    table.add(
        f"memory, {sizes[-1]:,} vs {sizes[0]:,} files ({g:,} groups)",
        f"{ratio:.2f}×",
        "≈1 (proportional to groups, not files)",
        ratio < 1.5,
    )
    print(table.render())
    write_json(args.json_out, {"benchmark": "dedup_scan", "results": results})


if __name__ == "__main__":
    main()
