"""``photoark free-up-space``: delete local copies of photos that are safely backed up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, VerifyDownloadOption, home_of
from photoark.cli.output import console, emit_json, handle_errors, plural, stderr
from photoark.cli.progress import Counter, wants_progress
from photoark.client.library.trash import trashed_hashes
from photoark.client.session import Session
from photoark.optimize.freeup import apply_free_up, plan_free_up

__all__ = ["free_up_command"]


def free_up_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Folders to free up (default: the watched folders)."),
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Delete the candidates.")] = False,
    permanent: Annotated[
        bool, typer.Option("--permanent", help="Unlink instead of moving to the desktop trash.")
    ] = False,
    verify_download: VerifyDownloadOption = False,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """List (or, with --apply, delete) local photos whose backup is confirmed on the server."""
    with (
        handle_errors(),
        Session.open(home_of(home)) as session,
        Counter("checking files", wants_progress(json_output)) as counter,
    ):
        plan = plan_free_up(
            session,
            [str(p) for p in paths or []],
            verify_download=verify_download,
            trashed_hashes=lambda: trashed_hashes(session),
            on_file=counter.tick,
        )
        result = apply_free_up(session, plan.candidates, permanent) if apply else None
    if json_output:
        emit_json(plan.as_json() if result is None else {**plan.as_json(), **result.as_json()})
        return
    kept = plan.kept + (result.kept if result else [])
    for k in kept:
        console.print(f"kept {k.path!r}: {k.reason.text}", highlight=False)
    if result is None:
        for c in plan.candidates:
            console.print(f"can delete {c.path!r} ({plural(c.size, 'byte')})", highlight=False)
        console.print(
            f"{plural(len(plan.candidates), 'file')}, {plural(plan.bytes, 'byte')} can be freed; "
            "run again with --apply to delete them (to the desktop trash unless --permanent)"
        )
        return
    for f in result.failed:
        stderr.print(f"[red]not deleted[/] {f['path']!r}: {f['error']}", highlight=False)
    where = "deleted" if permanent else "moved to the desktop trash"
    console.print(
        f"{plural(len(result.deleted), 'file')} {where}, {plural(result.bytes_freed, 'byte')} freed"
    )
    if result.failed:
        raise typer.Exit(2)
