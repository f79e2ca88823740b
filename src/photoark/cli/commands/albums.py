"""``photoark albums [create|rename|delete]`` and ``photoark add ALBUM FILE...``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, emit_json, handle_errors, plural
from photoark.client.library import sync as sync_mod
from photoark.client.library.organize import add_to_album, create_album, delete_album, rename_album
from photoark.client.session import Session

__all__ = ["add_command", "albums_app"]

albums_app = typer.Typer(
    help="List albums (no subcommand), or create, rename, delete one.",
    invoke_without_command=True,
)


@albums_app.callback()
def albums(ctx: typer.Context, home: HomeOption = None, json_output: JsonOption = False) -> None:
    """List albums."""
    if ctx.invoked_subcommand is not None:
        return
    with handle_errors(), Session.open(home_of(home)) as session:
        sync_mod.pull(session)
        counts = session.mirror.album_file_counts()
        rows = [
            {"id": a.id, "name": a.name, "files": counts.get(a.id, 0)}
            for a in session.mirror.albums()
        ]
    if json_output:
        emit_json(rows)
        return
    table = Table("id", "name", "files")
    for r in rows:
        table.add_row(str(r["id"]), str(r["name"]), str(r["files"]))
    console.print(table)


@albums_app.command("create")
def create(
    name: Annotated[str, typer.Argument()], home: HomeOption = None, json_output: JsonOption = False
) -> None:
    """Create an empty album."""
    with handle_errors(), Session.open(home_of(home)) as session:
        album = create_album(session, name)
    if json_output:
        emit_json({"id": album.id, "name": album.name})
    else:
        console.print(f"created album {album.name!r}", highlight=False)


@albums_app.command("rename")
def rename(
    old: Annotated[str, typer.Argument()],
    new: Annotated[str, typer.Argument()],
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Rename an album (its new name is encrypted like the old one)."""
    with handle_errors(), Session.open(home_of(home)) as session:
        album = rename_album(session, old, new)
    if json_output:
        emit_json({"id": album.id, "name": album.name})
    else:
        console.print(f"renamed {old!r} to {album.name!r}", highlight=False)


@albums_app.command("delete")
def delete(
    name: Annotated[str, typer.Argument()],
    with_photos: Annotated[
        bool,
        typer.Option("--with-photos", help="Move its photos that are in no other album to trash."),
    ] = False,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Delete an album. Photos also in other albums stay there; the others go to
    Uncategorized (or, with --with-photos, to the trash)."""
    with handle_errors(), Session.open(home_of(home)) as session:
        done = delete_album(session, name, with_photos)
    if json_output:
        emit_json(
            {
                "deleted": done.name,
                "kept_in_other_albums": done.kept_elsewhere,
                "moved_to_uncategorized": done.moved,
                "trashed": done.trashed,
            }
        )
        return
    console.print(
        f"deleted album {done.name!r}: {plural(done.kept_elsewhere, 'photo')} "
        f"{'stays' if done.kept_elsewhere == 1 else 'stay'} in other albums, "
        + (
            f"{done.trashed} moved to the trash"
            if with_photos
            else f"{done.moved} moved to Uncategorized"
        ),
        highlight=False,
    )


def add_command(
    album: Annotated[str, typer.Argument(help="The album (created if missing).")],
    files: Annotated[list[str], typer.Argument(help="File ids or names from `photoark ls`.")],
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Add files already in your library to an album: no bytes move, storage is unchanged."""
    with handle_errors(), Session.open(home_of(home)) as session:
        added = add_to_album(session, album, files)
    if json_output:
        emit_json({"album": album, "files": [f.id for f in added]})
    else:
        console.print(
            f"{plural(len(added), 'file')} {'is' if len(added) == 1 else 'are'} in {album!r}",
            highlight=False,
        )
