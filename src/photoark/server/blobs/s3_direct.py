"""The S3 bucket and its presigned path (:class:`~.base.DirectStore`), on boto3.

:class:`S3DirectStore` holds one bucket, an optional key prefix (``<prefix>/<key>``), the
boto3 clients and the error mapping (from :mod:`.s3_client`: path-style, SigV4, no flexible
checksums; botocore's errors mapped by code to domain errors). Credentials come from boto3's
chain (environment, then the shared files; a ``profile`` picks other keys).

This is the production path: the server creates and completes multipart uploads and presigns
URLs; clients move the bytes. Presigned URLs are made with a client on ``public_endpoint`` when
given (a URL is bound to the host name it was signed for). :class:`~.s3.S3BlobStore` adds the
server-side :class:`~.base.BlobStore` contract and copies on top of it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal

from photoark.server.blobs.base import BlobStoreError, ObjectInfo, Presigned, check_key
from photoark.server.blobs.s3_client import boto_errors, clean_etag, make_client
from photoark.server.errors import NotFound

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, PartTypeDef

__all__ = ["MAX_PARTS", "MAX_PRESIGN_SECONDS", "S3DirectStore", "Verify"]

MAX_PARTS = 10_000  # S3's limit of parts in one multipart upload
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit
_LIST_PART_PAGE = 100  # list_part: one page holds every copy of a part, short of 100 re-PUTs

Verify = Literal["etag", "size"]


class S3DirectStore:
    """The bucket ``bucket`` (keys under ``prefix``) at ``endpoint``, and the presigned path:
    the :class:`~.base.DirectStore` half of :class:`~.s3.S3BlobStore`."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str,
        region: str = "us-east-1",
        public_endpoint: str | None = None,
        profile: str | None = None,
        verify: Verify = "etag",
        name: str | None = None,
        attempts: int = 3,
    ) -> None:
        """``attempts``: boto3's tries per request ("standard" retries: connection errors,
        5xx and throttling, with a random exponential backoff; 3 tries wait up to ~6 s)."""
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.endpoint = endpoint.rstrip("/")
        self.public_endpoint = (public_endpoint or endpoint).rstrip("/")
        self.profile = profile
        self.verify: Verify = verify
        self.name = name or f"{bucket}/{self.prefix}".rstrip("/")
        self._client: S3Client = make_client(self.endpoint, bucket, region, profile, attempts)
        self._signer: S3Client = (
            self._client
            if self.public_endpoint == self.endpoint
            else make_client(self.public_endpoint, bucket, region, profile, attempts)
        )
        # The server-side path's (S3BlobStore's) memory of its multipart uploads:
        self._lock = threading.Lock()
        self._upload_ids: dict[str, str] = {}  # upload key -> UploadId
        self._written: dict[tuple[str, int], str] = {}  # (upload key, n) -> ETag put last

    def close(self) -> None:
        """Close the boto3 clients' pooled connections (idempotent; the store is unusable after)."""
        self._client.close()
        if self._signer is not self._client:
            self._signer.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"

    def describe(self) -> str:
        """``s3://bucket/prefix at endpoint``: for messages (no credentials in it)."""
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint}"

    @property
    def md5_etags(self) -> bool:
        return self.verify == "etag"

    def _k(self, key: str) -> str:
        return self.prefix + check_key(key)

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        with boto_errors(what, self.endpoint, self.bucket):
            yield

    def check(self) -> None:
        """HeadBucket: :class:`~.base.BlobStoreError` saying what to fix when the bucket does
        not exist, cannot be reached, or the credentials are missing or refused."""
        try:
            with self._errors("reach the bucket"):
                self._client.head_bucket(Bucket=self.bucket)
        except NotFound as err:
            raise BlobStoreError(
                f"bucket {self.bucket!r} does not exist at {self.endpoint}: create it, "
                "or fix the bucket name in the store URL"
            ) from err

    # -- DirectStore -----------------------------------------------------------------------

    def create_multipart(self, key: str) -> str:
        with self._errors("create a multipart upload"):
            return self._client.create_multipart_upload(Bucket=self.bucket, Key=self._k(key))[
                "UploadId"
            ]

    def _presign(
        self, method: str, headers: dict[str, str], params: dict[str, object], ttl: float
    ) -> Presigned:
        """A URL for ``method`` (a boto3 operation) valid ``ttl`` seconds, clamped to 1 s ..
        7 days (SigV4's limit); ``expires_at`` errs early by the signing time."""
        expires = max(1, min(int(ttl), MAX_PRESIGN_SECONDS))
        expires_at = time.time() + expires
        with self._errors("presign a URL"):
            url = self._signer.generate_presigned_url(
                method, Params={"Bucket": self.bucket, **params}, ExpiresIn=expires
            )
        return Presigned(url, "GET" if method == "get_object" else "PUT", headers, expires_at)

    def presign_part(self, key: str, upload_id: str, n: int, size: int, ttl: float) -> Presigned:
        if not 0 <= n < MAX_PARTS:
            raise ValueError(f"part number {n} outside 0..{MAX_PARTS - 1}")
        params: dict[str, object] = {
            "Key": self._k(key),
            "UploadId": upload_id,
            "PartNumber": n + 1,
            "ContentLength": size,
        }
        return self._presign("upload_part", {"Content-Length": str(size)}, params, ttl)

    def list_part(self, key: str, upload_id: str, n: int) -> list[ObjectInfo]:
        with self._errors("list parts"):
            answer = self._client.list_parts(
                Bucket=self.bucket,
                Key=self._k(key),
                UploadId=upload_id,
                PartNumberMarker=n,  # parts numbered after n, i.e. from S3's n+1
                MaxParts=_LIST_PART_PAGE,
            )
            copies = [p for p in answer.get("Parts", []) if p.get("PartNumber") == n + 1]
            if answer.get("IsTruncated") and len(copies) == len(answer.get("Parts", [])):
                copies = [  # a page of nothing but copies of this part: list them all
                    p for p in self._all_parts(key, upload_id) if p.get("PartNumber") == n + 1
                ]
        return [ObjectInfo(int(p.get("Size", 0)), clean_etag(p.get("ETag", ""))) for p in copies]

    def _all_parts(self, key: str, upload_id: str) -> Iterator[PartTypeDef]:
        pages = self._client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=self._k(key), UploadId=upload_id
        )
        for page in pages:
            yield from page.get("Parts", [])

    def complete_multipart(self, key: str, upload_id: str, etags: Sequence[str]) -> ObjectInfo:
        parts: list[CompletedPartTypeDef] = [
            {"ETag": f'"{clean_etag(e)}"', "PartNumber": n + 1} for n, e in enumerate(etags)
        ]
        try:
            with self._errors("complete a multipart upload"):
                self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self._k(key),
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except NotFound:
            info = self.head(key)  # a repeated complete: the upload is gone, the object here
            if info is None:
                raise
            return info
        info = self.head(key)
        if info is None:
            raise NotFound(f"object {key} missing right after its upload completed")
        return info

    def abort_multipart(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(NotFound), self._errors("abort a multipart upload"):
            self._client.abort_multipart_upload(
                Bucket=self.bucket, Key=self._k(key), UploadId=upload_id
            )

    def presign_put(self, key: str, size: int, md5_b64: str, ttl: float) -> Presigned:
        params: dict[str, object] = {
            "Key": self._k(key),
            "ContentLength": size,
            "ContentMD5": md5_b64,
            "IfNoneMatch": "*",
        }
        headers = {"Content-Length": str(size), "Content-MD5": md5_b64, "If-None-Match": "*"}
        return self._presign("put_object", headers, params, ttl)

    def head(self, key: str) -> ObjectInfo | None:
        try:
            with self._errors("read an object's size"):
                answer = self._client.head_object(Bucket=self.bucket, Key=self._k(key))
        except NotFound:
            return None
        return ObjectInfo(int(answer.get("ContentLength", 0)), clean_etag(answer.get("ETag", "")))

    def presign_get(self, key: str, ttl: float) -> Presigned:
        return self._presign("get_object", {}, {"Key": self._k(key)}, ttl)
