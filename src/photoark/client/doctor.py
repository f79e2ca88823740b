"""``photoark doctor``: checks why backups may not be running, each with what to do about it.

Every check returns a :class:`Finding` (``ok``, ``warn`` or ``fail``, what was seen, the fix).
Checks never raise: a check that cannot run says so as its finding. The inotify check matters
most on large photo trees: past ``fs.inotify.max_user_watches`` directories, new photos go
unnoticed until the daemon's periodic rescan (a common silent failure of folder watchers).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import photoark
from photoark.client.api import ApiClient
from photoark.client.daemon.policy import Probe, UploadPolicy, pause_reason
from photoark.client.errors import AuthFailed, ClientError
from photoark.client.home import ClientHome
from photoark.client.settings import Settings
from photoark.client.state.account import AccountStore
from photoark.client.state.daemonstate import StatusBoard
from photoark.client.state.db import StateDB
from photoark.client.state.watches import WatchList
from photoark.client.status import daemon_running
from photoark.client.transport import RetryPolicy

__all__ = ["Finding", "run_checks"]

INOTIFY_LIMIT = Path("/proc/sys/fs/inotify/max_user_watches")
MIN_FREE_BYTES = 1 << 30
MAX_SKEW_SECONDS = 60.0


@dataclass(frozen=True)
class Finding:
    check: str
    level: str  # ok | warn | fail
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "level": self.level, "detail": self.detail, "fix": self.fix}


def _server(db: StateDB) -> list[Finding]:
    account = AccountStore(db).load()
    if account is None:
        return [
            Finding(
                "login",
                "fail",
                "no account is logged in on this client",
                "photoark login --server URL --email EMAIL (or photoark quickstart)",
            )
        ]
    out: list[Finding] = []
    with ApiClient(account.server, account.token, retry=RetryPolicy(attempts=1)) as api:
        try:
            sent = time.time()
            health = api.health()
            received = time.time()
        except ClientError as err:
            return [
                Finding(
                    "server",
                    "fail",
                    f"cannot reach {account.server}: {err}",
                    "start the server (photoark server), or check the address and the network",
                )
            ]
        same = health.version == photoark.__version__
        out.append(
            Finding(
                "server",
                "ok" if same else "warn",
                f"{account.server} answers, version {health.version}"
                + ("" if same else f" (this client is {photoark.__version__})"),
                "" if same else "upgrade the older of the two",
            )
        )
        skew = health.time - (sent + received) / 2
        out.append(
            Finding(
                "clock",
                "ok" if abs(skew) <= MAX_SKEW_SECONDS else "warn",
                f"this machine's clock is {skew:+.1f} s from the server's",
                ""
                if abs(skew) <= MAX_SKEW_SECONDS
                else "turn on time synchronisation (timedatectl set-ntp true)",
            )
        )
        try:
            api.usage()
            out.append(Finding("login", "ok", f"logged in as {account.email}"))
        except AuthFailed:
            out.append(
                Finding(
                    "login",
                    "fail",
                    f"the server no longer accepts this client's session ({account.email})",
                    f"photoark login --server {account.server} --email {account.email}",
                )
            )
        except ClientError as err:
            out.append(Finding("login", "warn", f"could not check the session: {err}"))
    return out


def _count_dirs(root: str, limit: int) -> int:
    """Directories under ``root`` (what inotify watches), counting stops past ``limit``."""
    count = 0
    for _, dirnames, _ in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        count += 1
        if count > limit:
            break
    return count


def _watches(db: StateDB, inotify_limit: Path) -> list[Finding]:
    watches = WatchList(db).list()
    if not watches:
        return [
            Finding(
                "watches",
                "warn",
                "no folder is watched: nothing is backed up automatically",
                "photoark watch add ~/Pictures",
            )
        ]
    out: list[Finding] = []
    dirs = 0
    try:
        limit = int(inotify_limit.read_text().strip())
    except (OSError, ValueError):
        limit = 0
    for w in watches:
        if not os.path.isdir(w.path):
            out.append(
                Finding(
                    f"watch {w.path}",
                    "fail",
                    "the folder does not exist (an unplugged disk?)",
                    "plug the disk in, or `photoark watch rm` it",
                )
            )
        elif not os.access(w.path, os.R_OK | os.X_OK):
            out.append(
                Finding(
                    f"watch {w.path}",
                    "fail",
                    "the folder cannot be read by this user",
                    f"chmod u+rx {w.path} (or run photoark as the folder's owner)",
                )
            )
        else:
            dirs += _count_dirs(w.path, max(limit, 1) * 2)
            out.append(Finding(f"watch {w.path}", "ok", "exists and is readable"))
    if limit:
        enough = dirs < limit * 0.9
        out.append(
            Finding(
                "inotify",
                "ok" if enough else "fail",
                f"{dirs:,} folders to watch; the system allows {limit:,} inotify watches",
                ""
                if enough
                else "raise the limit: echo fs.inotify.max_user_watches=524288 | sudo tee "
                "/etc/sysctl.d/60-photoark.conf && sudo sysctl --system (until then, new "
                "photos are found only by the daemon's rescans)",
            )
        )
    return out


def _disk(home: ClientHome) -> Finding:
    free = shutil.disk_usage(home.root).free
    ok = free >= MIN_FREE_BYTES
    return Finding(
        "disk",
        "ok" if ok else "warn",
        f"{free / 1e9:.1f} GB free for the state database in {home.root}",
        "" if ok else "free some space: the state database grows with the library",
    )


def _policy(db: StateDB, probe: Probe) -> Finding:
    settings = Settings(db)
    policy = UploadPolicy(
        on_metered=bool(settings.get("upload.on_metered")),
        min_battery=int(settings.get("upload.min_battery")),
    )
    conditions = probe.read()
    reason = pause_reason(conditions, policy)
    seen = (
        f"network {'metered' if conditions.metered else 'unmetered'}, "
        + (
            f"on battery ({conditions.battery_percent}%)"
            if conditions.on_battery
            else "on mains power"
        )
        + f"; policy: on_metered={policy.on_metered}, min_battery={policy.min_battery}%"
    )
    if reason is None:
        return Finding("battery/network", "ok", f"uploads run now ({seen})")
    fix = {
        "metered": "connect to an unmetered network, or photoark config set upload.on_metered true",
        "battery": "plug in, or photoark config set upload.min_battery 0",
    }[reason]
    return Finding("battery/network", "warn", f"uploads are paused now: {reason} ({seen})", fix)


def _daemon(db: StateDB) -> Finding:
    board = StatusBoard(db).read()
    if daemon_running(board):
        assert board is not None
        state = board.get("state")
        paused = board.get("paused")
        return Finding(
            "daemon",
            "ok" if not paused else "warn",
            f"running (pid {board.get('pid')}), {state}"
            + (f", paused: {paused}" if paused else ""),
        )
    return Finding(
        "daemon",
        "warn",
        "not running: watched folders are not backed up automatically",
        "photoark daemon --install-user-service, then systemctl --user enable --now photoark",
    )


def _ffmpeg(which: Callable[[str], str | None]) -> Finding:
    if which("ffmpeg"):
        return Finding("ffmpeg", "ok", "present: videos get thumbnails")
    return Finding(
        "ffmpeg",
        "warn",
        "not found: videos are backed up, but without thumbnails",
        "sudo apt install ffmpeg",
    )


def run_checks(
    home: ClientHome,
    probe: Probe,
    inotify_limit: Path = INOTIFY_LIMIT,
    which: Callable[[str], str | None] = shutil.which,
) -> list[Finding]:
    db = StateDB(home.ensure().state_db)
    try:
        findings = [
            *_server(db),
            _daemon(db),
            *_watches(db, inotify_limit),
            _disk(home),
            _policy(db, probe),
            _ffmpeg(which),
        ]
    finally:
        db.close()
    return findings
