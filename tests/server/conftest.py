"""Fixtures and importable builders for the server tests.

- ``database_url`` is parametrised over SQLite (a file in the test's tmp dir) and PostgreSQL (a
  fresh database per test in a throw-away cluster started once per session; skipped cleanly
  when Debian's ``initdb``/``pg_ctl`` are absent).
- :class:`Api` drives the real app in-process (Starlette's TestClient, built on httpx) and
  builds what tests need: accounts with cheap Argon2 limits, albums, uploads, committed files.
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
from photoark.server.blobs import BlobStore
from photoark.server.config import ServerSettings
from photoark.server.services import Services
from tests.builders import signup_json

PASSWORD = "correct horse battery staple"


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
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


class Api:
    """The in-process app plus builders that speak the real HTTP API."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # typed as the httpx client it is at run time: fastapi's TestClient is typed against
        # httpx2, which is not installed, so its methods would otherwise return Any
        self.http: Client = TestClient(app)
        self._emails = 0

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
    def open_upload(self, account: Account, size: int, part_size: int = MIN_PART_SIZE) -> Response:
        return self.http.post(
            "/uploads", json={"size": size, "part_size": part_size}, headers=account.headers
        )

    def put_part(
        self,
        account: Account,
        upload_id: str,
        number: int,
        data: bytes,
        sha256: str | None = None,
    ) -> Response:
        digest = sha256 if sha256 is not None else hashlib.sha256(data).hexdigest()
        return self.http.put(
            f"/uploads/{upload_id}/parts/{number}",
            content=data,
            headers={**account.headers, "X-Content-SHA256": digest},
        )

    def upload(
        self,
        account: Account,
        data: bytes,
        part_size: int = MIN_PART_SIZE,
        skip: frozenset[int] = frozenset(),
    ) -> Uploaded:
        """Open a session and send every part (but those in ``skip``)."""
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
        """``POST /files/bundle`` of ``contents`` (random keys; ids random unless given)."""
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
        """``POST /files/thumbnails`` attaching ``(file_id, encrypted thumbnail)`` pairs."""
        header = ThumbnailBundle(
            items=[
                ThumbnailItem(file_id=i, size=len(d), blake3=blake3.blake3(d).hexdigest())
                for i, d in thumbs
            ]
        )
        body = b"".join(encode_frames(header, [d for _, d in thumbs]))
        return self.http.post("/files/thumbnails", content=body, headers=account.headers)

    def usage(self, account: Account) -> dict[str, Any]:
        response = self.http.get("/usage", headers=account.headers)
        assert response.status_code == 200, response.text
        usage: dict[str, Any] = response.json()
        return usage


AppFactory = Callable[..., Api]


@pytest.fixture
def make_api(tmp_path: Path, database_url: str) -> Iterator[AppFactory]:
    """Build an :class:`Api` for settings overrides and an optional blob store."""
    apps: list[FastAPI] = []

    def make(blobs: BlobStore | None = None, **overrides: Any) -> Api:
        settings = ServerSettings(
            data_dir=tmp_path / f"server{len(apps)}",
            database_url=database_url,
            login_hash="min",
            **overrides,
        )
        app = create_app(settings, blobs=blobs)
        apps.append(app)
        return Api(app)

    yield make
    for app in apps:
        app.state.engine.dispose()


@pytest.fixture
def api(make_api: AppFactory) -> Api:
    return make_api()


@pytest.fixture
def alice(api: Api) -> Account:
    return api.signup("alice@example.org")


@pytest.fixture
def bob(api: Api) -> Account:
    return api.signup("bob@example.org")
