"""The client's local state DB (SQLite): account, decrypted mirror, stat cache, upload queue.

One file per client home. It holds keys (the master key, collection and file keys, secretstream
snapshots of unfinished uploads): it lives in a 0700 directory and is created 0600.
"""

from photoark.client.state.db import StateDB

__all__ = ["StateDB"]
