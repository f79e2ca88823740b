"""``photoark doctor``: why backups may not be running, and what to do about each thing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, emit_json
from photoark.client.daemon.policy import FileProbe, Probe, SystemProbe
from photoark.client.doctor import run_checks

__all__ = ["doctor_command"]

_MARK = {"ok": "[green]ok[/]  ", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}


def doctor_command(
    probe_file: Annotated[Path | None, typer.Option("--probe-file", hidden=True)] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check the server, the login, the watched folders, inotify limits, disk space, the
    battery/network policy, the clock and ffmpeg; explain each problem and its fix."""
    probe: Probe = FileProbe(probe_file) if probe_file is not None else SystemProbe()
    findings = run_checks(home_of(home), probe)
    failed = any(f.level == "fail" for f in findings)
    if json_output:
        emit_json({"ok": not failed, "checks": [f.as_json() for f in findings]})
    else:
        for f in findings:
            console.print(f"{_MARK[f.level]} {f.check}: {f.detail}", highlight=False)
            if f.fix:
                console.print(f"      fix: {f.fix}", highlight=False, markup=False)
    if failed:
        raise typer.Exit(1)
