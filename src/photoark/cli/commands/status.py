"""``photoark status``: what the daemon is doing and how each watched folder stands.

Counts are of items, as ``photoark backup`` counts them: a Live Photo's photo and video are
one item (see :mod:`photoark.client.status`)."""

from __future__ import annotations

import time
from typing import Any

from rich.markup import escape

from photoark.cli.options import HomeOption, JsonOption, state_of
from photoark.cli.output import console, emit_json, handle_errors, plural
from photoark.client.status import status_report

__all__ = ["status_command"]

_LISTED = 10  # failures printed per folder

_PAUSES = {
    "metered": "on a metered network (`photoark config set upload.on_metered true` to allow)",
    "battery": "on battery below the limit (`photoark config set upload.min_battery 0` to allow)",
    "offline": "the server (or its object store) is unreachable; retrying by itself",
}


def _ago(ts: Any) -> str:
    if not ts:
        return "never"
    return f"{max(0, int(time.time() - float(ts)))} s ago"


def status_command(home: HomeOption = None, json_output: JsonOption = False) -> None:
    """Show the daemon's state and, per watched folder, items seen, backed up, queued, failed."""
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
            line += (
                f"; {plural(daemon['settling'], 'file')} being written (taken once they hold still)"
            )
        console.print(line, highlight=False)
        if daemon.get("offline_reason"):
            console.print(f"  why: {escape(daemon['offline_reason'])}", highlight=False)
        if daemon.get("offline_hint"):
            console.print(f"  hint: {escape(daemon['offline_hint'])}", highlight=False)
        current = daemon["current"]
        if current:
            console.print(
                f"  now: album {current['album']!r}, {current['files_done']}/{current['files']}"
                f" items, {current['bytes_done']:,}/{current['bytes']:,} bytes",
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
            f"{w['path']}: {plural(w['seen'], 'item')} seen, {w['backed_up']} backed up,"
            f" {w['queued']} queued, {w['failed']} failed, {w['deleted_from_backup']} deleted"
            f" from the backup (not uploaded again){missing}",
            highlight=False,
        )
        live = w.get("live_photos", 0)
        if live:
            each = "each " if live > 1 else ""
            console.print(
                f"  ({plural(live, 'Live Photo')} among them: {each}a photo and its video,"
                " counted as one item)",
                highlight=False,
            )
        if w["problem"]:
            console.print(f"  [yellow]{w['problem']}[/]", highlight=False)
        for f in w["failures"][:_LISTED]:
            console.print(
                f"  [red]failed[/] {escape(repr(f['path']))}: {escape(f['error'])}",
                highlight=False,
            )
        if len(w["failures"]) > _LISTED:
            console.print(
                f"  … and {len(w['failures']) - _LISTED} more failed (--json lists all)",
                highlight=False,
            )
