"""Watched folders (``photoark watch add|ls|rm``) and the album each file goes to.

A watch is a folder, an album rule and a duplicate profile:

- default: one album for the whole folder, named after it;
- ``--album NAME``: one album of that name;
- ``--album-per-folder``: one album per sub-folder, named by its path relative to the watched
  folder (``Trips/Rome``); files directly in the watched folder go to the folder's own name.

Removing a watch stops backing it up and deletes nothing, locally or on the server.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Literal

from photoark.client.errors import WatchError
from photoark.client.state.db import StateDB

__all__ = ["MatchProfile", "Watch", "WatchError", "WatchList"]

# How a backup recognises a file it already has (see photoark.client.pipeline.decide): the
# same content under the same name (folders), or the same content whatever the name (phones).
MatchProfile = Literal["name+hash", "hash"]


@dataclass(frozen=True)
class Watch:
    path: str  # absolute, no trailing slash
    album: str | None  # a fixed album name, or None: named after the folder (or sub-folder)
    per_folder: bool
    match: MatchProfile

    @property
    def folder_name(self) -> str:
        return os.path.basename(self.path) or self.path

    def album_for(self, file_path: str) -> str:
        """The album a file under this watch belongs to."""
        if not self.per_folder:
            return self.album or self.folder_name
        parent = os.path.relpath(os.path.dirname(file_path), self.path)
        if parent in (".", ""):
            return self.album or self.folder_name
        return parent.replace(os.sep, "/")

    def covers(self, file_path: str) -> bool:
        return file_path == self.path or file_path.startswith(self.path.rstrip("/") + "/")

    def as_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "album": self.album,
            "album_per_folder": self.per_folder,
            "match": self.match,
        }


class WatchList:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def add(
        self,
        path: str,
        album: str | None = None,
        per_folder: bool = False,
        match: MatchProfile = "name+hash",
        home: str | None = None,
    ) -> Watch:
        """Add a watch; ``home`` (this client's state directory) must not be inside it."""
        folder = os.path.realpath(path)
        if not os.path.isdir(folder):
            raise WatchError(f"{path} is not a folder")
        if home is not None and Watch(folder, None, False, match).covers(os.path.realpath(home)):
            raise WatchError(
                f"{folder} holds this client's state ({home}); watch a folder of photos, or "
                "give the client another --home"
            )
        for other in self.list():
            if other.path == folder:
                raise WatchError(f"{folder} is already watched")
            if other.covers(folder) or Watch(folder, None, False, match).covers(other.path):
                raise WatchError(
                    f"{folder} overlaps the watched folder {other.path}; a file would belong "
                    "to two watches"
                )
        watch = Watch(folder, album, per_folder, match)
        self._db.execute(
            "INSERT INTO watches (path, album, per_folder, match, added_at) VALUES (?, ?, ?, ?, ?)",
            (os.fsencode(folder), album, int(per_folder), match, time.time()),
        )
        return watch

    def remove(self, path: str) -> Watch:
        folder = os.path.realpath(path)
        for watch in self.list():
            if watch.path in (folder, os.path.abspath(path)):
                self._db.execute("DELETE FROM watches WHERE path = ?", (os.fsencode(watch.path),))
                return watch
        raise WatchError(f"{path} is not watched")

    def list(self) -> list[Watch]:
        rows = self._db.query("SELECT path, album, per_folder, match FROM watches ORDER BY path")
        return [
            Watch(
                os.fsdecode(bytes(r["path"])),
                r["album"],
                bool(r["per_folder"]),
                r["match"],
            )
            for r in rows
        ]

    def owner_of(self, file_path: str) -> Watch | None:
        for watch in self.list():
            if watch.covers(file_path):
                return watch
        return None
