"""The building blocks of the wire models (:mod:`.models`, :mod:`.direct`): base64 values,
size limits, constrained field types and the strict, frozen base model.

Binary values travel as standard base64 strings (type :data:`B64`).
"""

from __future__ import annotations

import base64
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

__all__ = [
    "B64",
    "EVENTS_HEARTBEAT_SECONDS",
    "MAX_BUNDLE_BYTES",
    "MAX_BUNDLE_FILES",
    "MAX_EMBEDDING_BYTES",
    "MAX_EMBEDDING_QUERY",
    "MAX_INT",
    "MAX_KEY_BYTES",
    "MAX_MARKS",
    "MAX_METADATA_BYTES",
    "MAX_NAME_BYTES",
    "MAX_PART_SIZE",
    "MAX_PART_URLS",
    "MAX_THUMBNAIL_BYTES",
    "MAX_TRASH_PAGE",
    "MIN_PART_SIZE",
    "UPLOAD_ID_PATTERN",
    "B64Embedding",
    "B64Key",
    "B64Md5",
    "B64Metadata",
    "B64Name",
    "B64Thumbnail",
    "ClientUploadId",
    "HashHex",
    "Int64",
    "MarkHex",
    "Md5Hex",
    "ModelName",
    "UploadId",
    "WireModel",
]


def _b64decode(value: object) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError) as err:
            raise ValueError("invalid base64") from err
    raise ValueError("expected a base64 string")


B64 = Annotated[
    bytes,
    BeforeValidator(_b64decode),
    PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), return_type=str),
]

MAX_PART_SIZE = 64 * 1024 * 1024
MIN_PART_SIZE = 64 * 1024

# Field limits (decoded bytes for B64 fields): larger values are refused with 400 bad_request.
MAX_KEY_BYTES = 1024  # wrapped keys, salts, login keys
MAX_NAME_BYTES = 4 * 1024  # encrypted album names
MAX_METADATA_BYTES = 64 * 1024  # encrypted file metadata
MAX_THUMBNAIL_BYTES = 512 * 1024  # an inline encrypted thumbnail (FileCommit.thumbnail)
MAX_INT = 2**63 - 1  # ids, sizes and counters: a signed 64-bit integer in both databases
MAX_BUNDLE_FILES = 256  # items in one bundle or thumbnail bundle
MAX_BUNDLE_BYTES = 64 * 1024 * 1024  # a framed bundle body, header included
EVENTS_HEARTBEAT_SECONDS = 15.0  # GET /events: longest silence before a ": ping" comment
MAX_TRASH_PAGE = 1000  # GET /trash: items in one page
MAX_MARKS = 1000  # deletion marks in one POST /marks or /marks/remove
MAX_EMBEDDING_BYTES = 16 * 1024  # one sealed embedding (1280 float16 + fingerprint + box: ~2.7 KiB)
MAX_EMBEDDING_QUERY = 1000  # file ids in one POST /embeddings/query
MAX_PART_URLS = 100  # presigned part URLs in one answer (UploadSession.part_urls, GET …/urls)

B64Key = Annotated[B64, Field(max_length=MAX_KEY_BYTES)]
B64Name = Annotated[B64, Field(max_length=MAX_NAME_BYTES)]
B64Metadata = Annotated[B64, Field(max_length=MAX_METADATA_BYTES)]
B64Thumbnail = Annotated[B64, Field(min_length=1, max_length=MAX_THUMBNAIL_BYTES)]
Int64 = Annotated[int, Field(ge=0, le=MAX_INT)]
UPLOAD_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # the server issues 32 hex digits
UploadId = Annotated[str, Field(pattern=UPLOAD_ID_PATTERN)]
ClientUploadId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
HashHex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
MarkHex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]  # a deletion mark: 32 bytes, hex
Md5Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]  # an MD5 digest, lowercase hex
B64Md5 = Annotated[B64, Field(min_length=16, max_length=16)]  # an MD5 digest, base64 (16 bytes)
ModelName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$")]  # an embedding model
B64Embedding = Annotated[B64, Field(min_length=1, max_length=MAX_EMBEDDING_BYTES)]


class WireModel(BaseModel):
    """The base of every wire model: unknown fields refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
