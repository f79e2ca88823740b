"""Whether the library already holds a file's content, for one run: the decision of
:func:`.decide.decide` taken against the mirror, for the target album, under the run's profile
(``name+hash``: the file's name counts too). A file renamed or moved (its old path is gone) is
recognised as the same photo, so known content is never sent again.

The mirror is read once per decision: the live files with the content, whatever their name
(a first backup is all misses, decided on that one query); the ``name+hash`` match and the
moved-file check both take their files from it. The same decision as querying each on its
own, as a single read of the mirror at one moment."""

from __future__ import annotations

import os
from collections.abc import Sequence

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
        known = mirror.find_by_hash(content_hash)
        if not known:
            return Decision(Action.UPLOAD)
        name = display_name(path)["name"] if self._match == "name+hash" else None
        matches = known if name is None else [f for f in known if f.name == name]
        decision = decide(matches, mirror.albums_of_file, self._album_id)
        if decision.action is Action.UPLOAD and name is not None:
            moved = self._moved_here(known)
            if moved is not None:
                return decide([moved], mirror.albums_of_file, self._album_id)
        return decision

    def _moved_here(self, known: Sequence[LibraryFile]) -> LibraryFile | None:
        """Of the library files with this content (``known``), one whose local path is gone:
        the file was renamed or moved, not copied, so it is the same photo (known content is
        never sent again). Its old path stops standing for it."""
        for file in known:
            for old in self._versions.paths_of(file.id):
                if not os.path.lexists(old):
                    self._versions.forget_path(old)
                    return file
        return None
