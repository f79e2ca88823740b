"""Domain errors of the server, each carrying a stable protocol :class:`ErrorCode`.

Services, stores and blob stores raise these; one FastAPI exception handler
(:mod:`photoark.server.api.problems`) maps them to JSON problem bodies. Adapters catch library
errors (``OSError``, SQLAlchemy's ``IntegrityError``) and re-raise one of these ``from err``.

    ServerError
    ├── BadRequest
    │   └── ChecksumMismatch
    ├── Unauthorized
    ├── InvalidCredentials
    ├── EmailTaken
    ├── NotFound
    ├── Conflict
    │   └── UploadIncomplete
    ├── DirectTransferRequired
    ├── QuotaExceeded
    ├── StorageFull
    ├── RangeNotSatisfiable
    ├── RequestTimeout
    ├── ObjectDamaged
    └── RetryLater (answers carry ``Retry-After``)
        ├── RateLimited
        └── Busy
"""

from __future__ import annotations

from photoark.protocol.errors import ErrorCode

__all__ = [
    "BadRequest",
    "Busy",
    "ChecksumMismatch",
    "Conflict",
    "DirectTransferRequired",
    "EmailTaken",
    "InvalidCredentials",
    "NotFound",
    "ObjectDamaged",
    "QuotaExceeded",
    "RangeNotSatisfiable",
    "RateLimited",
    "RequestTimeout",
    "RetryLater",
    "ServerError",
    "StorageFull",
    "Unauthorized",
    "UploadIncomplete",
    "human_size",
]


def human_size(n: int) -> str:
    """``1536`` → ``"1.5 KiB"``: sizes in messages people read."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class ServerError(Exception):
    """Base of every domain error: a protocol code, a message for people, details for programs."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, object] = details or {}


class BadRequest(ServerError):
    code = ErrorCode.BAD_REQUEST


class ChecksumMismatch(BadRequest):
    code = ErrorCode.CHECKSUM_MISMATCH


class Unauthorized(ServerError):
    code = ErrorCode.UNAUTHORIZED


class InvalidCredentials(ServerError):
    code = ErrorCode.INVALID_CREDENTIALS

    def __init__(self) -> None:
        super().__init__("wrong email or password")


class EmailTaken(ServerError):
    code = ErrorCode.EMAIL_TAKEN


class NotFound(ServerError):
    """Absent, or another user's: never distinguished."""

    code = ErrorCode.NOT_FOUND


class Conflict(ServerError):
    code = ErrorCode.CONFLICT


class UploadIncomplete(Conflict):
    code = ErrorCode.UPLOAD_INCOMPLETE


class DirectTransferRequired(ServerError):
    """A route that carries file bytes through the server, on a server whose blobs are in S3:
    clients send and fetch bytes with presigned URLs instead (an older client must upgrade)."""

    code = ErrorCode.DIRECT_TRANSFER_REQUIRED

    def __init__(self, what: str) -> None:
        super().__init__(
            f"upgrade photoark on this device (to 0.3 or later): this server keeps files in S3 "
            f"storage and does not take {what} through its API; newer clients send and fetch "
            "the bytes with presigned URLs",
            {"reason": "direct_transfer_required"},
        )


class QuotaExceeded(ServerError):
    code = ErrorCode.QUOTA_EXCEEDED

    def __init__(self, quota_bytes: int, used_bytes: int, requested_bytes: int) -> None:
        super().__init__(
            f"quota exceeded: {human_size(used_bytes)} used of {human_size(quota_bytes)}, "
            f"{human_size(requested_bytes)} more requested",
            {
                "quota_bytes": quota_bytes,
                "used_bytes": used_bytes,
                "requested_bytes": requested_bytes,
            },
        )


class StorageFull(ServerError):
    code = ErrorCode.STORAGE_FULL

    def __init__(self, message: str = "the server's storage is full") -> None:
        super().__init__(message)


class RangeNotSatisfiable(ServerError):
    code = ErrorCode.RANGE_NOT_SATISFIABLE

    def __init__(self, size: int) -> None:
        super().__init__(f"requested range not satisfiable (size {size})", {"size": size})
        self.size = size


class RequestTimeout(ServerError):
    code = ErrorCode.REQUEST_TIMEOUT


class ObjectDamaged(ServerError):
    """A stored object that is shorter than recorded or cannot be read: the copy is bad."""

    code = ErrorCode.OBJECT_DAMAGED


class RetryLater(ServerError):
    """Refused for now; the answer says when to try again (``Retry-After``, whole seconds)."""

    def __init__(
        self, message: str, retry_after: float, details: dict[str, object] | None = None
    ) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(message, {**(details or {}), "retry_after": self.retry_after})


class RateLimited(RetryLater):
    code = ErrorCode.RATE_LIMITED


class Busy(RetryLater):
    code = ErrorCode.BUSY
