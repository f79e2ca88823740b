"""Blob stores from the command line's store URLs (``--blobs``, ``--replicate-to``).

``None`` is the local directory store under the data directory. An S3 store is::

    s3://BUCKET[/PREFIX]?endpoint=URL[&region=R][&public_endpoint=URL][&profile=P]
        [&verify=etag|size][&name=N]

- ``endpoint`` (required): the S3 service, ``http(s)://host[:port]``. Presigned URLs are signed
  for a host name, so it must be the address clients reach, unless ``public_endpoint`` is
  that address (then the server talks to ``endpoint`` and signs URLs for ``public_endpoint``).
- ``region``: ``us-east-1`` unless given (SigV4 signs it; SeaweedFS and MinIO accept any).
- ``profile``: a profile of the AWS shared files, for a store that needs other keys than
  ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (a replica in another account).
- ``verify``: ``etag`` (default) checks uploads against MD5 ETags; ``size`` only checks sizes,
  for services whose ETags are not MD5s (AWS buckets with SSE-KMS).
- ``name``: how replication names the store in its bookkeeping and logs (default
  ``BUCKET[/PREFIX]@host:port``); keep it stable, it keys the copies made so far.

Credentials never go in the URL. Every problem (a malformed URL, a bucket that does not exist or
cannot be reached, missing or refused credentials) is a :class:`~.base.BlobStoreError` whose
message says what to set.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args
from urllib.parse import parse_qsl, urlsplit

from photoark.server.blobs.base import BlobStore, BlobStoreError
from photoark.server.blobs.local import LocalBlobStore
from photoark.server.blobs.replicated import ReplicatedStore
from photoark.server.blobs.s3 import S3BlobStore, Verify

__all__ = [
    "URL_FORM",
    "S3Location",
    "open_blob_store",
    "open_replicated",
    "parse_store_url",
    "store_name",
]

URL_FORM = (
    "s3://BUCKET[/PREFIX]?endpoint=URL[&region=R][&public_endpoint=URL][&profile=P]"
    "[&verify=etag|size][&name=N]"
)
LOCAL_NAME = "local"
MAX_NAME = 64  # object_copies.store

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_REGION = re.compile(r"^[a-z0-9-]{1,32}$")
_NAME = re.compile(r"^[A-Za-z0-9._@:/-]{1,64}$")
_PARAMS = ("endpoint", "region", "public_endpoint", "profile", "verify", "name")


@dataclass(frozen=True)
class S3Location:
    """A parsed ``s3://`` store URL (see the module docstring)."""

    bucket: str
    prefix: str
    endpoint: str
    region: str = "us-east-1"
    public_endpoint: str | None = None
    profile: str | None = None
    verify: Verify = "etag"
    name: str | None = None

    def store_name(self) -> str:
        """``name=``, else ``BUCKET[/PREFIX]@host:port``, cut to :data:`MAX_NAME` characters
        (with a hash of the whole when cut)."""
        if self.name:
            return self.name
        host = urlsplit(self.endpoint).netloc
        full = f"{self.bucket}{'/' + self.prefix if self.prefix else ''}@{host}"
        if len(full) <= MAX_NAME:
            return full
        digest = hashlib.sha256(full.encode()).hexdigest()[:8]
        return f"{full[: MAX_NAME - 9]}~{digest}"

    def open(self) -> S3BlobStore:
        return S3BlobStore(
            self.bucket,
            self.prefix,
            endpoint=self.endpoint,
            region=self.region,
            public_endpoint=self.public_endpoint,
            profile=self.profile,
            verify=self.verify,
            name=self.store_name(),
        )


def _bad(url: str, why: str) -> BlobStoreError:
    return BlobStoreError(f"invalid store URL {url!r}: {why}; expected {URL_FORM}")


