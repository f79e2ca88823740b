"""``photoark trash ls|restore|delete|empty``, ``photoark rm ALBUM FILE...`` and
``photoark delete FILE...``."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, emit_json, handle_errors, plural
from photoark.client.library import sync
from photoark.client.library.albums import album_named, files_in_album_by_ref
from photoark.client.library.organize import library_files_by_ref
from photoark.client.library.trash import (
    UNCATEGORIZED,
    delete_files,
    delete_forever,
    empty_trash,
    list_trash,
    remove_from_album,
    restore_files,
)
from photoark.client.session import Session

__all__ = ["delete_command", "rm_command", "trash_app"]

trash_app = typer.Typer(help="Files deleted from the backup, kept 30 days.", no_args_is_help=True)

Ids = Annotated[
    list[int], typer.Argument(help="Ids of files in the trash (see `photoark trash ls`).")
]


@trash_app.command("ls")
def ls(home: HomeOption = None, json_output: JsonOption = False) -> None:
    """List the trash: what was deleted, from which albums, and when it goes for good."""
    with handle_errors(), Session.open(home_of(home)) as session:
        items = list_trash(session)
    if json_output:
        emit_json([t.as_json() for t in items])
        return
    if not items:
        console.print("the trash is empty")
    for t in items:
        days = max(0.0, (t.expires_at - time.time()) / 86400)
        albums = ", ".join(t.albums) or "no album"
        console.print(
            f"#{t.id} {t.name!r} (from {albums}), {plural(t.stored, 'byte')}, deleted for good in "
            f"{days:.1f} days",
            highlight=False,
        )


@trash_app.command("restore")
def restore(
    ids: Ids,
    album: Annotated[str | None, typer.Option("--album", help="Also put them here.")] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Bring files back from the trash into their albums (or --album)."""
    with handle_errors(), Session.open(home_of(home)) as session:
        restored = restore_files(session, ids, album)
    if json_output:
        emit_json({"restored": [t.as_json() for t in restored]})
        return
    for t in restored:
        where = ", ".join([*t.albums, *([album] if album else [])]) or UNCATEGORIZED
        console.print(f"restored #{t.id} {t.name!r} into {where}", highlight=False)


@trash_app.command("delete")
def delete_for_good(ids: Ids, home: HomeOption = None, json_output: JsonOption = False) -> None:
    """Delete files in the trash for good (their space comes back now)."""
    with handle_errors(), Session.open(home_of(home)) as session:
        done = delete_forever(session, ids)
    if json_output:
        emit_json({"deleted": done.deleted, "bytes": done.bytes})
    else:
        console.print(
            f"deleted {plural(done.deleted, 'file')} for good, {plural(done.bytes, 'byte')} freed"
        )


@trash_app.command("empty")
def empty(home: HomeOption = None, json_output: JsonOption = False) -> None:
    """Delete everything in the trash for good."""
    with handle_errors(), Session.open(home_of(home)) as session:
        done = empty_trash(session)
    if json_output:
        emit_json({"deleted": done.deleted, "bytes": done.bytes})
    else:
        console.print(
            f"emptied the trash: {plural(done.deleted, 'file')}, {plural(done.bytes, 'byte')} freed"
        )


def rm_command(
    album: Annotated[str, typer.Argument(help="The album.")],
    files: Annotated[list[str], typer.Argument(help="File names or ids in that album.")],
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Remove files from one album. They stay in your other albums; a file in no other album
    goes to Uncategorized (never to the trash: use `photoark delete` for that)."""
    with handle_errors(), Session.open(home_of(home)) as session:
        sync.pull(session)
        target = album_named(session, album)
        chosen = files_in_album_by_ref(session, target, files)
        remove_from_album(session, target, chosen)
    if json_output:
        emit_json({"removed": [f.id for f in chosen], "album": album})
    else:
        console.print(f"removed {plural(len(chosen), 'file')} from {album!r}", highlight=False)


def delete_command(
    files: Annotated[
        list[str],
        typer.Argument(
            help="File names or ids, as `photoark ls` shows them (a name that several files"
            " share is refused with their ids: give the id).",
        ),
    ],
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Move files to the trash (out of every album); restorable for 30 days.

    Name them as `photoark ls` lists them, by name or id; `photoark trash ls` lists the trash
    and `photoark trash restore` brings them back."""
    with handle_errors(), Session.open(home_of(home)) as session:
        sync.pull(session)
        chosen = library_files_by_ref(session, files)
        n = delete_files(session, [f.id for f in chosen])
    if json_output:
        emit_json({"trashed": [f.id for f in chosen]})
    else:
        console.print(
            f"moved {plural(n, 'file')} to the trash (`photoark trash restore` brings them back)"
        )
