"""What ``photoark quickstart`` sets up on this machine: an embedded server process
(:mod:`.server`: start, stop, find; :mod:`.control`: what ``photoark local`` does;
:mod:`.service`: its systemd user unit) and a local account whose credentials are kept in a
0600 file (:mod:`.setup`).

Imports: the client's top-level modules and ``client.state``.
"""