def _endpoint(url: str, param: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad(url, f"{param} must be http://HOST[:PORT] or https://HOST[:PORT]")
    if parts.username or parts.password:
        raise _bad(url, f"{param} must not carry credentials (set AWS_ACCESS_KEY_ID instead)")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise _bad(url, f"{param} must be a bare http(s)://HOST[:PORT], without a path")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as err:
        raise _bad(url, f"{param} has an invalid port") from err
    return f"{parts.scheme}://{parts.netloc}"


def parse_store_url(url: str) -> S3Location:
    """Parse an ``s3://`` store URL; :class:`~.base.BlobStoreError` saying what is wrong."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - a malformed netloc raises here
    except ValueError as err:
        raise _bad(url, str(err)) from err
    if parts.scheme != "s3":
        raise _bad(url, "only s3:// URLs name a store (leave --blobs out for the data directory)")
    if parts.username is not None or parts.password is not None:
        raise _bad(
            url, "credentials do not go in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    bucket = parts.netloc
    if not _BUCKET.match(bucket):
        raise _bad(url, f"{bucket!r} is not a bucket name (3-63 of a-z 0-9 . -)")
    prefix = parts.path.strip("/")
    if prefix and (not _PREFIX.match(prefix) or ".." in prefix.split("/")):
        raise _bad(url, f"{prefix!r} is not a key prefix (A-Z a-z 0-9 . _ - and /)")
    if parts.fragment:
        raise _bad(url, "a store URL has no #fragment")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as err:
        raise _bad(url, f"malformed query: {err}") from err
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in _PARAMS:
            raise _bad(url, f"unknown parameter {key!r} (known: {', '.join(_PARAMS)})")
        if key in params:
            raise _bad(url, f"{key} is given twice")
        if not value:
            raise _bad(url, f"{key} is empty")
        params[key] = value
    if "endpoint" not in params:
        raise _bad(url, "endpoint= is required (the S3 service's http(s)://HOST[:PORT])")
    region = params.get("region", "us-east-1")
    if not _REGION.match(region):
        raise _bad(url, f"{region!r} is not a region name")
    verify = params.get("verify", "etag")
    if verify not in get_args(Verify):
        raise _bad(url, "verify must be etag or size")
    name = params.get("name")
    if name is not None and not _NAME.match(name):
        raise _bad(url, "name must be 1-64 of A-Z a-z 0-9 . _ @ : / -")
    public = params.get("public_endpoint")
    return S3Location(
        bucket=bucket,
        prefix=prefix,
        endpoint=_endpoint(url, "endpoint", params["endpoint"]),
        region=region,
        public_endpoint=None if public is None else _endpoint(url, "public_endpoint", public),
        profile=params.get("profile"),
        verify="size" if verify == "size" else "etag",
        name=name,
    )


def store_name(url: str | None) -> str:
    """The store's stable name: ``local`` for the data directory, else
    :meth:`S3Location.store_name`."""
    return LOCAL_NAME if url is None else parse_store_url(url).store_name()


def open_blob_store(url: str | None, data_dir: Path, *, check: bool = True) -> BlobStore:
    """The store ``url`` names (``None``: the local store in ``data_dir``). With ``check``, an
    S3 store's bucket is reached now (HeadBucket), so a wrong endpoint, bucket or credentials
    fail at start with a :class:`~.base.BlobStoreError` rather than at the first upload."""
    if url is None:
        return LocalBlobStore(data_dir)
    store = parse_store_url(url).open()
    if check:
        store.check()
    return store


def open_replicated(
    url: str | None, replicate_to: Sequence[str], data_dir: Path, *, check: bool = True
) -> ReplicatedStore:
    """The primary store ``url`` and a replica for each of ``replicate_to`` (S3 URLs), named
    by :func:`store_name`; every one checked as :func:`open_blob_store` does."""
    primary = open_blob_store(url, data_dir, check=check)
    replicas: dict[str, BlobStore] = {}
    names = {store_name(url)}
    places = {_place(url)}
    for replica_url in replicate_to:
        name = store_name(replica_url)
        if name in names:
            raise BlobStoreError(
                f"two stores are named {name!r}: add name=... to one of their URLs"
            )
        if _place(replica_url) in places:  # a copy onto itself; its sweep would abort uploads
            raise BlobStoreError(
                f"{replica_url} is the same bucket and prefix as another store: a replica must "
                "be another bucket, prefix or service"
            )
        names.add(name)
        places.add(_place(replica_url))
        replicas[name] = open_blob_store(replica_url, data_dir, check=check)
    return ReplicatedStore(primary, replicas)


def _place(url: str | None) -> tuple[str, str, str] | None:
    """Where a store's objects are (endpoint, bucket, prefix), whatever it is named: ``None``
    for the data directory. (Two host names of one service are not recognised.)"""
    if url is None:
        return None
    where = parse_store_url(url)
    return (where.endpoint.rstrip("/").lower(), where.bucket, where.prefix.strip("/"))
