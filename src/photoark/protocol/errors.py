"""Stable error codes of the HTTP API, shared by server and client.

Every error response is a JSON problem body ``{"code": ..., "message": ..., "details": {...}}``
with one of these codes; clients branch on ``code``, never on the message text.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["HTTP_STATUS", "ErrorCode"]


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"  # malformed or invalid input
    UNAUTHORIZED = "unauthorized"  # missing, invalid or revoked token
    INVALID_CREDENTIALS = "invalid_credentials"  # wrong email or password (never says which)
    EMAIL_TAKEN = "email_taken"
    NOT_FOUND = "not_found"  # absent, or belongs to another user (never distinguished)
    CONFLICT = "conflict"  # state does not allow it (e.g. upload already committed elsewhere)
    QUOTA_EXCEEDED = "quota_exceeded"
    TOO_LARGE = "too_large"  # a request body over the server's limit (1 MiB; parts excepted)
    STORAGE_FULL = "storage_full"  # the server's disk is full
    UPLOAD_INCOMPLETE = "upload_incomplete"  # commit of an upload that misses parts
    CHECKSUM_MISMATCH = "checksum_mismatch"  # a part's body does not match its declared SHA-256
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
    REQUEST_TIMEOUT = "request_timeout"  # a request body that stayed silent too long
    RATE_LIMITED = "rate_limited"  # too many attempts (logins): wait Retry-After seconds
    BUSY = "busy"  # the server is at capacity for this work: retry after Retry-After seconds
    OBJECT_DAMAGED = "object_damaged"  # the stored copy is truncated or unreadable
    # the server keeps blobs in S3: bytes go to presigned URLs, never through the server (an
    # older client must be upgraded)
    DIRECT_TRANSFER_REQUIRED = "direct_transfer_required"
    INTERNAL = "internal"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.EMAIL_TAKEN: 409,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.QUOTA_EXCEEDED: 413,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.STORAGE_FULL: 507,
    ErrorCode.UPLOAD_INCOMPLETE: 409,
    ErrorCode.CHECKSUM_MISMATCH: 400,
    ErrorCode.RANGE_NOT_SATISFIABLE: 416,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.BUSY: 503,
    ErrorCode.OBJECT_DAMAGED: 410,  # retrying cannot help: the copy on the server is bad
    ErrorCode.DIRECT_TRANSFER_REQUIRED: 409,
    ErrorCode.INTERNAL: 500,
}
