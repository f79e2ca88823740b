"""``photoark backup PATH... --album NAME``: one-shot recursive backup.

Counts are of items, as the report counts them: a Live Photo's still and video are one item
(:mod:`photoark.client.pipeline.report`). Nothing but the progress bar is shown while the run
goes; everything worth reading (failures with their reasons, thumbnails that could not be made,
what the media libraries printed on their own, a missing ffmpeg) comes once the bar is gone,
long lists capped at :data:`LISTED` lines (``--json`` lists all).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import (
    console,
    emit_json,
    handle_errors,
    plural,
    print_problem,
    stderr,
)
from photoark.cli.progress import RichBackupProgress, wants_progress
from photoark.client.daemon.inhibit import SleepInhibitor
from photoark.client.pipeline.backup import BackupOptions, BackupProgress, BackupReport, backup
from photoark.client.session import Session
from photoark.client.settings import Settings
from photoark.tuning import limit_arenas

__all__ = ["LISTED", "backup_command", "listed", "print_report", "run_backup", "with_progress"]

T = TypeVar("T")

LISTED = 20
"""Lines of a list (failures, thumbnails not made, files passed over) printed before
"and N more"."""

FFMPEG_HINT = "sudo apt install ffmpeg"


def run_backup(
    session: Session,
    paths: list[Path],
    album: str,
    options: BackupOptions,
    json_output: bool,
) -> BackupReport:
    """Run a backup with a progress bar on a terminal, silently in a pipe or with --json (see
    :func:`with_progress`)."""
    str_paths = [str(p) for p in paths]
    return with_progress(
        json_output, lambda progress: backup(session, str_paths, album, options, progress)
    )


def with_progress(json_output: bool, run: Callable[[BackupProgress], T]) -> T:
    """``run`` a backup with a progress bar on a terminal, silently in a pipe or with --json.
    What the libraries wrote to stderr during the bar is printed once it is gone.

    glibc's malloc arenas are limited first (:func:`~photoark.tuning.limit_arenas`), before
    the backup starts its threads (the limit does not apply to arenas already made): each
    worker, sender and render thread kept an arena of its own, and the memory of freed parts
    and pictures stayed in it (the originals of 5 videos and 353 photos: peak RSS 273 → 250
    MiB from this alone)."""
    limit_arenas()
    if not wants_progress(json_output):
        return run(BackupProgress())
    with RichBackupProgress() as progress:
        result = run(progress)
    held = progress.held_back()
    if held:
        stderr.print(
            "messages during the run, from the media libraries and the log (the files are"
            " backed up unless listed as failed below):",
            highlight=False,
        )
        listed([f"  {line}" for line in held])
    return result


def _one_line(text: str, limit: int = 200) -> str:
    """A reason on one line, cut at ``limit`` characters (``--json`` has it whole)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def listed(lines: list[str], out: Console | None = None) -> None:
    """Print the first :data:`LISTED` of ``lines`` (on ``out``, stderr by default), then how
    many more there are."""
    out = out or stderr
    for line in lines[:LISTED]:
        out.print(line, highlight=False, markup=False)
    if len(lines) > LISTED:
        out.print(f"  … and {len(lines) - LISTED} more (--json lists all)", highlight=False)


def print_report(report: BackupReport) -> None:
    """The run's summary, then every failure by file and reason, the thumbnails that could not
    be made, what was passed over, and a missing ffmpeg said once."""
    console.print(
        f"uploaded {report.uploaded}, skipped {report.skipped} (already backed up), "
        f"added to album {report.added_to_album}, failed {len(report.failed)}, "
        f"{report.bytes_uploaded:,} bytes sent"
    )
    if report.live_photos:
        each = "each " if report.live_photos > 1 else ""
        console.print(
            f"  ({plural(report.live_photos, 'Live Photo')} among them: {each}a photo and its"
            " video, backed up together as one item)",
            highlight=False,
        )
    thumbs = report.thumbnails
    if thumbs.made or thumbs.failed or report.thumbnails_pending:
        console.print(
            f"thumbnails: {thumbs.made} made, {len(thumbs.failed)} could not be made (their "
            f"originals are backed up), {report.thumbnails_pending} left for the next run"
            + (":" if thumbs.failed else "")
        )
        listed([f"  {f['path']!r}: {_one_line(f['error'])}" for f in thumbs.failed], console)
    if report.deleted_from_backup:
        console.print(
            f"{plural(len(report.deleted_from_backup), 'file')} not uploaded: you deleted them"
            " from the backup (`photoark watch reupload PATH` to back them up again)",
            highlight=False,
        )
    if report.ignored:
        console.print(
            f"{plural(len(report.ignored), 'file')} passed over (not photos or videos):",
            highlight=False,
        )
        listed([f"  {i['path']!r}: {i['reason']}" for i in report.ignored], console)
    if report.failed:
        stderr.print(
            f"[red]failed:[/] {plural(len(report.failed), 'file')} not backed up (the next run"
            " tries again):",
            highlight=False,
        )
        listed([f"  {f['path']!r}: {_one_line(f['error'])}" for f in report.failed])
    videos = thumbs.videos_without_ffmpeg
    if videos:
        theirs = "its thumbnail needs" if videos == 1 else "their thumbnails need"
        stderr.print(
            f"[yellow]ffmpeg is missing:[/] {plural(videos, 'video')} backed up, but {theirs}"
            f" ffmpeg: {FFMPEG_HINT}",
            highlight=False,
        )
    if report.aborted:
        print_problem(
            f"{report.aborted}. Nothing is lost; run it again.", report.aborted_hint, "stopped"
        )


def backup_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to back up.")],
    album: Annotated[str, typer.Option("--album", help="Album to back up into.")],
    match: Annotated[
        str, typer.Option(help="Duplicate rule: name+hash (default) or hash.")
    ] = "name+hash",
    workers: Annotated[int, typer.Option(min=1, max=32, help="Parallel uploads.")] = 4,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Back up photos and videos (recursively) into an album."""
    if match not in ("name+hash", "hash"):
        raise typer.BadParameter("--match must be name+hash or hash")
    with handle_errors(), Session.open(home_of(home)) as session:
        awake = SleepInhibitor(enabled=bool(Settings(session.db).get("upload.inhibit_sleep")))
        options = BackupOptions(match=match, workers=workers, inhibitor=awake)  # type: ignore[arg-type]
        report = run_backup(session, paths, album, options, json_output)
    if json_output:
        emit_json(report.as_json())
    else:
        print_report(report)
    if report.aborted or report.failed:
        raise typer.Exit(5 if report.aborted else 6 if report.quota_exceeded else 2)
