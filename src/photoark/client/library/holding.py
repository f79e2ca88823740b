"""Which library file holds a given content: the one question both free-up (may this local
file go?) and ``photoark devices`` (is this card's photo backed up?) ask of the mirror."""

from __future__ import annotations

from photoark.client.state.mirror import LibraryFile, Mirror

__all__ = ["LibraryContents"]


class LibraryContents:
    """The mirror's live files by hash, and Live Photo parts by hash (a Live Photo's still and
    video are each held by their live item, whose ``parts`` record each part's hash). Files
    only in the trash hold nothing. Read at construction: make one per decision pass."""

    def __init__(self, mirror: Mirror) -> None:
        self._mirror = mirror
        self._parts: dict[str, LibraryFile] = {}
        for f in mirror.files_of_type("live"):
            for part_hash in f.metadata.part_hashes():
                self._parts.setdefault(part_hash, f)

    def holding(self, content_hash: str) -> LibraryFile | None:
        """A live library file holding this content (alone, or as a Live Photo part)."""
        found = self._mirror.find_by_hash(content_hash)
        if found:
            return found[0]
        return self._parts.get(content_hash)
