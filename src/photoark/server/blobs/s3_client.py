"""boto3 for the S3 store (:mod:`.s3`): configured clients, and botocore's errors as domain
errors.

Clients: path-style addressing, SigV4, flexible checksums only when an operation requires them (S3
services other than AWS differ on them; ``Content-MD5`` and ETags cover integrity, docs/s3-notes.md
§3.4), "standard" retries. One boto3 session per profile and credentials in the environment is
shared by every store: a new session loads the service model again (~0.15 s), a client from a warm
one takes ~5 ms. Clients are thread-safe.

Errors, mapped once in :func:`boto_errors` by error *code* (never by message text):
``NoSuchKey``/``NoSuchUpload``/``InvalidPart``/404 → :class:`NotFound`; ``PreconditionFailed``
→ :class:`FileExistsError`; ``BadDigest`` → :class:`ChecksumMismatch`; ``EntityTooSmall`` →
:class:`BadRequest` (``details.min_part_size``); ``SlowDown``/503 → :class:`Busy`; refused or
missing credentials, a missing bucket, an unreachable endpoint and anything else →
:class:`~.base.BlobStoreError`, whose message says what to set.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)

from photoark.server.blobs.base import BlobStoreError
from photoark.server.errors import BadRequest, Busy, ChecksumMismatch, NotFound

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["MIN_PART_SIZE", "boto_errors", "clean_etag", "make_client", "md5_b64"]

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
MAX_POOL = 32  # connections per client (put_objects runs 16 requests at once)

_CREDENTIAL_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    ProfileNotFound,
)
_REFUSED = {
    "403",
    "AccessDenied",
    "AllAccessDisabled",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidToken",
    "SignatureDoesNotMatch",
}
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload", "InvalidPart", "InvalidPartOrder"}
_BUSY = {"503", "SlowDown", "ServiceUnavailable", "RequestLimitExceeded", "Throttling"}

_SESSIONS_LOCK = threading.Lock()  # a boto3 session makes one client at a time


_CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def _session(profile: str | None) -> boto3.session.Session:
    """A boto3 session for ``profile`` and the credentials in the environment now, shared: a
    new session loads the service model again (~0.15 s), a client from a warm one takes ~5 ms.
    A session keeps the credentials it found, hence the environment in the key. Call with
    :data:`_SESSIONS_LOCK` held."""
    return _cached_session(profile, tuple(os.environ.get(name) for name in _CREDENTIAL_ENV))


@functools.cache
def _cached_session(profile: str | None, env: tuple[str | None, ...]) -> boto3.session.Session:
    return boto3.session.Session(profile_name=profile)


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _status(err: ClientError) -> int:
    return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def clean_etag(raw: str) -> str:
    """An ETag as S3 sends it (quoted) → lower-case hex without quotes."""
    return raw.strip('"').lower()


def md5_b64(data: bytes | bytearray | memoryview) -> str:
    """The ``Content-MD5`` header's value for ``data``."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def make_client(
    endpoint: str, bucket: str, region: str, profile: str | None, attempts: int
) -> S3Client:
    """An S3 client for ``endpoint``, configured as the module docstring says (``bucket`` only
    names the store in messages). :class:`~.base.BlobStoreError` for a profile that does not
    exist."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": attempts},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=MAX_POOL,
    )
    with boto_errors("open the store", endpoint, bucket), _SESSIONS_LOCK:
        return _session(profile).client(
            "s3", endpoint_url=endpoint, region_name=region, config=config
        )


@contextlib.contextmanager
def boto_errors(what: str, endpoint: str, bucket: str) -> Iterator[None]:
    """botocore's errors raised inside as domain errors (see the module docstring); ``what``
    completes "S3 cannot ..." in messages."""
    where = f"bucket {bucket!r} at {endpoint}"
    try:
        yield
    except ClientError as err:
        code, status = _code(err), _status(err)
        if code in _MISSING:
            raise NotFound(f"S3 cannot {what}: {code}") from err
        if code == "PreconditionFailed":
            raise FileExistsError(f"S3 cannot {what}: the object exists") from err
        if code in ("BadDigest", "InvalidDigest"):
            raise ChecksumMismatch(f"S3 cannot {what}: the bytes do not match their MD5") from err
        if code == "EntityTooSmall":
            raise BadRequest(
                f"S3 cannot {what}: every part but the last must be at least 5 MiB",
                {"min_part_size": MIN_PART_SIZE},
            ) from err
        if code in _BUSY:
            raise Busy(f"S3 at {endpoint} is busy ({code})", retry_after=1) from err
        if code == "NoSuchBucket":
            raise BlobStoreError(f"bucket {bucket!r} does not exist at {endpoint}") from err
        if code in _REFUSED:
            raise BlobStoreError(
                f"S3 refused the credentials for {where} ({code}): set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY to keys allowed on the bucket, or profile= in the store "
                "URL to a profile that has them"
            ) from err
        raise BlobStoreError(
            f"S3 cannot {what} in {where}: {code or 'error'} (HTTP {status})"
        ) from err
    except _CREDENTIAL_ERRORS as err:
        raise BlobStoreError(
            f"no S3 credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            f"or profile= in the store URL ({type(err).__name__}: {err})"
        ) from err
    except BotoCoreError as err:
        raise BlobStoreError(f"cannot reach S3 at {endpoint} to {what}: {err}") from err
