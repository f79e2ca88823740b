"""The duplicate decision at upload: a pure function of what the mirror holds.

Profiles (``--match``):

- ``name+hash`` (default for folders): a file is known when the library holds the same content
  under the same filename; the same content under another name is the user's second copy.
- ``hash`` (device-library profile): the same content, whatever the name.

Known and already in the target album → skip. Known only in other albums → add to the target
album by reference (no bytes sent). Unknown → upload.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from photoark.client.state.mirror import LibraryFile
from photoark.client.state.watches import MatchProfile

__all__ = ["Action", "Decision", "MatchProfile", "decide"]


class Action(Enum):
    SKIP = "skip"
    ADD = "add"
    UPLOAD = "upload"


@dataclass(frozen=True)
class Decision:
    action: Action
    file: LibraryFile | None = None


def decide(
    matches: Sequence[LibraryFile],
    albums_of: Callable[[int], set[int]],
    target_album: int,
) -> Decision:
    """``matches``: live library files that match under the profile, oldest first."""
    if not matches:
        return Decision(Action.UPLOAD)
    for f in matches:
        if target_album in albums_of(f.id):
            return Decision(Action.SKIP, f)
    return Decision(Action.ADD, matches[0])
