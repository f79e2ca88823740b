"""``photoark export DEST [--album NAME] [--flat]``: decrypt originals back to disk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, emit_json, handle_errors, plural, stderr
from photoark.client.library.export import export
from photoark.client.session import Session

__all__ = ["export_command"]


def export_command(
    dest: Annotated[Path, typer.Argument(help="Destination folder.")],
    album: Annotated[str | None, typer.Option("--album", help="Only this album.")] = None,
    flat: Annotated[
        bool,
        typer.Option("--flat", help="Every file in DEST/<album>/<name>, without its folders."),
    ] = False,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write every original, byte-identical, to DEST/<album>/<folders>/<name>: the folders it
    was in under the folder backed up (--flat: DEST/<album>/<name>)."""
    with handle_errors(), Session.open(home_of(home)) as session:
        report = export(session, dest.expanduser(), album, flat=flat)
    if json_output:
        emit_json(report.as_json())
    else:
        console.print(
            f"wrote {plural(report.written, 'item')} ({plural(report.files_written, 'file')}, "
            f"{plural(report.bytes_written, 'byte')}); "
            f"{plural(report.existing, 'item')} already there"
        )
        for item in report.failed:
            stderr.print(f"[red]failed[/] file {item['file_id']}: {item['error']}")
    if report.failed:
        raise typer.Exit(7 if report.integrity_failures else 2)
