"""Upload sessions this client home opened and then lost track of: found and aborted.

A run killed between opening a session (``POST /uploads``) and recording it in the upload queue
leaves a session on the server that no later run resumes, and that holds its whole size against
the quota until the server expires it. So every session this home opens carries an idempotency
key starting with the home's own tag (:func:`home_tag`, kept in the state DB; :func:`session_key`
makes the keys), and at the start of each backup run and of the daemon,
:func:`abort_orphan_uploads` lists the account's open sessions (``GET /uploads``) and aborts
those with this home's tag that the upload queue does not name.

Sessions of other devices (another tag, or no key: an older client) are never touched: they may
be uploading right now; the server expires them once left alone long enough, and an expired
session no longer counts towards the quota. The caller holds the home's lock
(:func:`~photoark.client.lock.exclusive`), so no run of this home is between opening a
session and recording it meanwhile.
"""

from __future__ import annotations

import logging
import os
import secrets

from photoark.client.api import ApiClient
from photoark.client.errors import ApiError
from photoark.client.state.db import StateDB
from photoark.client.state.queue import UploadQueue

__all__ = ["abort_orphan_uploads", "home_tag", "session_key"]

log = logging.getLogger(__name__)

_TAG_KEY = "upload_session_tag"  # state DB meta key


def home_tag(db: StateDB) -> str:
    """This home's tag (16 hex digits), made and saved the first time it is asked for."""
    tag = db.get_meta(_TAG_KEY)
    if tag is None:
        tag = secrets.token_hex(8)
        db.set_meta(_TAG_KEY, tag)
    return tag


def session_key(tag: str) -> str:
    """A fresh idempotency key for a session opened by the home with ``tag``."""
    return f"{tag}-{secrets.token_hex(16)}"


def abort_orphan_uploads(api: ApiClient, db: StateDB) -> list[str]:
    """Abort the open sessions this home opened and its upload queue does not name; return
    their ids.

    Best effort: a server that cannot list sessions (an older one) is logged and left alone,
    and a session committed or gone meanwhile is skipped; :class:`ServerUnreachable` is
    raised (the run that called this could not go on either).
    """
    prefix = home_tag(db) + "-"
    try:
        sessions = api.open_uploads()
    except ApiError as err:
        log.warning("could not list the open upload sessions: %s", err)
        return []
    queue = UploadQueue(db)
    known = set()
    for path in queue.paths():
        pending = queue.get(os.fsdecode(path))
        if pending is not None:
            known.add(pending.upload_id)
    aborted: list[str] = []
    for session in sessions:
        key = session.idempotency_key or ""
        if session.id in known or not key.startswith(prefix):
            continue
        try:
            api.abort_upload(session.id)
        except ApiError as err:
            if err.code not in ("not_found", "conflict"):  # gone, or committed meanwhile
                raise
            continue
        aborted.append(session.id)
    if aborted:
        log.info("aborted %d upload sessions a killed run left behind", len(aborted))
    return aborted
