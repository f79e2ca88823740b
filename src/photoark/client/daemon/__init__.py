"""Automatic backup: the daemon and what it listens to.

:mod:`.daemon` runs the loop; :mod:`.watcher` turns inotify events into settled paths;
:mod:`.policy` reads battery and network and says when to pause; :mod:`.inhibit` keeps the
machine awake during large backups; :mod:`.service` writes its systemd user unit.

Imports: ``client.pipeline``, ``client.library``, ``client.state``, the client's top-level
modules. Nothing in the client imports the daemon.
"""
