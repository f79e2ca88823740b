"""``photoark watch add|ls|rm``: the folders the daemon backs up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of, state_of
from photoark.cli.output import console, emit_json, handle_errors, plural
from photoark.client.daemon.reupload import reupload
from photoark.client.session import Session
from photoark.client.state.watches import WatchList

__all__ = ["watch_app"]

watch_app = typer.Typer(help="Folders backed up automatically by the daemon.", no_args_is_help=True)


@watch_app.command("add")
def add(
    path: Annotated[Path, typer.Argument(help="Folder to watch (recursively).")],
    album: Annotated[
        str | None, typer.Option("--album", help="One album of this name for the whole folder.")
    ] = None,
    per_folder: Annotated[
        bool,
        typer.Option(
            "--album-per-folder", help="One album per sub-folder, named by its relative path."
        ),
    ] = False,
    match: Annotated[
        str, typer.Option(help="Duplicate rule: name+hash (default) or hash.")
    ] = "name+hash",
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Watch a folder: new and changed photos in it are backed up by `photoark daemon`."""
    if match not in ("name+hash", "hash"):
        raise typer.BadParameter("--match must be name+hash or hash")
    with handle_errors(), state_of(home) as db:
        watch = WatchList(db).add(
            str(path),
            album,
            per_folder,
            match,  # type: ignore[arg-type]
            home=str(home_of(home).root),
        )
    if json_output:
        emit_json(watch.as_json())
        return
    rule = (
        "one album per sub-folder"
        if per_folder
        else f"album {watch.album_for(watch.path + '/x')!r}"
    )
    console.print(f"watching {watch.path} ({rule}); `photoark daemon` backs it up", highlight=False)


@watch_app.command("ls")
def ls(home: HomeOption = None, json_output: JsonOption = False) -> None:
    """List the watched folders."""
    with handle_errors(), state_of(home) as db:
        listed = WatchList(db).list()
    if json_output:
        emit_json([w.as_json() for w in listed])
        return
    if not listed:
        console.print("no watched folders; add one with `photoark watch add PATH`")
    for w in listed:
        rule = "album per sub-folder" if w.per_folder else f"album {w.album_for(w.path + '/x')!r}"
        console.print(f"{w.path}  ({rule}, match {w.match})", highlight=False)


@watch_app.command("rm")
def rm(
    path: Annotated[Path, typer.Argument(help="A watched folder.")],
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Stop watching a folder. Nothing is deleted, locally or from the backup."""
    with handle_errors(), state_of(home) as db:
        watch = WatchList(db).remove(str(path))
    if json_output:
        emit_json({"removed": watch.as_json()})
    else:
        console.print(
            f"no longer watching {watch.path}; its photos stay in the backup", highlight=False
        )


@watch_app.command("reupload")
def reupload_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders.")],
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Back up again files whose photos you deleted from the backup (they are skipped
    otherwise, so a cleanup is never undone behind your back)."""
    with handle_errors(), Session.open(home_of(home)) as session:
        lifted = reupload(session, [str(p) for p in paths])
    if json_output:
        emit_json({"queued": lifted})
    elif not lifted:
        console.print("none of these files was deleted from the backup")
    else:
        console.print(
            f"{plural(len(lifted), 'file')} will be backed up again by the daemon "
            "(or now, with `photoark backup`)"
        )
