"""``photoark dedup``: find exact duplicates in the library, review, and remove them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, emit_json, fail, handle_errors, plural
from photoark.client.library import sync
from photoark.client.session import Session
from photoark.optimize.duplicates import apply_plan, find_duplicates, plan_from_json, plan_json

__all__ = ["dedup_command"]


def dedup_command(
    apply: Annotated[
        bool, typer.Option("--apply", help="Remove the duplicates (to trash).")
    ] = False,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Apply this plan (the JSON of `dedup --json`, edited)."),
    ] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Find files with the same content in your library; keep one copy, in every album.

    Without --apply, only shows what would be done. The copies removed go to the trash."""
    with handle_errors(), Session.open(home_of(home)) as session:
        sync.pull(session)
        if plan is not None:
            try:
                document = json.loads(plan.read_text())
            except (OSError, ValueError) as err:
                fail(f"cannot read the plan {plan}: {err}")
            groups = plan_from_json(document, session.mirror)
        else:
            groups = find_duplicates(session.mirror)
        shown = plan_json(groups, session.mirror)
        result = apply_plan(session, groups) if (apply or plan is not None) and groups else None
    if json_output:
        emit_json(shown if result is None else {**shown, "applied": result.as_json()})
        return
    if not groups:
        console.print("no duplicates: every photo is in the library once")
        return
    for g in shown["groups"]:
        keep = next(f for f in g["files"] if f["id"] == g["keep"])
        console.print(
            f"{plural(len(g['files']), 'copy', 'copies')} of {keep['name']!r}"
            f" ({plural(g['size'], 'byte')}), in "
            f"{', '.join(g['albums'])}: keep #{g['keep']} ({g['why']})",
            highlight=False,
        )
        for f in g["files"]:
            if f["id"] != g["keep"]:
                console.print(f"  remove #{f['id']} {f['name']!r}", highlight=False)
    if result is None:
        console.print(
            f"{plural(len(groups), 'group')}; {plural(shown['bytes_freed'], 'byte')} would be"
            " freed once the trash empties. Run with --apply (or edit `--json` and pass it with"
            " --plan)."
        )
    else:
        console.print(
            f"kept one copy of {plural(result.groups, 'photo')} in every album;"
            f" {plural(result.trashed, 'copy', 'copies')} moved to the trash"
            f" ({plural(result.bytes_freed, 'byte')} freed when it empties)"
        )
        for f in result.failed:
            console.print(f"[red]not applied[/] #{f['file_id']}: {f['error']}", highlight=False)
