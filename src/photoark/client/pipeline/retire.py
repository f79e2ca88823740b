"""Retiring previous versions: a local file changed, its new content is backed up, and the
file it used to be leaves the album.

The rule for an old version in album A:

- another local path in A still stands for it (a copy under another name) → it stays;
- another album still holds it → it is only removed from A;
- otherwise → it goes to the trash (recoverable until the trash expires), never deleted.

Retirements are queued durably with the commit that replaced them
(:class:`~photoark.client.state.pathversions.PathVersions`), so an interrupted run retires them on
the next one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from photoark.client.errors import ApiError, ServerUnreachable
from photoark.client.session import Session
from photoark.client.state.pathversions import PathVersions, Retirement

__all__ = ["RetireReport", "retire_previous_versions"]

log = logging.getLogger(__name__)


@dataclass
class RetireReport:
    trashed: int = 0
    removed_from_album: int = 0
    kept: int = 0


def retire_previous_versions(session: Session) -> RetireReport:
    """Retire every queued previous version (see the module docstring). An unreachable server
    leaves the rest queued and raises :class:`ServerUnreachable`."""
    versions = PathVersions(session.db)
    mirror = session.mirror
    report = RetireReport()
    pending = versions.pending_retirements()
    to_trash: list[Retirement] = []
    done: list[Retirement] = []
    for item in pending:
        albums = mirror.albums_of_file(item.file_id)
        if item.album_id not in albums or versions.paths_of(item.file_id, item.album_id):
            report.kept += 1  # already gone from the album, or still a local path's content
            done.append(item)
        elif albums - {item.album_id}:
            try:
                session.api.remove_from_collection(item.album_id, item.file_id)
            except ServerUnreachable:
                versions.retired(done)
                raise
            except ApiError as err:
                log.warning("could not remove old version %d: %s", item.file_id, err)
                continue
            with session.db.transaction() as conn:
                mirror.remove_entry(conn, item.album_id, item.file_id)
            report.removed_from_album += 1
            done.append(item)
        else:
            to_trash.append(item)
    if to_trash:
        try:
            records = session.api.trash_files([r.file_id for r in to_trash])
        except ServerUnreachable:
            versions.retired(done)
            raise
        except ApiError as err:
            log.warning("could not move old versions to the trash: %s", err)
            records = []
        if records:
            with session.db.transaction() as conn:
                for item in to_trash:
                    for album_id in mirror.albums_of_file(item.file_id):
                        mirror.remove_entry(conn, album_id, item.file_id)
            report.trashed += len(to_trash)
            done.extend(to_trash)
    versions.retired(done)
    return report
