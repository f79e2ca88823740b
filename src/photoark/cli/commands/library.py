"""``photoark sync``, ``ls``, ``usage``: read the library."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, emit_json, fail, handle_errors, plural
from photoark.client.library import sync as sync_mod
from photoark.client.session import Session

__all__ = ["ls", "sync", "usage"]


def sync(home: HomeOption = None, json_output: JsonOption = False) -> None:
    """Pull the remote library into the local mirror."""
    with handle_errors(), Session.open(home_of(home)) as session:
        result = sync_mod.pull(session)
    out = {
        "albums_changed": result.albums_changed,
        "entries_changed": result.entries_changed,
        "version": result.version,
        "broken": [{"album_id": a, "file_id": f, "error": e} for a, f, e in result.broken],
    }
    if json_output:
        emit_json(out)
        return
    console.print(
        f"synced to version {result.version}: {plural(result.albums_changed, 'album change')}"
        f" and {plural(result.entries_changed, 'entry change')}"
    )
    for _, _, error in result.broken:
        console.print(f"[red]integrity error:[/] {error}")


def ls(
    album: Annotated[str | None, typer.Argument(help="Album name (default: all).")] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """List files: id, album, name, size, when taken, type.

    With --json, each file's content hash too. `photoark delete` and `photoark add` take these
    names or ids."""
    rows: list[dict[str, Any]] = []
    with handle_errors(), Session.open(home_of(home)) as session:
        sync_mod.pull(session)
        all_albums = session.mirror.albums()
        chosen = [a for a in all_albums if album is None or a.name == album]
        if album is not None and not chosen:
            fail(f"no album named {album!r}", "list albums with `photoark albums`")
        for a in chosen:
            for f in session.mirror.files_in_album(a.id):
                rows.append(
                    {
                        "id": f.id,
                        "album": a.name,
                        "name": f.name,
                        "size": f.size,
                        "hash": f.hash,
                        "taken_at": f.taken_at,
                        "type": f.type,
                    }
                )
    if json_output:
        emit_json(rows)
        return
    table = Table("id", "album", "name", "size", "taken at", "type")
    for r in rows:
        table.add_row(
            str(r["id"]), r["album"], r["name"], f"{r['size']:,}", r["taken_at"] or "", r["type"]
        )
    console.print(table)


def usage(home: HomeOption = None, json_output: JsonOption = False) -> None:
    """Storage used on the server, counted once per unique file."""
    with handle_errors(), Session.open(home_of(home)) as session:
        u = session.api.usage()
    data = u.model_dump()
    if json_output:
        emit_json(data)
        return
    pct = 100 * (u.stored_bytes + u.trash_bytes) / u.quota_bytes if u.quota_bytes else 0.0
    console.print(
        f"{plural(u.files, 'file')}, {plural(u.stored_bytes, 'byte')} stored, "
        f"{u.trash_bytes:,} in trash, quota {u.quota_bytes:,} ({pct:.1f}% used); "
        f"the albums hold {plural(u.logical_bytes, 'byte')}, so duplicates saved "
        f"{max(0, u.logical_bytes - u.stored_bytes):,}"
    )
