"""Keeping the machine awake during a large backup (setting ``upload.inhibit_sleep``).

While more than a threshold of work is queued (default 1 GiB or 500 files), a systemd-logind
*sleep inhibitor* is held, so a laptop does not suspend half-way through a first backup; it is
released as soon as the work drains. It is held by running ``systemd-inhibit --what=sleep
--mode=block … sleep infinity`` and ended by stopping that process (logind drops an inhibitor
whose holder is gone; ``setpriv --pdeathsig`` (util-linux) ends the holder with us, so even a
SIGKILL of photoark cannot leave the machine unable to sleep). Where logind is
absent (no systemd, a container, no system bus), the first attempt says so once in the log and
backups go on.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence

__all__ = ["SleepInhibitor"]

log = logging.getLogger(__name__)


class SleepInhibitor:
    """Holds a sleep inhibitor while asked to (thread-safe, re-entrant by count)."""

    def __init__(
        self,
        enabled: bool = True,
        min_files: int = 500,
        min_bytes: int = 1 << 30,
        command: Sequence[str] = ("systemd-inhibit",),
    ) -> None:
        self.enabled = enabled
        self.min_files = min_files
        self.min_bytes = min_bytes
        self._command = list(command)
        self._lock = threading.Lock()
        self._holders = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._unavailable = False

    def worth_it(self, files: int, total_bytes: int) -> bool:
        return self.enabled and (files > self.min_files or total_bytes > self.min_bytes)

    @property
    def held(self) -> bool:
        with self._lock:
            return self._process is not None and self._process.poll() is None

    @contextlib.contextmanager
    def while_busy(self, files: int, total_bytes: int, why: str) -> Iterator[None]:
        """Hold the inhibitor for the block if the work is above the threshold."""
        if not self.worth_it(files, total_bytes):
            yield
            return
        self.acquire(why)
        try:
            yield
        finally:
            self.release()

    def acquire(self, why: str) -> None:
        with self._lock:
            self._holders += 1
            if self._process is not None or self._unavailable:
                return
            self._process = self._start(why)

    def release(self) -> None:
        with self._lock:
            self._holders = max(0, self._holders - 1)
            if self._holders or self._process is None:
                return
            process, self._process = self._process, None
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def _start(self, why: str) -> subprocess.Popen[bytes] | None:
        program = shutil.which(self._command[0])
        if program is None:
            self._give_up(f"{self._command[0]} is not installed")
            return None
        setpriv = shutil.which("setpriv")
        # the holder dies with us (a SIGKILLed photoark must not keep the machine awake)
        prefix = [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []
        try:
            process = subprocess.Popen(
                [
                    *prefix,
                    program,
                    *self._command[1:],
                    "--what=sleep",
                    "--who=photoark",
                    f"--why={why}",
                    "--mode=block",
                    "sleep",
                    "infinity",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as err:
            self._give_up(str(err))
            return None
        try:
            # logind refuses at once (no bus, no logind); a held inhibitor just waits
            _, err_out = process.communicate(timeout=0.5)
        except subprocess.TimeoutExpired:
            log.info("holding a sleep inhibitor: %s", why)
            return process
        self._give_up(err_out.decode("utf-8", "replace").strip() or "it exited")
        return None

    def _give_up(self, reason: str) -> None:
        self._unavailable = True
        log.warning(
            "cannot keep the machine awake during the backup (no systemd-logind: %s); "
            "going on without it",
            reason,
        )
