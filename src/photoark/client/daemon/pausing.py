"""Why uploads are paused right now, and the cancel event that stops a running batch.

Two causes: the user's upload policy against the machine's conditions (metered network, low
battery; :mod:`.policy`), re-read by a thread every ``policy_every`` seconds, and the server
being unreachable, which pauses for a backoff that doubles at each failure (``backoff_first``
up to ``backoff_max``) and resets once a batch goes through. A policy pause sets ``cancel``:
the running batch stops between files and between parts of a large file, to resume later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from photoark.client.daemon.board import StatusPublisher
from photoark.client.daemon.policy import Probe, UploadPolicy, pause_reason
from photoark.client.daemon.timing import DaemonTiming
from photoark.client.settings import Settings

__all__ = ["Pausing"]

log = logging.getLogger(__name__)


class Pausing:
    def __init__(
        self,
        probe: Probe,
        settings: Settings,
        timing: DaemonTiming,
        clock: Callable[[], float],
        cancel: threading.Event,
        status: StatusPublisher,
    ) -> None:
        self._probe = probe
        self._settings = settings
        self._timing = timing
        self._clock = clock
        self._cancel = cancel
        self._status = status
        self._policy_reason: str | None = None
        self._offline_until = 0.0
        self._backoff = timing.backoff_first

    def check_policy(self) -> str | None:
        """Probe the conditions; pause (cancel the running batch) or resume accordingly."""
        try:
            reason = pause_reason(self._probe.read(), self._policy())
        except Exception:  # a broken probe must not stop backups: treat as no reason
            log.exception("the battery/network probe failed")
            reason = None
        self._policy_reason = reason
        if reason is not None:
            self._cancel.set()
        else:
            self._cancel.clear()
        now = self.reason()
        self._status.publish(paused=now, state="paused" if now else self._status.get("state"))
        return reason

    def _policy(self) -> UploadPolicy:
        return UploadPolicy(
            on_metered=bool(self._settings.get("upload.on_metered")),
            min_battery=int(self._settings.get("upload.min_battery")),
        )

    def reason(self) -> str | None:
        """Why uploads wait now (``metered``, ``battery``, ``offline``), or ``None``."""
        if self._policy_reason is not None:
            return self._policy_reason
        if self._clock() < self._offline_until:
            return "offline"
        return None

    def went_offline(self, why: str, hint: str | None = None) -> None:
        """Pause for the backoff: ``why`` (the error, e.g. the server or its object store
        unreachable) and ``hint`` (what to do about it) go to the log and the status board."""
        self._offline_until = self._clock() + self._backoff
        log.warning(
            "%s; retrying in %.0f s%s", why, self._backoff, f" (hint: {hint})" if hint else ""
        )
        self._backoff = min(self._timing.backoff_max, self._backoff * 2)
        self._status.publish(
            paused="offline", state="paused", offline_reason=why, offline_hint=hint or None
        )

    def online(self) -> None:
        self._backoff = self._timing.backoff_first
        self._offline_until = 0.0

    def follow(self, stop: threading.Event) -> None:
        """The policy thread: probe every ``policy_every`` seconds until ``stop``."""
        while not stop.wait(self._timing.policy_every):
            self.check_policy()
