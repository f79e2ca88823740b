"""``photoark devices``: the connected cards, cameras and phones that hold photos, and how many
of their photos the library already has."""

from __future__ import annotations

from typing import Any

from photoark.cli.options import HomeOption, JsonOption, state_of
from photoark.cli.output import console, emit_json, handle_errors, plural
from photoark.client.devices import count_device, discover, shared_budget

__all__ = ["devices_command"]


def devices_command(home: HomeOption = None, json_output: JsonOption = False) -> None:
    """List the connected devices holding photos (a DCIM folder): cards, cameras, phones."""
    rows: list[dict[str, Any]] = []
    with handle_errors(), state_of(home) as db:
        budget = shared_budget()
        for d in discover():
            counts = count_device(db, d, budget)
            rows.append(
                {"id": d.id, "label": d.label, "kind": d.kind, "path": d.path}
                | counts.as_json()
                | {"read_only": d.read_only}
            )
    if json_output:
        emit_json(rows)
        return
    if not rows:
        console.print(
            "no device with photos (a DCIM folder) is connected; `photoark doctor` says what"
            " this machine can see"
        )
        return
    for r in rows:
        line = (
            f"{r['label']} ({r['kind']}, {r['id']}) at {r['path']}: "
            f"{plural(r['photos'], 'photo')}, {plural(r['bytes'], 'byte')}, "
            f"{r['backed_up']:,} already backed up"
        )
        if r["unchecked"]:
            line += f", {r['unchecked']:,} not checked yet (the import checks them)"
        console.print(line + (" — read-only" if r["read_only"] else ""), highlight=False)
