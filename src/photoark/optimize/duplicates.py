"""Exact duplicates in the library: distinct files with the same content hash.

They arise from copies under other names (the ``name+hash`` profile uploads those as the user's
second copy), from other devices and from older uploads. Nothing here reads a photo: the
mirror's hashes say it all, in one grouped query (memory proportional to the duplicates).

- **Plan** (:func:`find_duplicates`): per group, the copy to keep — the one in the most albums,
  then the one under the original's name rather than a copy's (``IMG_1.JPG``, not
  ``IMG_1 copy.JPG``: :func:`~.keeper.copy_marks`), then the oldest upload — and the others to
  remove. A Live Photo groups by its combined hash.
- **Review**: the plan prints as JSON; the user may edit it and pass it back
  (:func:`plan_from_json`), which is checked against the library: a group may only name live
  files of one same content, so an edited plan can never remove the last copy of a photo.
- **Apply** (:func:`apply_plan`): first the kept copy is added to every album that held any
  copy (by reference: no bytes), then the others go to the trash. Every album still shows the
  photo; the space comes back when the trash empties (or expires).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from photoark.client.errors import InvalidDedupPlan
from photoark.client.session import Session
from photoark.client.state.mirror import Mirror
from photoark.optimize.keeper import copy_marks
from photoark.optimize.reasons import KeepRule
from photoark.optimize.removal import CleanupResult, Removal, add_then_trash

__all__ = [
    "Copy",
    "DuplicateGroup",
    "InvalidDedupPlan",
    "KeepRule",
    "apply_plan",
    "extra_copies",
    "find_duplicates",
    "plan_from_json",
    "plan_json",
]


@dataclass(frozen=True)
class Copy:
    id: int
    name: str
    stored: int  # encrypted content + thumbnail: what removing it frees
    created_at: float
    albums: tuple[int, ...]


@dataclass(frozen=True)
class DuplicateGroup:
    hash: str
    size: int
    keep: Copy
    remove: tuple[Copy, ...]

    @property
    def albums(self) -> tuple[int, ...]:
        """Every album holding a copy: after apply, each holds the kept one."""
        return tuple(sorted({a for c in (self.keep, *self.remove) for a in c.albums}))

    @property
    def bytes_freed(self) -> int:
        return sum(c.stored for c in self.remove)


def keep_first(copies: Sequence[Copy]) -> list[Copy]:
    """The default keep rule (:attr:`KeepRule.MOST_ALBUMS_THEN_NAME_THEN_OLDEST`), best first:
    the most albums, then the original's name over a copy's, then the oldest upload (the order
    of :func:`~.keeper.keeper_order`, whose content criteria all tie between exact copies)."""
    return sorted(copies, key=lambda c: (-len(c.albums), copy_marks(c.name), c.created_at, c.id))


def _copies(mirror: Mirror) -> dict[str, tuple[int, list[Copy]]]:
    groups: dict[str, tuple[int, list[Copy]]] = {}
    for row in mirror.duplicate_copies():
        albums = tuple(sorted(int(a) for a in str(row["albums"] or "").split(",") if a))
        copy = Copy(row["id"], row["name"], row["stored"], row["created_at"], albums)
        groups.setdefault(row["hash"], (row["size"], []))[1].append(copy)
    return groups


def find_duplicates(mirror: Mirror) -> list[DuplicateGroup]:
    """Every group of live files with one content, with the default keep rule applied."""
    out = []
    for content_hash, (size, copies) in _copies(mirror).items():
        keep, *remove = keep_first(copies)
        out.append(DuplicateGroup(content_hash, size, keep, tuple(remove)))
    return out


def extra_copies(mirror: Mirror) -> set[int]:
    """The files dedup would remove: every copy of a content but the one it keeps (the
    similar-photo scan leaves them out, so a copy is never offered as a similar photo)."""
    return {c.id for group in find_duplicates(mirror) for c in group.remove}


def plan_json(groups: Sequence[DuplicateGroup], mirror: Mirror) -> dict[str, Any]:
    names = {a.id: a.name for a in mirror.albums()}
    return {
        "groups": [
            {
                "hash": g.hash,
                "size": g.size,
                "keep": g.keep.id,
                "remove": [c.id for c in g.remove],
                "albums": [names.get(a, str(a)) for a in g.albums],
                "files": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "albums": [names.get(a, str(a)) for a in c.albums],
                        "uploaded_at": c.created_at,
                    }
                    for c in (g.keep, *g.remove)
                ],
                "why": KeepRule.MOST_ALBUMS_THEN_NAME_THEN_OLDEST.value,
            }
            for g in groups
        ],
        "bytes_freed": sum(g.bytes_freed for g in groups),
    }


def plan_from_json(document: Any, mirror: Mirror) -> list[DuplicateGroup]:
    """Groups from a (possibly edited) plan, checked against the library as it is now: each
    group names live files of one content; ``keep`` is one of them; none appears twice."""
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise InvalidDedupPlan('a plan is a JSON object with a "groups" list')
    library = _copies(mirror)
    copies = {c.id: (h, c) for h, (_, cs) in library.items() for c in cs}
    sizes = {h: size for h, (size, _) in library.items()}
    seen: set[int] = set()
    out: list[DuplicateGroup] = []
    for n, group in enumerate(document["groups"], 1):
        try:
            keep_id = int(group["keep"])
            remove_ids = [int(i) for i in group.get("remove", [])]
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidDedupPlan(
                f"group {n}: needs an integer keep and a list of remove ids"
            ) from err
        ids = [keep_id, *remove_ids]
        if len(set(ids)) != len(ids) or seen & set(ids):
            raise InvalidDedupPlan(f"group {n}: a file appears twice in the plan")
        seen.update(ids)
        missing = [i for i in ids if i not in copies]
        if missing:
            raise InvalidDedupPlan(
                f"group {n}: file(s) {missing} are not live duplicates in the library (any more)"
            )
        hashes = {copies[i][0] for i in ids}
        if len(hashes) != 1:
            raise InvalidDedupPlan(f"group {n}: its files do not have the same content")
        if remove_ids:
            content_hash = hashes.pop()
            out.append(
                DuplicateGroup(
                    content_hash,
                    sizes[content_hash],
                    copies[keep_id][1],
                    tuple(copies[i][1] for i in remove_ids),
                )
            )
    return out


def apply_plan(session: Session, groups: Sequence[DuplicateGroup]) -> CleanupResult:
    """Add each kept copy to every album that held a copy, then trash the other copies (see
    :mod:`.removal`)."""
    return add_then_trash(
        session,
        [
            Removal(
                adds=tuple((a, g.keep.id) for a in g.albums if a not in g.keep.albums),
                trash=tuple(c.id for c in g.remove),
                hashes=(g.hash,) if g.remove else (),
                bytes=g.bytes_freed,
            )
            for g in groups
        ],
    )
