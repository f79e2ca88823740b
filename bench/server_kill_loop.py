"""Server kill loop: ``kill -9`` of the server during backups, again and again, then a sweep.

A real server process (``python -m photoark.server``, SQLite, local blobs) and ``photoark
backup`` processes of one client home. Folders of 40 small photos (bundles) and one 17 MiB
movie (3 parts) are backed up one after another; while a backup runs, the server is killed
with SIGKILL at a random moment (0.2-1.5 s after it answered) and started again on the same
data, ``--kills`` times (default 20, issue 19). The client rides over each restart on its
retries; a run that gives up is run again until it succeeds. By default the server does not
sweep during the loop (the default grace period of an hour spares everything), so what the
kills leave behind is counted; ``--sweep-during GRACE`` sweeps every second with that grace
period instead (as ``tests/e2e/test_crash_sweep.py`` does).

Then the server starts with ``--gc-interval 0.2 --sweep-grace 0`` and the data directory is
compared with the database rows until it is clean. Measured: kills, client runs and those that
gave up, the server's restart time (SIGKILL → ``/health`` answers), what the kills left
(temporary files, objects no row names, parts of no session, each with their bytes, and rows
naming a missing blob: must be none), how long the sweep took to clean it, and the checks at
the end: nothing unreferenced, no open session, files 0600 / directories 0700, every file in
``photoark ls`` and exported byte-identical.

    python bench/server_kill_loop.py [--kills 20] [--seed 19] [--sweep-during GRACE]
                                     [--keep-data] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Table, announce_source, fmt_bytes, scratch, use_checkout, write_json

use_checkout()  # this working tree's src/, in every process started

from tests.builders import Client, ServerProcess, free_port, tree_digest  # noqa: E402
from tests.e2e.test_crash_sweep import (  # noqa: E402
    Inventory,
    inventory,
    kill_loop,
    make_round,
    open_sessions,
    sweep_clean,
)


def _total(items: list[tuple[str, int]]) -> str:
    return f"{len(items)} ({fmt_bytes(sum(size for _, size in items))})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--sweep-during", metavar="GRACE", default=None)
    parser.add_argument("--keep-data", action="store_true")
    parser.add_argument("--json-out")
    args = parser.parse_args()
    code = announce_source()
    rng = random.Random(args.seed)
    with scratch("server-kill-loop", keep=args.keep_data) as root:
        data = root / "server-data"
        data.mkdir()
        extra = [] if args.sweep_during is None else ["--gc-interval", "1"]
        if args.sweep_during is not None:
            extra += ["--sweep-grace", args.sweep_during]
        server = ServerProcess(data, free_port(), extra=extra).start()
        try:
            client = Client(root / "laptop", server.url)
            client.signup()
            rounds = itertools.count()

            def new_folder() -> Path:
                return make_round(root / "photos", next(rounds), rng)

            figures, folders = kill_loop(server, client, new_folder, args.kills, rng)
            left = inventory(server.data_dir)
            sweep_started = time.monotonic()
            final: Inventory = sweep_clean(server, timeout=120)
            sweep_seconds = time.monotonic() - sweep_started
            sessions = open_sessions(server, client)
            expected: dict[str, bytes] = {}
            for folder in folders:
                expected.update(tree_digest(folder))
            listed = sorted(f["name"] for f in client.json("ls"))
            exported = client.json("export", str(root / "out"))
            identical = tree_digest(root / "out" / "A") == expected
        finally:
            server.stop()

    table = Table(f"server kill loop: {figures.kills} SIGKILLs during backups, then a sweep")
    restarts = figures.restart_seconds
    table.add("kills (each during a backup)", str(figures.kills), f"{args.kills}")
    table.add("backup runs / gave up and ran again", f"{figures.client_runs} / "
              f"{figures.client_failures}", "every folder backed up in the end")  # fmt: skip
    table.add("restart: median / max", f"{statistics.median(restarts):.2f} s / "
              f"{max(restarts):.2f} s")  # fmt: skip
    table.add("loop wall time", f"{figures.seconds:.1f} s")
    table.add("left: temporary files", _total(left.temporaries))
    table.add("left: unreferenced objects", _total(left.unreferenced))
    table.add("left: parts of no session", _total(left.abandoned_uploads))
    table.add("open sessions after the loop", str(left.open_sessions))
    table.add("rows naming a missing blob", str(len(left.dangling)), "0", not left.dangling)
    table.add("sweep (grace 0) until clean", f"{sweep_seconds:.1f} s", "", final.clean)
    table.add("open sessions at the end", str(len(sessions)), "0", not sessions)
    table.add("modes not 0600/0700", str(len(final.wrong_modes)), "0", not final.wrong_modes)
    table.add("files listed / expected", f"{len(listed)} / {len(expected)}", "all",
              listed == sorted(expected))  # fmt: skip
    table.add("export byte-identical", f"{exported['written']} written, "
              f"{len(exported['failed'])} failed", "all", identical)  # fmt: skip
    if args.sweep_during is not None:
        table.note(f"the server swept every second during the loop, grace {args.sweep_during} s")
    print(table.render())
    write_json(
        args.json_out,
        {
            "code": code,
            "kills": figures.kills,
            "client_runs": figures.client_runs,
            "client_failures": figures.client_failures,
            "restart_seconds": restarts,
            "loop_seconds": figures.seconds,
            "left": {
                "temporaries": left.temporaries,
                "unreferenced": left.unreferenced,
                "abandoned_uploads": left.abandoned_uploads,
                "dangling": left.dangling,
                "open_sessions": left.open_sessions,
            },
            "sweep_seconds": sweep_seconds,
            "clean": final.clean,
            "open_sessions_at_end": len(sessions),
            "wrong_modes": final.wrong_modes,
            "files": len(listed),
            "export_identical": identical,
        },
    )
    if not (final.clean and identical and not sessions and not left.dangling):
        sys.exit(1)


if __name__ == "__main__":
    main()
