"""``photoark doctor``'s local checks, each with its fix (the server checks: tests/e2e)."""

from __future__ import annotations

from pathlib import Path

from photoark.client.daemon.policy import Conditions
from photoark.client.doctor import Finding, run_checks
from photoark.client.home import resolve_home
from photoark.client.state import StateDB
from photoark.client.state.watches import WatchList


class Probe:
    def __init__(self, conditions: Conditions) -> None:
        self.conditions = conditions

    def read(self) -> Conditions:
        return self.conditions


MAINS = Probe(Conditions(metered=False, on_battery=False, battery_percent=None))


def _by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def test_not_logged_in_and_nothing_watched(tmp_path: Path) -> None:
    found = _by_check(run_checks(resolve_home(tmp_path / "h"), MAINS, which=lambda _: "/x"))
    assert found["login"].level == "fail" and "photoark login" in found["login"].fix
    assert found["watches"].level == "warn" and "watch add" in found["watches"].fix
    assert found["daemon"].level == "warn"
    assert found["ffmpeg"].level == "ok"
    assert found["battery/network"].level == "ok"


def test_watch_problems_inotify_limit_policy_and_ffmpeg(tmp_path: Path) -> None:
    home = resolve_home(tmp_path / "h")
    db = StateDB(home.ensure().state_db)
    tree = tmp_path / "photos"
    for sub in ("a", "b", "c/d", "c/e"):
        (tree / sub).mkdir(parents=True)
    gone = tmp_path / "usb"
    gone.mkdir()
    WatchList(db).add(str(tree))
    WatchList(db).add(str(gone))
    db.close()
    gone.rmdir()
    limit = tmp_path / "max_user_watches"
    limit.write_text("4\n")
    metered = Probe(Conditions(metered=True, on_battery=False, battery_percent=None))
    found = _by_check(run_checks(home, metered, inotify_limit=limit, which=lambda _: None))
    assert found[f"watch {gone}"].level == "fail" and "unplugged" in found[f"watch {gone}"].detail
    assert found[f"watch {tree}"].level == "ok"
    assert found["inotify"].level == "fail"
    assert "max_user_watches" in found["inotify"].fix and "6 folders" in found["inotify"].detail
    assert found["battery/network"].level == "warn" and "metered" in found["battery/network"].detail
    assert "upload.on_metered" in found["battery/network"].fix
    assert found["ffmpeg"].level == "warn" and "apt install ffmpeg" in found["ffmpeg"].fix
    limit.write_text("524288\n")
    assert _by_check(run_checks(home, MAINS, inotify_limit=limit))["inotify"].level == "ok"
