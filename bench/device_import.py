"""Device import: from plugging in a camera card of 500 photos to all its originals safe.

A real card filesystem, as in the tests (``tests/cards.py``): an exFAT image on a loop device
mounted with ``mount.exfat-fuse`` (root, ``apt-get install -y exfatprogs exfat-fuse``), laid out
as a camera writes it (``DCIM/100CANON`` … ``109CANON``), holding issue 22's distinct ~100 KB
JPEGs (``_folders.many_folder``, cached under /tmp/photoark-bench/issue22/). Cold cache (page
cache dropped, as root). Measured:

- **mount → originals safe**: from the mount command's start to the moment the import's
  originals were all committed (the command's end minus its thumbnail phase, from the JSON
  report's ``seconds``); the whole command beside it;
- **copy by hand** (``cp -r`` of the card's DCIM to the local disk, cold): what photographers do
  today, for scale;
- **re-plug**: the same card unmounted and mounted again, imported again: time, bytes sent
  (0 expected).

Usage: ``python bench/device_import.py [--photos 500] [--json-out FILE] [--keep-data]
[--no-drop-caches]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from _common import CliRun, Table, drop_caches, fmt_bytes, photoark, scratch, signup, write_json
from _folders import many_folder
from tests.builders import running_server
from tests.cards import ExfatCard, card_unavailable


def _lay_out(card_root: Path, source: Path) -> int:
    """The photos of ``source``'s sub-folders as a camera's DCF folders; their bytes."""
    total = 0
    for n, folder in enumerate(sorted(p for p in source.iterdir() if p.is_dir())):
        target = card_root / "DCIM" / f"{100 + n}CANON"
        target.mkdir(parents=True)
        for photo in sorted(folder.iterdir()):
            shutil.copyfile(photo, target / photo.name)
            total += photo.stat().st_size
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=500)
    ap.add_argument("--json-out")
    ap.add_argument("--keep-data", action="store_true")
    ap.add_argument(
        "--no-drop-caches",
        action="store_true",
        help="leave the page cache alone (another benchmark runs on the machine)",
    )
    args = ap.parse_args()
    why_not = card_unavailable()
    if why_not:
        raise SystemExit(f"no real card here: {why_not}")
    table = Table(f"device import: a camera card of {args.photos} photos (exFAT, FUSE)")
    result: dict[str, Any] = {"photos": args.photos}
    source = many_folder(args.photos)

    def drop() -> bool:
        return False if args.no_drop_caches else drop_caches()

    with scratch("device-import", keep=args.keep_data) as work, running_server(work) as server:
        size_mb = max(64, int(sum(p.stat().st_size for p in source.rglob("*.JPG")) / 1e6 * 1.5))
        card = ExfatCard(work / "card.img", work / "slot" / "EOS_DIGITAL", "EOS_DIGITAL", size_mb)
        try:
            total = _lay_out(card.mount(), source)
            card.unmount()
            home = work / "client"
            signup(home, server.url)

            def plug_in_and_import() -> tuple[CliRun, float]:
                """Mount the card (cold cache unless told) and import it: the run, and the
                seconds from the mount's start to the import's end."""
                drop()
                start = time.perf_counter()
                card.mount()
                run = photoark(home, ["import", str(card.mount_point), "--json"])
                return run, time.perf_counter() - start

            cold = drop()
            card.mount()
            start = time.perf_counter()
            subprocess.run(["cp", "-r", str(card.mount_point / "DCIM"), str(work / "copy")])
            copy_s = time.perf_counter() - start
            card.unmount()
            shutil.rmtree(work / "copy")

            run, whole = plug_in_and_import()
            report = run.json()
            assert report["uploaded"] == args.photos, {k: report[k] for k in ("uploaded", "failed")}
            seconds = report["seconds"]
            safe = whole - (seconds["total"] - seconds["originals"])

            card.unmount()
            again, replug = plug_in_and_import()
            second = again.json()
        finally:
            card.close()
    result.update(
        bytes=total,
        cold_cache=cold,
        mount_to_originals_safe_s=safe,
        mount_to_import_done_s=whole,
        copy_by_hand_s=copy_s,
        replug_s=replug,
        replug_bytes_sent=second["bytes_uploaded"],
        client_peak_rss=run.max_rss,
    )
    per = args.photos / safe
    table.add(
        "mount → all originals safe",
        f"{safe:.1f} s ({per:.0f} photos/s, {fmt_bytes(total / safe)}/s)",
        "info",
    )
    table.add("mount → import done (thumbnails too)", f"{whole:.1f} s", "info")
    table.add(f"copy by hand (cp -r DCIM{', cold' if cold else ''})", f"{copy_s:.1f} s", "info")
    table.add(
        "re-plug: mount → import done",
        f"{replug:.1f} s, {second['bytes_uploaded']} B sent, {second['skipped']} skipped",
        "0 B sent",
        second["bytes_uploaded"] == 0 and second["skipped"] == args.photos,
    )
    table.add("client peak RSS (first import)", fmt_bytes(run.max_rss), "info")
    table.note(f"{args.photos} photos, {fmt_bytes(total)}; cold cache: {cold}")
    print(table.render())
    write_json(args.json_out, {"device_import": result})


if __name__ == "__main__":
    main()
