"""``photoark export DEST [--album NAME]``: decrypt originals back to disk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, emit_json, handle_errors, stderr
from photoark.client.library.export import export
from photoark.client.session import Session

__all__ = ["export_command"]


def export_command(
    dest: Annotated[Path, typer.Argument(help="Destination folder.")],
    album: Annotated[str | None, typer.Option("--album", help="Only this album.")] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write every original, byte-identical, to DEST/<album>/<name>."""
    with handle_errors(), Session.open(home_of(home)) as session:
        report = export(session, dest.expanduser(), album)
    if json_output:
        emit_json(report.as_json())
    else:
        console.print(
            f"wrote {report.written} files ({report.bytes_written:,} bytes); "
            f"{report.existing} were already there"
        )
        for item in report.failed:
            stderr.print(f"[red]failed[/] file {item['file_id']}: {item['error']}")
    if report.failed:
        raise typer.Exit(7 if report.integrity_failures else 2)
