"""What ``photoark quickstart`` sets up on this machine: an embedded server process
(:mod:`.server`) and a local account whose credentials are kept in a 0600 file.

Imports: the client's top-level modules and ``client.state``.
"""
