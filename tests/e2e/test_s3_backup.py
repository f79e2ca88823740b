"""A server that keeps its blobs in S3 (``photoark server --blobs s3://…``, on a real SeaweedFS)
never carries content: the client backs up a multi-part movie and small photos with their
thumbnails by presigned URL, exports them byte-identical, and a client killed mid-movie sends
only the missing parts on the next run.

"No content through the server" is measured: the client reaches the server through a proxy
that counts the bytes each way (the store's URLs point at SeaweedFS directly), and the server's
data directory holds no blob."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from photoark.client.home import resolve_home
from photoark.client.session import Session
from photoark.crypto.stream import decrypt_bytes
from tests.builders import Client, ServerProcess, jpeg_bytes, make_tree, running_server, tree_digest
from tests.s3_fixtures import s3_bucket_fixture, s3_url_fixture, weed_fixture  # noqa: F401

MIB = 1024 * 1024
PART = 8 * MIB


class CountingProxy:
    """A TCP proxy on 127.0.0.1 to ``port``, counting the bytes each way."""

    def __init__(self, port: int) -> None:
        self._target = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.upstream = self.downstream = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(("127.0.0.1", self._target))
            except OSError:
                conn.close()
                continue
            with self._lock:
                self._sockets += [conn, server]
            threading.Thread(target=self._pump, args=(conn, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, conn, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, up: bool) -> None:
        try:
            while data := source.recv(1 << 16):
                sink.sendall(data)
                with self._lock:
                    if up:
                        self.upstream += len(data)
                    else:
                        self.downstream += len(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)  # pass the end of the stream on

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()


@pytest.fixture
def s3_server(tmp_path: Path, s3_url: str) -> Iterator[ServerProcess]:
    """``photoark server --blobs s3://…`` on a fresh prefix of the session's bucket."""
    with running_server(tmp_path, "--blobs", s3_url) as server:
        yield server


@pytest.fixture
def proxy(s3_server: ServerProcess) -> Iterator[CountingProxy]:
    counting = CountingProxy(s3_server.port)
    yield counting
    counting.close()


@pytest.fixture
def alice(tmp_path: Path, proxy: CountingProxy) -> Client:
    client = Client(tmp_path / "alice", proxy.url)
    client.signup()
    return client


def _blob_files(server: ServerProcess) -> list[Path]:
    """Files of a local blob store in the server's data directory (none in S3 mode)."""
    return [
        path
        for folder in ("blobs", "uploads")
        for path in (server.data_dir / folder).rglob("*")
        if path.is_file()
    ]


def _parts(server: ServerProcess) -> list[tuple[str, int, int]]:
    with sqlite3.connect(server.data_dir / "photoark.db") as db:
        return db.execute("SELECT upload_id, number, put_count FROM upload_parts").fetchall()


def _movie(size: int) -> bytes:
    return b"\x00\x00\x00\x18ftypmp42" + os.urandom(size)


def test_a_backup_goes_straight_to_the_store_and_exports_identical(
    tmp_path: Path, s3_server: ServerProcess, proxy: CountingProxy, alice: Client
) -> None:
    photos = {f"IMG_{i:02d}.jpg": jpeg_bytes(i, (200 + i, 150)) for i in range(12)}
    movie = _movie(20 * MIB)  # three parts of 8 MiB
    make_tree(tmp_path / "p", {**photos, "trip": {"movie.mp4": movie}})
    content = len(movie) + sum(map(len, photos.values()))
    before = proxy.upstream

    report = alice.json("backup", str(tmp_path / "p"), "--album", "A")
    assert report["uploaded"] == 13 and report["failed"] == []
    assert report["thumbnails"]["made"] >= 12 and report["thumbnails"]["pending"] == 0
    sent = proxy.upstream - before
    assert report["bytes_uploaded"] >= content
    assert sent < content / 20, f"{sent} bytes went to the server for {content} of content"

    with sqlite3.connect(s3_server.data_dir / "photoark.db") as db:
        movie_parts = db.execute(
            "SELECT count(*) FROM upload_parts JOIN uploads ON uploads.id = upload_id"
            " WHERE uploads.size > ?",
            (len(movie),),
        ).fetchone()[0]
    assert movie_parts == 3

    # the web app's thumbnails (ApiClient.thumbnail) come by presigned GET too
    session = Session.open(resolve_home(alice.home))
    try:
        album = session.mirror.album_by_name("A")
        assert album is not None
        files = session.mirror.files_in_album(album.id)
        thumbs = [f for f in files if f.thumbnail_size > 0]
        assert len(thumbs) >= 12
        for f in thumbs:
            assert decrypt_bytes(f.file_key, session.api.thumbnail(f.id))[:2] == b"\xff\xd8"
    finally:
        session.close()

    before = proxy.downstream
    out = alice.json("export", str(tmp_path / "out"))
    assert out["written"] == 13
    assert tree_digest(tmp_path / "out" / "A") == tree_digest(tmp_path / "p")
    received = proxy.downstream - before
    assert received < content / 20, f"{received} bytes came from the server for {content}"
    assert _blob_files(s3_server) == []


def test_a_client_killed_mid_movie_sends_only_the_missing_parts(
    tmp_path: Path, s3_server: ServerProcess, proxy: CountingProxy, alice: Client
) -> None:
    size = 160 * MIB  # 20 parts of 8 MiB and a small last one
    make_tree(tmp_path / "p", {"movie.mp4": _movie(size)})
    env = {**os.environ, "PHOTOARK_HOME": str(alice.home)}
    command = [sys.executable, "-m", "photoark.cli.main", "backup", str(tmp_path / "p")]
    proc = subprocess.Popen(
        [*command, "--album", "A", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_parts(s3_server)) < 6:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _parts(s3_server)
    assert 6 <= len(before) < 21, "the kill should land mid-upload"

    report = alice.json("backup", str(tmp_path / "p"), "--album", "A")
    assert report["uploaded"] == 1
    after = [p for p in _parts(s3_server) if p[0] == before[0][0]]
    assert len(after) == 21
    assert all(count == 1 for _, _, count in after), "a part was confirmed twice"
    # bytes sent on resume exclude the parts the server had confirmed
    assert report["bytes_uploaded"] < size - (len(before) - 1) * PART
    assert proxy.upstream < size / 100, "content went through the server"

    out = alice.json("export", str(tmp_path / "out"))
    assert out["written"] == 1
    assert (tmp_path / "out" / "A" / "movie.mp4").read_bytes() == (
        tmp_path / "p" / "movie.mp4"
    ).read_bytes()
    assert _blob_files(s3_server) == []
