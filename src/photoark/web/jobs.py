"""Long work started from a page (the similar-photo scan, the free-up plan): one background
thread per kind, its progress and its end pushed through the :class:`~.hub.Hub` as ``job``
events, its result kept for the page to fetch. Starting a kind that is running joins it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from photoark.client.errors import ClientError
from photoark.web.hub import Hub

__all__ = ["Job", "Jobs", "Progress"]


@dataclass
class Progress:
    """What a running job tells: a stage, and done/total when it counts."""

    kind: str
    publish: Callable[[str, dict[str, Any]], None]
    stage: str = ""
    done: int = 0
    total: int = 0
    _sent: float = 0.0

    def set_total(self, n: int) -> None:
        self.total = n
        self._send(force=True)

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._send()

    def tick(self, _: object = None) -> None:
        self.advance()

    def describe(self, stage: str) -> None:
        self.stage = stage
        self._send(force=True)

    def _send(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._sent > 0.25:
            self._sent = now
            self.publish("job", self.as_json())

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "state": "running",
            "stage": self.stage,
            "done": self.done,
            "total": self.total,
        }


@dataclass
class Job:
    kind: str
    state: str = "idle"  # idle, running, done, failed
    progress: Progress | None = None
    result: Any = None
    error: dict[str, str] | None = None
    finished_at: float | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "state": self.state}
        if self.progress is not None and self.state == "running":
            out.update(self.progress.as_json())
        if self.state == "done":
            out["result"] = self.result
            out["finished_at"] = self.finished_at
        if self.error is not None:
            out["error"] = self.error
        return out


class Jobs:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, kind: str) -> Job:
        with self._lock:
            return self._jobs.setdefault(kind, Job(kind))

    def forget(self, kind: str) -> None:
        """Drop a finished job's result (it no longer holds); a running job is left alone."""
        with self._lock:
            job = self._jobs.get(kind)
            if job is not None and job.state != "running":
                self._jobs[kind] = Job(kind)

    def start(self, kind: str, work: Callable[[Progress], Any]) -> Job:
        """Run ``work(progress)`` in the background unless a ``kind`` job is running."""
        with self._lock:
            job = self._jobs.setdefault(kind, Job(kind))
            if job.state == "running":
                return job
            job.state, job.result, job.error = "running", None, None
            job.progress = Progress(kind, self._hub.publish)
            job.thread = threading.Thread(
                target=self._run, args=(job, work), name=f"web-job-{kind}", daemon=True
            )
            job.thread.start()
            return job

    def _run(self, job: Job, work: Callable[[Progress], Any]) -> None:
        assert job.progress is not None
        try:
            result = work(job.progress)
        except ClientError as err:
            job.error = {"message": str(err), "hint": err.hint}
        except Exception as err:  # shown on the page; the app goes on
            job.error = {"message": f"{type(err).__name__}: {err}", "hint": ""}
        else:
            job.result = result
        job.finished_at = time.time()  # before the state: "done" never shows an old time
        job.state = "done" if job.error is None else "failed"
        self._hub.publish("job", {"kind": job.kind, "state": job.state, "error": job.error})
