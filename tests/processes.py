"""What ``/proc`` says about a process by its pid: CPU time, start time, children, liveness.

Linux only, read-only, and never raising for a process that is gone (it may end between two
reads). Used by the local cluster's pieces to count CPU (:class:`tests.server_replica.
ServerReplica`, :class:`tests.postgres_server.PostgresServer`, :class:`tests.local_cluster.
LocalCluster`), by ``scripts/cluster.py`` to recognise the processes its state file names (a
pid with its :func:`start_time` names one process, where a reused pid names another), and by
``bench/_common.py`` to find a command's descendants.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["child_pids", "pid_alive", "proc_cpu_seconds", "start_time"]


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (so field 3, the state, is
    ``[0]``); None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def proc_cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU seconds of ``pid`` so far (all its threads); with ``children``, also
    those of its children it has waited for (``cutime``/``cstime``). 0 if it is gone."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def start_time(pid: int | None) -> str | None:
    """When ``pid`` started (``/proc/PID/stat`` field 22, clock ticks since boot): with the pid,
    it names one process; a reused pid has another. None if it is gone."""
    if pid is None:
        return None
    fields = _stat_fields(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def child_pids(pid: int) -> list[int]:
    """The pids of ``pid``'s live children (of all its threads); empty if it is gone."""
    out: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    return out


def pid_alive(pid: object, started: object = None) -> bool:
    """Is ``pid`` live, and (``started`` given) the process :func:`start_time` saw? A zombie
    (ended, not yet reaped by its parent) is not live; nor is a pid reused since, after a crash
    or a reboot: whoever signals it must not signal some other process. ``pid`` may be any
    value read from a file: anything but an int is not live."""
    if not isinstance(pid, int):
        return False
    fields = _stat_fields(pid)
    if fields is None:
        return False
    return fields[0] != "Z" and (started is None or fields[19] == started)
