"""Fixtures and importable builders for the server tests.

- ``backend`` is parametrised over ``sqlite+local`` (SQLite, a file in the test's tmp dir, and
  blobs in the data directory) and ``postgres+s3`` (a fresh PostgreSQL database per test in a
  throw-away cluster started once per session, and blobs in S3: one SeaweedFS and one bucket
  per session, a ``t-<uuid>`` key prefix per test; direct transfers). Each is skipped cleanly
  when its binaries are absent. ``database_url`` and ``blobs_url`` follow it.
- A test marked ``local_blobs`` exercises bytes through the server (raw part bodies, framed
  bundles, inline thumbnails, the data directory, a full disk): it runs on ``sqlite+local``
  only.
- :class:`Api` drives the real app in-process (Starlette's TestClient, built on httpx) and
  builds what tests need: accounts with cheap Argon2 limits, albums, uploads, committed files.
  On an S3 server (``api.direct``) the builders take the direct routes (presigned PUTs to the
  store, then confirmations), and requests to the store's URLs (redirected downloads too) go
  over the network instead of to the app.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3
import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Client, Response

from photoark.crypto.boxes import new_key, seal, seal_json, wrap_key
from photoark.crypto.keys import ARGON2_MIN, AccountKeys, create_account_keys
from photoark.protocol.frames import encode_frames
from photoark.protocol.models import (
    MIN_PART_SIZE,
    Bundle,
    BundleItem,
    ThumbnailBundle,
    ThumbnailItem,
)
from photoark.server.app import create_app
from photoark.server.blobs import BlobStore, ReplicatedStore
from photoark.server.config import ServerSettings
from photoark.server.services import Services
from tests.builders import signup_json
from tests.clusters import WeedCluster
from tests.s3_fixtures import s3_bucket_fixture, weed_fixture  # noqa: F401  (pytest fixtures)

PASSWORD = "correct horse battery staple"
S3_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part but the last: the builders' default there
LOCAL, S3 = "sqlite+local", "postgres+s3"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "local_blobs: sqlite+local only (bytes through the server, its data directory, SQLite)",
    )
    config.addinivalue_line("markers", "pg_s3_only: postgres+s3 only (e.g. LISTEN/NOTIFY)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A ``local_blobs`` test has no postgres+s3 case and a ``pg_s3_only`` one no sqlite+local
    case: deselected there (not skipped, so a skip in CI always means something is missing)."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        other = {S3: "local_blobs", LOCAL: "pg_s3_only"}.get(str(backend))
        mismatch = other is not None and item.get_closest_marker(other) is not None
        (dropped if mismatch else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- PostgreSQL ---------------------------------------------------------------------------------


def find_pg_bindir() -> Path | None:
    """Debian's versioned bin dir, or wherever ``initdb`` is on PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class PgCluster:
    """A throw-away cluster on 127.0.0.1:port with trust auth for user ``postgres``."""

    bindir: Path
    base: Path
    port: int
    run_as: list[str]

    @property
    def data(self) -> Path:
        return self.base / "data"

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.run_as, *args], check=True, capture_output=True)

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"),
            "-o", options, "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def admin(self, sql: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    bindir = find_pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")
    # Not under pytest's tmp dir: that is private to root, and the cluster runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="photoark-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        pg = pwd.getpwnam("postgres")
        os.chown(base, pg.pw_uid, pg.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    cluster = PgCluster(bindir, base, free_port(), run_as)
    try:
        cluster.start()
    except subprocess.CalledProcessError as err:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {err.stderr.decode(errors='replace')[-300:]}")
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=[LOCAL, pytest.param(S3, marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite+local`` or ``postgres+s3`` (see the module docstring)."""
    return str(request.param)


@pytest.fixture
def blobs_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """The server's ``--blobs``: ``None`` (the data directory), or an S3 store URL with a
    fresh prefix in the session's bucket."""
    if backend != S3:
        return None
    weed: WeedCluster = request.getfixturevalue("weed")
    bucket: str = request.getfixturevalue("s3_bucket")
    return weed.url(bucket, f"t-{uuid.uuid4().hex}")


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == LOCAL:
        yield f"sqlite:///{tmp_path}/photoark.db"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    dbname = f"t_{uuid.uuid4().hex[:12]}"
    cluster.admin(f"CREATE DATABASE {dbname}")
    yield cluster.url(dbname)
    cluster.admin(f"DROP DATABASE {dbname} WITH (FORCE)")


# -- the app and builders -----------------------------------------------------------------------


@dataclass
class Account:
    email: str
    token: str
    user_id: int
    keys: AccountKeys

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Album:
    id: int
    key: bytes


@dataclass
class Uploaded:
    upload_id: str
    data: bytes


class _AppOrStore(httpx.BaseTransport):
    """Requests to the test server go to the app; any other host (the S3 store's presigned
    URLs, where a download redirects) goes over the network."""

    def __init__(self, app: httpx.BaseTransport) -> None:
        self._app = app
        self._network = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "testserver":
            return self._app.handle_request(request)
        return self._network.handle_request(request)

    def close(self) -> None:
        self._network.close()
        self._app.close()


def md5_b64(data: bytes) -> str:
    return b64(hashlib.md5(data, usedforsecurity=False).digest())


class Api:
    """The in-process app plus builders that speak the real HTTP API."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # typed as the httpx client it is at run time: fastapi's TestClient is typed against
        # httpx2, which is not installed, so its methods would otherwise return Any
        self.http = TestClient(app)
        self._emails = 0

    @property
    def http(self) -> Client:
        """The client of the app (and of the store's URLs: see :class:`_AppOrStore`)."""
        return self._http

    @http.setter
    def http(self, client: Client) -> None:
        # (typed as the httpx client it is at run time: fastapi's TestClient is typed against
        # httpx2, which is not installed, so its methods would otherwise return Any)
        if not isinstance(client._transport, _AppOrStore):
            client._transport = _AppOrStore(client._transport)
        self._http = client

    @property
    def direct(self) -> bool:
        """Whether the server keeps blobs in S3 (clients PUT and GET presigned URLs)."""
        return self.services.direct.enabled

    @property
    def part_size(self) -> int:
        """The builders' default part size: the protocol's minimum, or S3's."""
        return S3_PART_SIZE if self.direct else MIN_PART_SIZE

    def put_to_store(
        self, url: str, data: bytes, headers: dict[str, str] | None = None
    ) -> Response:
        """A presigned PUT to the store, with ``Content-MD5`` (and ``headers``, signed)."""
        return self.http.put(
            url, content=data, headers={"Content-MD5": md5_b64(data), **(headers or {})}
        )

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    @property
    def blobs(self) -> BlobStore:
        blobs: BlobStore = self.app.state.blobs
        return blobs

    # accounts
    def signup(self, email: str | None = None) -> Account:
        if email is None:
            self._emails += 1
            email = f"user{self._emails}@example.org"
        keys = create_account_keys(PASSWORD, ARGON2_MIN)
        body = signup_json(email, keys)
        response = self.http.post("/auth/signup", json=body)
        assert response.status_code == 201, response.text
        data = response.json()
        return Account(email, data["token"], data["user_id"], keys)

    def login(self, email: str, login_key: bytes) -> Response:
        return self.http.post("/auth/login", json={"email": email, "login_key": b64(login_key)})

    # albums
    def album(self, account: Account, name: str = "album") -> Album:
        key = new_key()
        response = self.http.post(
            "/collections",
            json={
                "encrypted_key": b64(wrap_key(account.keys.master_key, key)),
                "encrypted_name": b64(seal(key, name.encode())),
            },
            headers=account.headers,
        )
        assert response.status_code == 201, response.text
        return Album(response.json()["id"], key)

    # uploads
    def open_upload(
        self, account: Account, size: int, part_size: int | None = None, part_urls: bool = True
    ) -> Response:
        """``POST /uploads``, asking for part URLs (as clients from 0.3 do) unless told not to
        (a client before 0.3)."""
        part_size = part_size or self.part_size
        return self.http.post(
            "/uploads",
            json={"size": size, "part_size": part_size},
            headers=account.headers,
            params={"part_urls": "true"} if part_urls else None,
        )

    def put_part(
        self,
        account: Account,
        upload_id: str,
        number: int,
        data: bytes,
        sha256: str | None = None,
    ) -> Response:
        """Send a part: ``PUT`` through the app, or on S3 a presigned PUT to the store and its
        confirmation (the first answer that is not a success is returned)."""
        digest = sha256 if sha256 is not None else hashlib.sha256(data).hexdigest()
        if not self.direct:
            return self.http.put(
                f"/uploads/{upload_id}/parts/{number}",
                content=data,
                headers={**account.headers, "X-Content-SHA256": digest},
            )
        urls = self.http.get(
            f"/uploads/{upload_id}/urls",
            params={"first": number, "count": 1},
            headers=account.headers,
        )
        if urls.status_code != 200:
            return urls
        sent = self.put_to_store(urls.json()[0]["url"], data)
        if sent.status_code != 200:
            return sent
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return self.http.post(
            f"/uploads/{upload_id}/parts/{number}",
            json={"sha256": digest, "md5": md5},
            headers=account.headers,
        )

    def upload(
        self,
        account: Account,
        data: bytes,
        part_size: int | None = None,
        skip: frozenset[int] = frozenset(),
    ) -> Uploaded:
        """Open a session and send every part (but those in ``skip``)."""
        part_size = part_size or self.part_size
        response = self.open_upload(account, len(data), part_size)
        assert response.status_code == 201, response.text
        session = response.json()
        for number in range(session["part_count"]):
            if number in skip:
                continue
            part = data[number * part_size : (number + 1) * part_size]
            put = self.put_part(account, session["id"], number, part)
            assert put.status_code == 200, put.text
        return Uploaded(session["id"], data)

    def commit(
        self,
        account: Account,
        album: Album,
        content: Uploaded,
        thumbnail: Uploaded | None = None,
        file_key: bytes | None = None,
        inline_thumbnail: bytes | None = None,
    ) -> Response:
        """``POST /files``; the thumbnail as an upload (``thumbnail``) and/or inline."""
        file_key = file_key or new_key()
        body: dict[str, Any] = {
            "collection_id": album.id,
            "content_upload_id": content.upload_id,
            "thumbnail_upload_id": thumbnail.upload_id if thumbnail else None,
            "encrypted_key": b64(wrap_key(album.key, file_key)),
            "encrypted_metadata": b64(seal_json(file_key, {"name": "IMG_0001.JPG"})),
        }
        if inline_thumbnail is not None:
            body["thumbnail"] = b64(inline_thumbnail)
        return self.http.post("/files", json=body, headers=account.headers)

    def new_file(
        self, account: Account, album: Album, size: int = 150_000, thumb_size: int = 5_000
    ) -> tuple[dict[str, Any], bytes]:
        """Upload and commit a random file (with a thumbnail); its FileRecord and content."""
        content = self.upload(account, os.urandom(size))
        thumb = self.upload(account, os.urandom(thumb_size)) if thumb_size else None
        response = self.commit(account, album, content, thumb)
        assert response.status_code == 201, response.text
        record: dict[str, Any] = response.json()
        return record, content.data

    def add_to_album(self, account: Account, album: Album, file_id: int) -> Response:
        return self.http.post(
            f"/collections/{album.id}/files",
            json={"file_id": file_id, "encrypted_key": b64(wrap_key(album.key, new_key()))},
            headers=account.headers,
        )

    def bundle(
        self,
        account: Account,
        album: Album,
        contents: list[bytes],
        upload_ids: list[str] | None = None,
        checksums: list[str] | None = None,
    ) -> Response:
        """``POST /files/bundle`` of ``contents`` (random keys; ids random unless given); on S3
        the direct flow (stage, PUT each, commit)."""
        if self.direct:
            assert checksums is None, "BLAKE3 checks are the framed bundle's: local_blobs"
            ids = upload_ids or [uuid.uuid4().hex for _ in contents]
            return self.bundle_direct(account, album, contents, ids)
        items = []
        for index, data in enumerate(contents):
            file_key = new_key()
            items.append(
                BundleItem(
                    upload_id=upload_ids[index] if upload_ids else uuid.uuid4().hex,
                    collection_id=album.id,
                    size=len(data),
                    blake3=checksums[index] if checksums else blake3.blake3(data).hexdigest(),
                    encrypted_key=wrap_key(album.key, file_key),
                    encrypted_metadata=seal_json(file_key, {"name": f"IMG_{index}.JPG"}),
                )
            )
        body = b"".join(encode_frames(Bundle(items=items), contents))
        return self.http.post("/files/bundle", content=body, headers=account.headers)

    def thumbnails(self, account: Account, thumbs: list[tuple[int, bytes]]) -> Response:
        """``POST /files/thumbnails`` attaching ``(file_id, encrypted thumbnail)`` pairs; on S3
        the direct flow (stage, PUT each, commit)."""
        if self.direct:
            staged = self.stage(account, [d for _, d in thumbs])
            if staged.status_code != 201:
                return staged
            items = [
                {"file_id": file_id, "upload_id": entry["id"], "md5": md5_b64(data)}
                for (file_id, data), entry in zip(thumbs, staged.json(), strict=True)
            ]
            return self.http.post(
                "/files/thumbnails/direct", json={"items": items}, headers=account.headers
            )
        header = ThumbnailBundle(
            items=[
                ThumbnailItem(file_id=i, size=len(d), blake3=blake3.blake3(d).hexdigest())
                for i, d in thumbs
            ]
        )
        body = b"".join(encode_frames(header, [d for _, d in thumbs]))
        return self.http.post("/files/thumbnails", content=body, headers=account.headers)

    # direct transfers (S3)
    def stage(
        self, account: Account, contents: list[bytes], ids: list[str] | None = None
    ) -> Response:
        """``POST /uploads/direct`` for ``contents``, then a PUT of each open one to its URL
        (412 "already there" is fine); the staging answer."""
        items = [
            {"size": len(data), "md5": md5_b64(data), **({"id": ids[i]} if ids else {})}
            for i, data in enumerate(contents)
        ]
        staged = self.http.post("/uploads/direct", json={"items": items}, headers=account.headers)
        if staged.status_code != 201:
            return staged
        for entry, data in zip(staged.json(), contents, strict=True):
            if entry["put"] is not None:
                sent = self.put_to_store(entry["put"]["url"], data, entry["put"]["headers"])
                assert sent.status_code in (200, 412), sent.text
        return staged

    def bundle_direct(
        self, account: Account, album: Album, contents: list[bytes], ids: list[str]
    ) -> Response:
        """Stage, PUT and commit small files (``POST /files/bundle/direct``)."""
        staged = self.stage(account, contents, ids)
        if staged.status_code != 201:
            return staged
        items = []
        for index, data in enumerate(contents):
            file_key = new_key()
            items.append(
                {
                    "upload_id": ids[index],
                    "collection_id": album.id,
                    "size": len(data),
                    "md5": md5_b64(data),
                    "encrypted_key": b64(wrap_key(album.key, file_key)),
                    "encrypted_metadata": b64(seal_json(file_key, {"name": f"IMG_{index}.JPG"})),
                }
            )
        return self.http.post(
            "/files/bundle/direct", json={"items": items}, headers=account.headers
        )

    def usage(self, account: Account) -> dict[str, Any]:
        response = self.http.get("/usage", headers=account.headers)
        assert response.status_code == 200, response.text
        usage: dict[str, Any] = response.json()
        return usage


AppFactory = Callable[..., Api]


@pytest.fixture
def make_api(tmp_path: Path, database_url: str, blobs_url: str | None) -> Iterator[AppFactory]:
    """Build an :class:`Api` for settings overrides and an optional blob store (which
    replaces the backend's)."""
    apps: list[FastAPI] = []
    apis: list[Api] = []

    def make(blobs: BlobStore | None = None, **overrides: Any) -> Api:
        overrides.setdefault("blobs_url", blobs_url)
        overrides.setdefault("replication_health_seconds", 0.0)  # tests read the backlog now
        settings = ServerSettings(
            data_dir=tmp_path / f"server{len(apps)}",
            database_url=database_url,
            login_hash="min",
            **overrides,
        )
        app = create_app(settings, blobs=blobs)
        apps.append(app)
        apis.append(Api(app))
        return apis[-1]

    yield make
    for api in apis:
        api.http.close()
    for app in apps:
        app.state.engine.dispose()
        close_stores(app)


def close_stores(app: FastAPI) -> None:
    """Close the app's blob stores' connections (an S3 client's pooled sockets)."""
    stores: ReplicatedStore = app.state.stores
    stores.close()


@pytest.fixture
def api(make_api: AppFactory) -> Api:
    return make_api()


@pytest.fixture
def alice(api: Api) -> Account:
    return api.signup("alice@example.org")


@pytest.fixture
def bob(api: Api) -> Account:
    return api.signup("bob@example.org")
