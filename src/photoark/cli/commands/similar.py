"""``photoark similar [apply]``: groups of similar photos (on-device ML), reviewed, cleaned up."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, emit_json, fail, handle_errors, plural
from photoark.cli.progress import ItemBar, wants_progress
from photoark.client.library import sync
from photoark.client.session import Session
from photoark.ml.identity import NEAR_IDENTICAL_THRESHOLD, SIMILAR_THRESHOLD

if TYPE_CHECKING:  # numpy and the model's modules load only when the command runs
    from photoark.client.library.embedder import EmbedReport
    from photoark.optimize.similar import SimilarScan, TierFilter

__all__ = ["similar_app"]

similar_app = typer.Typer(
    help="Find groups of similar photos (edits, resizes, rotations, bursts) and clean them up.",
    invoke_without_command=True,
)

Threshold = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        min=0.0,
        max=2.0,
        help="Cosine distance within which photos group, for the loosest tier shown (defaults,"
        f" calibrated on labelled photos: near_identical {NEAR_IDENTICAL_THRESHOLD}, similar"
        f" {SIMILAR_THRESHOLD}; lower finds fewer, closer photos).",
    ),
]


class TierChoice(StrEnum):
    near_identical = "near_identical"
    similar = "similar"
    all = "all"


Tier = Annotated[
    TierChoice,
    typer.Option(
        "--tier",
        help="near_identical: the same picture rotated, resized, re-encoded or lightly edited"
        " (removal suggested); similar: other shots of the moment (nothing pre-selected).",
    ),
]


def _scan(
    session: Session, tier: TierFilter, threshold: float | None, json_output: bool
) -> tuple[SimilarScan, EmbedReport]:
    from photoark.optimize.similar import scan_similar, thresholds_for

    with ItemBar("embedding photos", wants_progress(json_output)) as bar:
        return scan_similar(
            session,
            thresholds_for(tier, threshold),
            tier=tier,
            on_total=bar.set_total,
            on_done=bar.advance,
            on_stage=bar.describe,
        )


@similar_app.callback()
def similar_command(
    ctx: typer.Context,
    threshold: Threshold = None,
    tier: Tier = TierChoice.all,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show groups of similar photos across the library, each with a suggested keeper.

    Embeddings missing are made first (on this device, from the thumbnails). Exact duplicates
    are left to `photoark dedup`. Nothing is changed: see `photoark similar apply`."""
    if ctx.invoked_subcommand is not None:
        return
    from photoark.optimize.similar import plan_json

    with handle_errors(), Session.open(home_of(home)) as session:
        scan, report = _scan(session, tier.value, threshold, json_output)
        shown = plan_json(scan, session.mirror)
    shown["embeddings"] = report.as_json()
    if json_output:
        emit_json(shown)
        return
    _print_groups(shown)
    for f in report.failed:
        console.print(
            f"[yellow]not compared[/] #{f['id']} {f['name']!r}: {f['error']}", highlight=False
        )
    if not shown["groups"]:
        console.print(
            f"no similar photos among {plural(shown['photos'], 'photo')}"
            f" (threshold {shown['threshold']})"
        )
        return
    console.print(
        f"{plural(len(shown['groups']), 'group')} among {plural(shown['photos'], 'photo')};"
        " removing the suggested near-identical copies frees "
        f"{plural(shown['bytes_freed'], 'byte')} once the trash empties. "
        "Similar shots are for you to pick. Review with --json, then "
        "`photoark similar apply --plan FILE` (or `--keep-suggested`: near-identical only)."
    )


def _print_groups(shown: dict[str, Any]) -> None:
    for n, group in enumerate(shown["groups"], 1):
        tier = group["tier"].replace("_", "-")
        console.print(f"group {n} ({tier}, within {group['threshold']}):", highlight=False)
        for i, f in enumerate(group["files"]):
            mark = ("keep  " if f["keep"] else "remove") if tier == "near-identical" else "      "
            size = f"{f['width']}x{f['height']}" if f["width"] and f["height"] else "?x?"
            why = f"; {f['reason']}" if f["reason"] and (i == 0 or not f["keep"]) else ""
            console.print(
                f"  {mark} #{f['id']} {f['name']!r} in {', '.join(f['albums']) or 'no album'}"
                f" ({size} {f['format'] or '?'}, distance {f['distance']:.3f}{why})",
                highlight=False,
            )


@similar_app.command("apply")
def apply_command(
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="The JSON of `similar --json`, with `keep` edited."),
    ] = None,
    keep_suggested: Annotated[
        bool,
        typer.Option(
            "--keep-suggested",
            help="Keep each near-identical group's suggested photo, trash its copies (the"
            " similar tier is never touched without a plan).",
        ),
    ] = False,
    threshold: Threshold = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Move the photos not kept to the trash; a kept photo is first added to any album that
    would otherwise lose the scene. Their contents are marked deleted (not backed up again)."""
    if (plan is None) == (not keep_suggested):
        fail("give either --plan FILE or --keep-suggested")
    from photoark.optimize.similar import apply_similar, plan_from_json

    with handle_errors(), Session.open(home_of(home)) as session:
        if plan is not None:
            try:
                document = json.loads(plan.read_text())
            except (OSError, ValueError) as err:
                fail(f"cannot read the plan {plan}: {err}")
            sync.pull(session)
            groups = plan_from_json(document, session.mirror)
        else:
            scan = _scan(session, "near_identical", threshold, json_output)[0]
            groups = [g for g in scan.groups if g.tier == "near_identical"]
        result = apply_similar(session, groups)
    if json_output:
        emit_json(result.as_json())
        return
    console.print(
        f"{plural(result.groups, 'group')} cleaned up: {plural(result.trashed, 'photo')} moved"
        f" to the trash ({plural(result.bytes_freed, 'byte')} freed when it empties),"
        f" {plural(result.added_to_albums, 'kept photo')} added to albums that would have"
        " lost them"
    )
    for f in result.failed:
        console.print(f"[red]not applied[/] #{f['file_id']}: {f['error']}", highlight=False)
