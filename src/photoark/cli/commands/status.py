"""``photoark status``: what the daemon is doing and how each watched folder stands."""

from __future__ import annotations

import time
from typing import Any

from photoark.cli.options import HomeOption, JsonOption, state_of
from photoark.cli.output import console, emit_json, handle_errors
from photoark.client.status import status_report

__all__ = ["status_command"]

_PAUSES = {
    "metered": "on a metered network (`photoark config set upload.on_metered true` to allow)",
    "battery": "on battery below the limit (`photoark config set upload.min_battery 0` to allow)",
    "offline": "the server is unreachable; retrying by itself",
}


def _ago(ts: Any) -> str:
    if not ts:
        return "never"
    return f"{max(0, int(time.time() - float(ts)))} s ago"


def status_command(home: HomeOption = None, json_output: JsonOption = False) -> None:
    """Show the daemon's state and, per watched folder, files seen, backed up, queued, failed."""
    with handle_errors(), state_of(home) as db:
        report = status_report(db)
    if json_output:
        emit_json(report)
        return
    daemon = report["daemon"]
    if not daemon["running"]:
        console.print("daemon: not running (start it with `photoark daemon`)")
    else:
        line = f"daemon: {daemon['state']} (pid {daemon['pid']})"
        if daemon["paused"]:
            line += f"; paused: {_PAUSES.get(daemon['paused'], daemon['paused'])}"
        if daemon.get("settling"):
            line += f"; {daemon['settling']} files being written (taken once they hold still)"
        console.print(line, highlight=False)
        current = daemon["current"]
        if current:
            console.print(
                f"  now: album {current['album']!r}, {current['files_done']}/{current['files']}"
                f" files, {current['bytes_done']:,}/{current['bytes']:,} bytes",
                highlight=False,
            )
    console.print(f"last sync: {_ago(report['last_sync'])}", highlight=False)
    if report["thumbnails_pending"]:
        console.print(f"thumbnails to make: {report['thumbnails_pending']}", highlight=False)
    emb = report["embeddings"]
    if emb["photos"]:
        console.print(
            f"similar-photo embeddings: {emb['embedded']}/{emb['photos']} photos"
            f" ({emb['pending']} to make, {emb['failed']} cannot be made)",
            highlight=False,
        )
    if not report["watches"]:
        console.print("no watched folders; add one with `photoark watch add PATH`")
    for w in report["watches"]:
        missing = "" if w["exists"] else "  [red](folder missing)[/]"
        console.print(
            f"{w['path']}: {w['seen']} seen, {w['backed_up']} backed up, {w['queued']} queued,"
            f" {w['failed']} failed, {w['deleted_from_backup']} deleted from the backup"
            f" (not uploaded again){missing}",
            highlight=False,
        )
        if w["problem"]:
            console.print(f"  [yellow]{w['problem']}[/]", highlight=False)
        for f in w["failures"][:10]:
            console.print(f"  [red]failed[/] {f['path']!r}: {f['error']}", highlight=False)
