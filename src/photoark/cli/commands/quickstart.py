"""``photoark quickstart PATH...``: a local server, a local account, a first backup."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from photoark.cli.commands.backup import print_report, run_backup
from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, emit_json, handle_errors
from photoark.client.local.setup import set_up_local
from photoark.client.pipeline.backup import BackupOptions
from photoark.client.session import Session

__all__ = ["quickstart"]


def quickstart(
    paths: Annotated[
        list[Path],
        # checked before anything is made: a typo creates no home, server or account
        typer.Argument(help="Folders to back up.", exists=True, readable=True),
    ],
    album: Annotated[
        str | None, typer.Option(help="Album name (default: the folder's name).")
    ] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Start a local server if none is configured, create a local account, back up PATH."""
    client_home = home_of(home).ensure()
    with handle_errors():
        local = set_up_local(client_home)
        server, credentials = local.server, local.credentials
        album_name = album or paths[0].expanduser().resolve().name or "Backup"
        with Session.open(client_home) as session:
            report = run_backup(session, paths, album_name, BackupOptions(), json_output)
            server_url = session.account.server
    where = {
        "server": server_url,
        "server_data": str(server.data_dir) if server else None,
        "server_log": str(server.log) if server else None,
        "server_pid": server.pid if server else None,
        "client_home": str(client_home.root),
        "credentials": str(credentials) if credentials else None,
        "album": album_name,
        "backup": report.as_json(),
    }
    if json_output:
        emit_json(where)
        return
    print_report(report)
    console.print(f"\nAlbum [bold]{album_name}[/] on {server_url}")
    if server:
        pid = f", pid {server.pid}" if server.pid else ""
        console.print(f"Server data:   {server.data_dir}  (log: {server.log}{pid})")
    console.print(f"Client state:  {client_home.root}")
    if credentials:
        console.print(f"Account:       {credentials}  (password and recovery key; keep it safe)")
    console.print("Restore with:  photoark export DEST")
    if server:
        console.print(
            "The server:    photoark local status; after a reboot, photoark local start "
            "(or at every login: photoark local start --install-user-service)",
            highlight=False,
            markup=False,
        )
    console.print(
        "Keep it backed up automatically: photoark watch add "
        + " ".join(shlex.quote(str(p)) for p in paths)
        + " && photoark daemon --install-user-service",
        highlight=False,
        markup=False,
    )
