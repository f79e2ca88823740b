"""The backup daemon: watch folders, back up what settles, follow the server's change stream.

One loop thread orchestrates (:class:`Daemon`, here); around it, each job has its module:

- :mod:`.watcher`: watchdog's thread turns inotify events into touched paths, and a
  :class:`~.watcher.Settler` hands a path out once it holds still;
- :mod:`.folders`: the watched folders (watch list changes, folders that cannot be watched,
  when each is reconciled: scanned whole, at start and now and then);
- :mod:`.backups`: backing up a batch of settled paths from the durable queue, or a whole
  folder, through the backup pipeline;
- :mod:`.idle`: thumbnails, then embeddings, when no original waits;
- :mod:`.pausing`: the policy thread (battery, metered network) and the offline backoff;
- :mod:`.events`: the events thread, following ``GET /events`` and pulling the diff when the
  change counter moves;
- :mod:`.board`: the facts published on the status board for ``photoark status``;
- :mod:`.devices`: cards, cameras and phones imported when they appear
  (``devices.auto_import``).

Each turn of the loop takes the settled paths into the durable queue, then, unless paused,
does the most urgent piece of work: a reconcile, else a device that appeared, else a batch
from the queue, else idle work.
With nothing to do it rests until a file is touched (or a second has passed).

- **Settled paths** leave the durable queue only once the pipeline has dealt with them, so a
  SIGKILL at any moment loses nothing; the pipeline's own state means nothing finished is
  read or sent again.
- **Pausing** (metered network, low battery, server unreachable): the running batch is
  cancelled between files and between parts of a large file, and everything resumes later.
- **Deleted local files** need nothing: the backup keeps them.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable

from photoark.client.daemon.backups import BackupRunner
from photoark.client.daemon.board import StatusPublisher
from photoark.client.daemon.devices import DeviceFreer, DeviceImports
from photoark.client.daemon.events import ChangeFollower
from photoark.client.daemon.folders import WatchedFolders
from photoark.client.daemon.idle import IdleWork
from photoark.client.daemon.pausing import Pausing
from photoark.client.daemon.policy import Probe
from photoark.client.daemon.timing import DaemonTiming
from photoark.client.daemon.watcher import Settler
from photoark.client.errors import ClientError, ServerUnreachable
from photoark.client.lock import exclusive
from photoark.client.pipeline.orphans import abort_orphan_uploads
from photoark.client.session import Session
from photoark.client.settings import Settings
from photoark.client.state.daemonstate import DaemonQueue, StatusBoard

__all__ = ["Daemon", "DaemonTiming"]

log = logging.getLogger(__name__)


class Daemon:
    """The loop and the threads around it; :meth:`run` blocks until :meth:`stop`."""

    def __init__(
        self,
        session: Session,
        probe: Probe,
        timing: DaemonTiming | None = None,
        clock: Callable[[], float] = time.monotonic,
        device_freer: DeviceFreer | None = None,
    ) -> None:
        self.session = session
        self.timing = timing or DaemonTiming()
        self._clock = clock
        settings = Settings(session.db)
        self.stop_event = threading.Event()
        self.cancel = threading.Event()  # set while paused: the running batch stops early
        self.queue = DaemonQueue(session.db)
        self.settler = Settler(float(settings.get("watch.settle_seconds")), clock)
        self._status = StatusPublisher(StatusBoard(session.db))
        self._pausing = Pausing(probe, settings, self.timing, clock, self.cancel, self._status)
        self._folders = WatchedFolders(
            session, settings, self.settler, self.timing, clock, self._status
        )
        self.watcher = self._folders.watcher
        self._idle = IdleWork(
            session, settings, self.settler, self.queue, self.cancel, self._status
        )
        self._changes = ChangeFollower(
            session, self.timing, self.stop_event, self._status, self._idle.embeddings_due
        )
        self._backups = BackupRunner(
            session,
            settings,
            self._folders,
            self.queue,
            self._pausing,
            self.cancel,
            self._status,
            self.timing.batch_files,
        )
        self._devices = DeviceImports(
            session, settings, self._backups.options, self._status, device_freer
        )

    def run(self) -> None:
        """Run until :meth:`stop` (or SIGTERM/SIGINT through the CLI)."""
        with exclusive(self.session.home, "daemon"):
            self._run()

    def stop(self) -> None:
        self.stop_event.set()
        self.cancel.set()
        self.settler.wake.set()

    def _run(self) -> None:
        threads = [
            threading.Thread(
                target=self._pausing.follow, args=(self.stop_event,), name="policy", daemon=True
            ),
            threading.Thread(target=self._changes.follow, name="events", daemon=True),
            threading.Thread(
                target=self._devices.follow,
                args=(self.stop_event, self.settler.wake),
                name="mounts",
                daemon=True,
            ),
        ]
        self._pausing.check_policy()
        try:
            self._changes.pull()
        except ServerUnreachable as err:
            self._pausing.went_offline(str(err), err.hint)
        else:
            try:  # sessions an earlier run of this home opened and never recorded (killed)
                abort_orphan_uploads(self.session.api, self.session.db)
            except ClientError as err:  # backing up goes on without it
                log.warning("could not abort forgotten upload sessions: %s", err)
        for t in threads:
            t.start()
        last_refresh = last_devices = -1e9
        try:
            while not self.stop_event.is_set():
                now = self._clock()
                if now - last_refresh >= self.timing.watches_every:
                    self._folders.refresh()
                    last_refresh = now
                if self._devices.due() or now - last_devices >= self.timing.devices_every:
                    self._devices.look()
                    last_devices = now
                self._turn()
        finally:
            self.stop_event.set()
            self.watcher.stop()
            self._status.publish(state="stopped", current=None)

    def _turn(self) -> None:
        """One turn of the loop: queue what settled, then do one piece of work or rest."""
        settled = self.settler.take_settled()
        if settled:
            self.queue.put(settled)
        queued = self.queue.count()
        reason = self._pausing.reason()
        if reason is not None:
            # published after the decision: paused with something queued means held back
            self._status.publish(
                state="paused", paused=reason, settling=len(self.settler), queued=queued
            )
            self._rest(min(1.0, self.timing.policy_every))
            return
        self._status.publish(paused=None, settling=len(self.settler), queued=queued)
        if self._work(queued):
            return
        # nothing to do (files may still be settling): with none, every change seen was dealt with
        self._status.publish(state="idle", settling=len(self.settler), queued=0)
        self._rest(self.settler.next_due_in() if len(self.settler) else 1.0)

    def _work(self, queued: int) -> bool:
        """Do the most urgent piece of work; False if there is none."""
        watch = self._folders.next_to_reconcile()
        if watch is not None:
            if self._guard(functools.partial(self._backups.reconcile, watch)):
                self._folders.reconciled(watch)
            return True
        if self._devices.pending():
            self._guard(self._devices.import_next)
            return True
        if queued:
            self._guard(self._backups.run_queue)
            return True
        return self._idle.step(self._guard)

    def _rest(self, seconds: float) -> None:
        """Wait ``seconds``, or until a file is touched (or :meth:`stop`)."""
        self.settler.wake.wait(seconds)
        self.settler.wake.clear()

    def _guard(self, work: Callable[[], bool | None]) -> bool:
        """Run a unit of backup work; True if it finished. An unreachable server (or another
        failure of the run as a whole) means back off and retry, not die."""
        try:
            return work() is not False
        except ServerUnreachable as err:
            self._pausing.went_offline(str(err), err.hint)
        except ClientError as err:
            log.error("backup step failed: %s", err)
            self._pausing.went_offline(str(err), err.hint)
        return False
