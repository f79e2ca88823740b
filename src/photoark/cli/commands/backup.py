"""``photoark backup PATH... --album NAME``: one-shot recursive backup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, emit_json, handle_errors, stderr
from photoark.cli.progress import RichBackupProgress, wants_progress
from photoark.client.daemon.inhibit import SleepInhibitor
from photoark.client.pipeline.backup import BackupOptions, BackupProgress, BackupReport, backup
from photoark.client.session import Session
from photoark.client.settings import Settings

__all__ = ["backup_command", "print_report", "run_backup"]


def run_backup(
    session: Session,
    paths: list[Path],
    album: str,
    options: BackupOptions,
    json_output: bool,
) -> BackupReport:
    """Run a backup with a progress bar on a terminal, silently in a pipe or with --json."""
    str_paths = [str(p) for p in paths]
    if wants_progress(json_output):
        with RichBackupProgress() as progress:
            return backup(session, str_paths, album, options, progress)
    return backup(session, str_paths, album, options, BackupProgress())


def print_report(report: BackupReport) -> None:
    console.print(
        f"uploaded {report.uploaded}, skipped {report.skipped} (already backed up), "
        f"added to album {report.added_to_album}, failed {len(report.failed)}, "
        f"{report.bytes_uploaded:,} bytes sent"
    )
    thumbs = report.thumbnails
    if thumbs.made or thumbs.failed or report.thumbnails_pending:
        console.print(
            f"thumbnails: {thumbs.made} made, {len(thumbs.failed)} could not be made (their "
            f"originals are backed up), {report.thumbnails_pending} left for the next run"
        )
    if report.deleted_from_backup:
        console.print(
            f"{len(report.deleted_from_backup)} files not uploaded: you deleted them from the "
            "backup (`photoark watch reupload PATH` to back them up again)"
        )
    for item in report.failed:
        stderr.print(f"[red]failed[/] {item['path']!r}: {item['error']}", highlight=False)
    if report.ignored:
        console.print(f"{len(report.ignored)} files passed over (not photos or videos):")
        for item in report.ignored[:20]:
            console.print(f"  {item['path']!r}: {item['reason']}", highlight=False)
        if len(report.ignored) > 20:
            console.print(f"  … and {len(report.ignored) - 20} more (see --json)")
    if report.aborted:
        stderr.print(f"[bold red]stopped:[/] {report.aborted}. Nothing is lost; run it again.")


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
