"""What the client learns about a file before upload: its format (by content), its metadata
and its thumbnail, as the JSON object that is sealed with the file key.

Media problems never stop a backup: a file whose metadata or thumbnail cannot be read is still
backed up, byte for byte, with what could be read and the warnings.

Where the file sat under the folder that was backed up travels with it (``relative_path``, see
:class:`Layout`), so export can rebuild the folders.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from photoark.client.library.records import display_name
from photoark.media import MediaFormat, extract_metadata
from photoark.protocol.metadata import FileMetadata, clean_relative_path

__all__ = ["Description", "Layout", "describe", "thumbnail_of"]

log = logging.getLogger(__name__)


@dataclass
class Description:
    metadata: FileMetadata  # no header yet: known once encryption begins
    thumbnail: bytes | None
    warnings: list[str] = field(default_factory=list)


class Layout:
    """Where a file sits under the folders that were backed up: its path relative to the
    deepest of ``bases`` that holds it, ``/``-separated (a file under none of them, or given
    itself as a base: its name alone). ``None`` when that path breaks the metadata's rules
    (a backslash in a name, say): the file then exports under its name alone."""

    def __init__(self, bases: Iterable[str]) -> None:
        folders = {os.path.abspath(b) for b in bases}
        self._prefixes = sorted((f.rstrip(os.sep) + os.sep for f in folders), key=len)[::-1]

    def relative_path(self, path: str) -> str | None:
        path = os.path.abspath(path)
        relative = os.path.basename(path)
        for prefix in self._prefixes:
            if path.startswith(prefix):
                relative = path[len(prefix) :]
                break
        if os.sep != "/":
            relative = relative.replace(os.sep, "/")
        # a name that is not UTF-8 is spelled as display_name spells it (the exact bytes of the
        # file's own name are in name_bytes; export takes the name from there)
        relative = os.fsencode(relative).decode("utf-8", "replace")
        return clean_relative_path(relative)


def describe(
    path: str,
    st: os.stat_result,
    fmt: MediaFormat,
    content_hash: str,
    thumbnail: bool = True,
    relative_path: str | None = None,
    data: bytes | None = None,
) -> Description:
    """Metadata (and, unless ``thumbnail`` is false, the thumbnail) of a file about to be
    backed up. A backup leaves thumbnails for after the originals (:mod:`.thumbnailer`).
    ``relative_path``: where the file sits under the folder backed up (:class:`Layout`).
    ``data``: the file's whole content, when the caller read it already (a small file): the
    metadata is parsed from it rather than from the file opened twice more, with the same
    result (:func:`~photoark.media.extract_metadata`)."""
    warnings: list[str] = []
    media: dict[str, Any] = {}
    try:
        extracted = extract_metadata(path, fmt, data)
        media = dict(extracted.to_json())
        warnings.extend(extracted.warnings)
    except Exception as err:  # media parsers must never stop a backup
        warnings.append(f"metadata unreadable: {err}")
        log.warning("metadata of %s unreadable: %s", path, err)
    media.pop("warnings", None)
    thumb: bytes | None = None
    if thumbnail:
        thumb, error = thumbnail_of(path, fmt)
        if error:
            warnings.append(f"no thumbnail: {error}")
    metadata = FileMetadata.model_validate(
        {
            **media,
            **display_name(path),
            "hash": content_hash,
            "size": st.st_size,
            "type": fmt.kind,
            "format": fmt.name,
            "mime": fmt.mime,
            "mtime_ns": st.st_mtime_ns,
            **({} if relative_path is None else {"relative_path": relative_path}),
        }
    )
    return Description(metadata, thumb, warnings)


def thumbnail_of(path: str, fmt: MediaFormat) -> tuple[bytes | None, str | None]:
    """The thumbnail's bytes, or ``None`` and why; never raises for the file's content."""
    from photoark.media import render_thumbnail  # here: loads Pillow, which a re-run never needs

    try:
        result = render_thumbnail(path, fmt)
    except Exception as err:  # a decoder crash must not stop the backup of the original
        log.warning("thumbnail of %s failed: %s", path, err)
        return None, str(err)
    return result.data, result.error
