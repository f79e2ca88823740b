"""``photoark import DEVICE_OR_PATH``: back up a card, camera or phone into its album, then,
with ``--free-up``, delete from it what free-up-space's rules allow."""

from __future__ import annotations

from typing import Annotated

import typer

from photoark.cli.commands.backup import listed, print_report, with_progress
from photoark.cli.options import HomeOption, JsonOption, VerifyDownloadOption, home_of
from photoark.cli.output import console, emit_json, handle_errors, plural, print_problem
from photoark.client.daemon.inhibit import SleepInhibitor
from photoark.client.daemon.watcher import Settler, wait_until_settled
from photoark.client.devices import DeviceImport, choose_device, import_device
from photoark.client.errors import ClientError
from photoark.client.pipeline.backup import BackupOptions
from photoark.client.session import Session
from photoark.client.settings import Settings
from photoark.optimize.devicefree import DeviceFreeUp, free_device

__all__ = ["import_command"]

SETTLE_TIMEOUT = 60.0
"""Seconds to wait for files a camera is still writing before leaving them for next time."""


def import_command(
    device: Annotated[
        str, typer.Argument(help="A device's id or label (see `photoark devices`), or a folder.")
    ],
    album: Annotated[
        str | None,
        typer.Option("--album", help="Album to import into (remembered for this device)."),
    ] = None,
    free_up: Annotated[
        bool, typer.Option("--free-up", help="Then delete from the device what is backed up.")
    ] = False,
    verify_download: VerifyDownloadOption = False,
    workers: Annotated[int, typer.Option(min=1, max=32, help="Parallel uploads.")] = 4,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Back up a card, camera or phone (its DCIM folder) into its album."""
    if verify_download and not free_up:
        raise typer.BadParameter("--verify-download goes with --free-up")
    freed: DeviceFreeUp | None = None
    with handle_errors(), Session.open(home_of(home)) as session:
        found = choose_device(device)
        settings = Settings(session.db)
        settler = Settler(float(settings.get("watch.settle_seconds")))
        awake = SleepInhibitor(enabled=bool(settings.get("upload.inhibit_sleep")))
        options = BackupOptions(workers=workers, inhibitor=awake)
        result = with_progress(
            json_output,
            lambda progress: import_device(
                session,
                found,
                album,
                options,
                progress,
                lambda paths: wait_until_settled(settler, paths, SETTLE_TIMEOUT),
                take_lock=True,
            ),
        )
        free_error: str | None = None
        if free_up and not (result.unplugged or result.report.aborted):
            try:
                freed = free_device(session, found, verify_download)
            except (ClientError, OSError) as err:  # the backup stands: say why nothing was freed
                free_error = str(err)
    if json_output:
        freeing = {"error": free_error} if free_error else freed.as_json() if freed else None
        emit_json(result.as_json() | {"free_up": freeing})
    else:
        _print(result, freed, free_up)
        if free_error:
            print_problem(
                f"nothing was deleted from {found.label}: {free_error}",
                "its photos are backed up; run the same import with --free-up again later",
                "free-up",
            )
    report = result.report
    if result.unplugged or report.aborted:
        raise typer.Exit(5)
    if report.failed:
        raise typer.Exit(6 if report.quota_exceeded else 2)


def _print(result: DeviceImport, freed: DeviceFreeUp | None, free_up: bool) -> None:
    d = result.device
    console.print(
        f"{d.label} ({d.kind}) into album {result.album!r}:", highlight=False, markup=False
    )
    print_report(result.report)
    if result.retried:
        console.print(
            f"{plural(len(result.retried), 'file')} changed during the import: backed up once"
            " they held still",
            highlight=False,
        )
    if result.still_changing:
        console.print(
            f"{plural(len(result.still_changing), 'file')} still being written: left for the"
            " next import",
            highlight=False,
        )
        listed([f"  {p!r}" for p in result.still_changing], console)
    if result.unplugged:
        print_problem(
            f"{d.label} went away during the import: what was not finished is not stored",
            "plug it in again and run the same import: only what is missing is sent",
            "unplugged",
        )
        if free_up:
            console.print("nothing was deleted from the device")
        return
    if freed is None:
        return
    kept = freed.plan.kept + (freed.result.kept if freed.result else [])
    for k in kept:
        console.print(f"kept {k.path!r}: {k.reason.text}", highlight=False, markup=False)
    if freed.result is not None:
        for f in freed.result.failed:
            if f["path"] not in freed.refused_paths:
                print_problem(f"not deleted {f['path']!r}: {f['error']}", "", "warning")
    if freed.refused:
        print_problem(freed.refused, "", "note")
    failed = len(result.report.failed)
    console.print(
        f"freed {plural(freed.bytes_freed, 'byte')} on {d.label}: "
        f"{plural(len(freed.result.deleted) if freed.result else 0, 'file')} deleted, "
        f"{plural(len(kept), 'file')} kept"
        + (f" (and the {plural(failed, 'file')} not backed up, listed below)" if failed else ""),
        highlight=False,
        markup=False,
    )
