"""What the client mirrors: the diff of changes since a version, and storage usage."""

from __future__ import annotations

from photoark.protocol.models import Diff, Usage
from photoark.server.store.accounts import AccountStore
from photoark.server.store.files import FileStore
from photoark.server.store.sync import SyncStore

__all__ = ["SyncService"]


class SyncService:
    def __init__(self, sync: SyncStore, files: FileStore, accounts: AccountStore) -> None:
        self._sync = sync
        self._files = files
        self._accounts = accounts

    def diff(self, user_id: int, since: int, limit: int) -> Diff:
        """Changes after ``since``, oldest first; page on with ``since = latest_version``."""
        return self._sync.diff(user_id, since, limit)

    def usage(self, user_id: int) -> Usage:
        """Counts each unique file once, however many albums hold it; trash counts too."""
        sums = self._files.usage(user_id)
        return Usage(
            files=sums.files,
            stored_bytes=sums.stored_bytes,
            trash_bytes=sums.trash_bytes,
            logical_bytes=sums.logical_bytes,
            quota_bytes=self._accounts.quota(user_id),
        )
