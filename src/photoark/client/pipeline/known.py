"""Whether the library already holds a file's content, for one run: the decision of
:func:`.decide.decide` taken against the mirror, for the target album, under the run's profile
(``name+hash``: the file's name counts too). A file renamed or moved (its old path is gone) is
recognised as the same photo, so known content is never sent again."""

from __future__ import annotations

import os

from photoark.client.library.records import display_name
from photoark.client.pipeline.decide import Action, Decision, MatchProfile, decide
from photoark.client.state.mirror import LibraryFile, Mirror
from photoark.client.state.pathversions import PathVersions

__all__ = ["KnownContent"]


class KnownContent:
    def __init__(
        self, mirror: Mirror, versions: PathVersions, album_id: int, match: MatchProfile
    ) -> None:
        self._mirror = mirror
        self._versions = versions
        self._album_id = album_id
        self._match = match

    def decide(self, content_hash: str, path: str) -> Decision:
        """The dedup decision for content at ``path`` (its name counts under ``name+hash``),
        against the mirror and the target album."""
        mirror = self._mirror
        name = display_name(path)["name"] if self._match == "name+hash" else None
        decision = decide(
            mirror.find_by_hash(content_hash, name), mirror.albums_of_file, self._album_id
        )
        if decision.action is Action.UPLOAD and name is not None:
            moved = self._moved_here(content_hash)
            if moved is not None:
                return decide([moved], mirror.albums_of_file, self._album_id)
        return decision

    def _moved_here(self, content_hash: str) -> LibraryFile | None:
        """A library file with this content whose local path is gone: the file was renamed or
        moved, not copied, so it is the same photo (known content is never sent again). Its
        old path stops standing for it."""
        for known in self._mirror.find_by_hash(content_hash):
            for old in self._versions.paths_of(known.id):
                if not os.path.lexists(old):
                    self._versions.forget_path(old)
                    return known
        return None
