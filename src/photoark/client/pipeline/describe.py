"""What the client learns about a file before upload: its format (by content), its metadata
and its thumbnail, as the JSON object that is sealed with the file key.

Media problems never stop a backup: a file whose metadata or thumbnail cannot be read is still
backed up, byte for byte, with what could be read and the warnings.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from photoark.client.library.records import display_name
from photoark.media import MediaFormat, extract_metadata
from photoark.protocol.metadata import FileMetadata

__all__ = ["Description", "describe", "thumbnail_of"]

log = logging.getLogger(__name__)


@dataclass
class Description:
    metadata: FileMetadata  # no header yet: known once encryption begins
    thumbnail: bytes | None
    warnings: list[str] = field(default_factory=list)


def describe(
    path: str, st: os.stat_result, fmt: MediaFormat, content_hash: str, thumbnail: bool = True
) -> Description:
    """Metadata (and, unless ``thumbnail`` is false, the thumbnail) of a file about to be
    backed up. A backup leaves thumbnails for after the originals (:mod:`.thumbnailer`)."""
    warnings: list[str] = []
    media: dict[str, Any] = {}
    try:
        extracted = extract_metadata(path, fmt)
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
