"""The status screen's service: the daemon's report (as ``photoark status``), the account's
usage (stored, trash, quota) with the largest files, and the watched folders to add or remove
(as ``photoark watch``)."""

from __future__ import annotations

from typing import Any

from photoark.client.errors import ClientError
from photoark.client.state.watches import WatchList
from photoark.client.status import status_report
from photoark.web.context import WebContext

__all__ = ["add_watch", "remove_watch", "status"]

_PAUSES = {
    "metered": "on a metered network (set upload.on_metered to allow)",
    "battery": "on battery below the limit (set upload.min_battery to 0 to allow)",
    "offline": "the server is unreachable; retrying by itself",
}


def status(ctx: WebContext) -> dict[str, Any]:
    session = ctx.session
    report = status_report(session.db)
    paused = report["daemon"]["paused"]
    report["daemon"]["paused_text"] = _PAUSES.get(paused, paused) if paused else None
    try:
        report["usage"] = session.api.usage().model_dump()
    except ClientError as err:
        report["usage"] = None
        report["usage_error"] = str(err)
    report["largest"] = [
        {"id": f.id, "name": f.name, "size": f.size, "type": f.type}
        for f in session.mirror.largest_files(10)
    ]
    return report


def add_watch(ctx: WebContext, path: str, album: str | None) -> dict[str, Any]:
    if not path.strip():
        raise ClientError("give the folder to watch")
    watch = WatchList(ctx.session.db).add(
        path.strip(), album or None, home=str(ctx.session.home.root)
    )
    return watch.as_json()


def remove_watch(ctx: WebContext, path: str) -> dict[str, Any]:
    return WatchList(ctx.session.db).remove(path).as_json()
