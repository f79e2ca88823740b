"""Automatic backup: the daemon and what it listens to.

:mod:`.daemon` runs the loop and wires the rest; its jobs, one module each:
:mod:`.folders` (the watched folders: watching, folders that cannot be watched, reconciles),
:mod:`.backups` (backing up a batch from the durable queue, or a whole folder),
:mod:`.idle` (thumbnails and embeddings when no original waits), :mod:`.pausing` (policy
and offline pauses, the cancel event), :mod:`.events` (following the server's change stream),
:mod:`.board` (what it publishes for ``photoark status``); :mod:`.timing` holds its periods.
What it listens to: :mod:`.watcher` turns inotify events into settled paths; :mod:`.policy`
reads battery and network and says when to pause; :mod:`.inhibit` keeps the machine awake
during large backups; :mod:`.service` writes its systemd user unit; :mod:`.reupload` lifts a
deletion mark and queues the files for the daemon.

Imports: ``client.pipeline``, ``client.library``, ``client.state``, the client's top-level
modules. Nothing in the client imports the daemon.
"""
