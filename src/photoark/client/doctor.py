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
from photoark.client.devices.support import GVFS_BACKENDS, DeviceSupport, device_support
from photoark.client.errors import AuthFailed, ClientError
from photoark.client.home import ClientHome
from photoark.client.local.server import LocalServer, local_account_server, serves_account
from photoark.client.local.service import SERVER_UNIT_NAME, installed_server_unit, unit_enabled
from photoark.client.settings import Settings
from photoark.client.state.account import Account, AccountStore
from photoark.client.state.daemonstate import StatusBoard
from photoark.client.state.db import StateDB
from photoark.client.state.watches import WatchList
from photoark.client.status import daemon_running
from photoark.client.transport import RetryPolicy

__all__ = ["Finding", "run_checks"]

INOTIFY_LIMIT = Path("/proc/sys/fs/inotify/max_user_watches")
MIN_FREE_BYTES = 1 << 30
MAX_SKEW_SECONDS = 60.0
_SERVICE = "photoark local start --install-user-service"


@dataclass(frozen=True)
class Finding:
    check: str
    level: str  # ok | warn | fail
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "level": self.level, "detail": self.detail, "fix": self.fix}


def _server(db: StateDB, home: ClientHome) -> list[Finding]:
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
    local = local_account_server(home, account)
    out: list[Finding] = []
    with ApiClient(account.server, account.token, retry=RetryPolicy(attempts=1)) as api:
        try:
            sent = time.time()
            health = api.health()
            received = time.time()
        except ClientError as err:
            return [_server_down(account.server, err, local)]
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
            out.append(_refused(account, local))
        except ClientError as err:
            out.append(Finding("login", "warn", f"could not check the session: {err}"))
    if local is not None:
        out.append(_local_service(local))
    return out


def _server_down(url: str, err: ClientError, local: LocalServer | None) -> Finding:
    if local is None:
        return Finding(
            "server",
            "fail",
            f"cannot reach {url}: {err}",
            "start the server (photoark server), or check the address and the network",
        )
    return Finding(
        "server",
        "fail",
        f"cannot reach {url}: {err}; it is the local server quickstart set up (data in "
        f"{local.data_dir}), and it is not running",
        "photoark local start"
        + ("" if _service_enabled() else f" (and, to start it at every login: {_SERVICE})"),
    )


def _refused(account: Account, local: LocalServer | None) -> Finding:
    """The server answers but refuses the token: revoked, or another server at the address
    (one that does not even know the account's email, see ``serves_account``)."""
    login = f"photoark login --server {account.server} --email {account.email}"
    known = serves_account(account.server, account)
    if known is not False:
        return Finding(
            "login",
            "fail",
            f"the server no longer accepts this client's session ({account.email})",
            login,
        )
    if local is not None:
        return Finding(
            "login",
            "fail",
            f"a different server (empty, or with other data) is running on port {local.port}: "
            f"it does not know this account ({account.email}), which is on the local server "
            f"quickstart set up (data in {local.data_dir})",
            f"stop the server running on port {local.port} (Ctrl-C where it runs; "
            f"`ss -ltnp 'sport = :{local.port}'` shows it), then run: photoark local start",
        )
    return Finding(
        "login",
        "fail",
        f"the server at {account.server} does not know this account ({account.email}): "
        "another server answers at this address, or it runs with other data",
        "check the address, and that the server runs with this account's data (--data, "
        f"--database); if the account really moved: {login}",
    )


def _service_enabled() -> bool:
    return unit_enabled(SERVER_UNIT_NAME)


def _local_service(local: LocalServer) -> Finding:
    unit = installed_server_unit()
    where = f"{local.url}, data in {local.data_dir}"
    if unit is not None and _service_enabled():
        return Finding("local server", "ok", f"{where}; started at login by {unit}")
    return Finding(
        "local server",
        "warn",
        f"{where}; nothing starts it again after a reboot"
        + (f" ({unit} is written but not enabled)" if unit else ""),
        f"{_SERVICE} (or photoark daemon --install-user-service), or run photoark local "
        "start after each reboot",
    )


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


def _devices(support: DeviceSupport) -> list[Finding]:
    """One finding per kind of device: what finds it here, what is missing."""
    cards = Finding(
        "devices: cards",
        "ok" if support.mountinfo else "fail",
        "cards and USB-storage cameras are found once mounted"
        + (
            " (udisks2 can mount them)"
            if support.udisks_bus
            else "; no system bus for udisks2: mount them yourself (or with your desktop)"
        ),
        "" if support.mountinfo else "/proc/self/mountinfo cannot be read: is /proc mounted?",
    )
    backends = support.gvfs_backends
    out = [cards]
    for kind, scheme, what in (
        ("phones", "mtp", "Android phones (MTP)"),
        ("cameras", "gphoto2", "PTP cameras"),
        ("iPhones", "afc", "iPhones (AFC)"),
    ):
        ready = support.gvfs_running and backends.get(scheme, False)
        missing = [] if support.gvfs_running else ["gvfs is not running (no $XDG_RUNTIME_DIR/gvfs)"]
        if not backends.get(scheme, False):
            missing.append(f"{GVFS_BACKENDS[scheme]} is not installed")
        out.append(
            Finding(
                f"devices: {kind}",
                "ok" if ready else "warn",
                f"{what} are found through gvfs"
                if ready
                else f"{what} are not seen: "
                + "; ".join(missing)
                + (
                    " (the gphoto2 binding is installed, but photoark imports through gvfs only)"
                    if support.gphoto2_binding
                    else " (libgphoto2's binding is not used either)"
                ),
                ""
                if ready
                else "sudo apt install gvfs-backends gvfs-fuse, in a desktop session; "
                "or mount the device's storage yourself and run photoark import FOLDER",
            )
        )
    out.append(
        Finding(
            "devices: notifications",
            "ok" if support.session_bus else "warn",
            "desktop notifications after an automatic import"
            if support.session_bus
            else "no session D-Bus: the daemon's imports are only in its log",
            "" if support.session_bus else "run the daemon in your desktop session",
        )
    )
    return out


def run_checks(
    home: ClientHome,
    probe: Probe,
    inotify_limit: Path = INOTIFY_LIMIT,
    which: Callable[[str], str | None] = shutil.which,
    devices: Callable[[], DeviceSupport] = device_support,
) -> list[Finding]:
    db = StateDB(home.ensure().state_db)
    try:
        findings = [
            *_server(db, home),
            _daemon(db),
            *_watches(db, inotify_limit),
            _disk(home),
            _policy(db, probe),
            _ffmpeg(which),
            *_devices(devices()),
        ]
    finally:
        db.close()
    return findings
