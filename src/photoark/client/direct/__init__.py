"""Direct transfers: with a server that keeps its blobs in S3, the bytes go to and from the
object store by presigned URL, never through the server.

:class:`DirectHttp` is the connection to the store (its errors mapped once);
:class:`DirectEndpoints` the server's endpoints for it and the flows built on them, a base of
:class:`~photoark.client.api.ApiClient`.
"""

from photoark.client.direct.endpoints import (
    DIRECT_IN_FLIGHT,
    DirectEndpoints,
    DownloadKind,
    StagedBlob,
)
from photoark.client.direct.http import DirectHttp, DirectPut, md5_of, redacted

__all__ = [
    "DIRECT_IN_FLIGHT",
    "DirectEndpoints",
    "DirectHttp",
    "DirectPut",
    "DownloadKind",
    "StagedBlob",
    "md5_of",
    "redacted",
]
