"""Importable builders for the web app's unit tests: a library over a real state DB (the
optimize tests' :class:`~tests.optimize.builders.Library`) whose fake server also serves
thumbnails and the change stream, and the real app around it, driven in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from fastapi import FastAPI
from fastapi.testclient import TestClient

from photoark.client.api import ApiClient
from photoark.client.errors import ApiError, ClientError
from photoark.client.state.mirror import LibraryFile
from photoark.crypto.stream import encrypt_bytes
from photoark.web.app import build_context, create_app
from photoark.web.context import WebContext
from photoark.web.security import Guard
from tests.optimize.builders import FakeApi, Library

__all__ = ["BASE", "PORT", "WebApi", "WebApp", "sign_in", "web_app", "web_library"]

PORT = 8421
BASE = f"http://127.0.0.1:{PORT}"


@dataclass
class WebApi(FakeApi):
    """:class:`FakeApi` that also serves sealed thumbnails (``thumbnail_calls`` records each
    fetch) and a change stream: ``versions`` announced once, then ``after_events()``, or
    ``events_error`` raised."""

    thumbnails: dict[int, bytes] = field(default_factory=dict)  # file id -> sealed bytes
    thumbnail_calls: list[int] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    events_error: ClientError | None = None
    after_events: list[Callable[[], None]] = field(default_factory=list)  # run when drained

    def seal_thumbnail(self, f: LibraryFile, jpeg: bytes) -> bytes:
        """Store ``jpeg`` as the server would: sealed with the file's key."""
        sealed = encrypt_bytes(f.file_key, jpeg)
        self.thumbnails[f.id] = sealed
        return sealed

    def thumbnail(self, file_id: int) -> bytes:
        self.thumbnail_calls.append(file_id)
        if file_id not in self.thumbnails:
            raise ApiError("not_found", f"no thumbnail for file {file_id}", 404)
        return self.thumbnails[file_id]

    def events(self) -> Iterator[int]:
        if self.events_error is not None:
            for run in self.after_events:
                run()
            raise self.events_error
        yield from self.versions
        for run in self.after_events:
            run()


def web_library(root: Path) -> Library:
    """An empty library whose fake server is a :class:`WebApi`."""
    library = Library(root)
    library.api = WebApi()
    library.session.api = cast(ApiClient, library.api)
    return library


@dataclass
class WebApp:
    ctx: WebContext
    app: FastAPI
    api: WebApi

    def client(self, base_url: str = BASE) -> TestClient:
        return TestClient(self.app, base_url=base_url, follow_redirects=False)


def web_app(library: Library) -> WebApp:
    """The real app over ``library``'s session, served (in-process) at :data:`BASE`, without
    the background follower and board watcher."""
    ctx = build_context(library.session, Guard("127.0.0.1", PORT))
    return WebApp(ctx, create_app(ctx, follow=False), cast(WebApi, library.api))


def sign_in(client: TestClient, ctx: WebContext) -> str:
    """Open the login link; the session cookie lands in ``client``. Returns the CSRF token."""
    response = client.get("/login", params={"token": ctx.guard.login_token})
    assert response.status_code == 303, response.text
    csrf = ctx.guard.csrf_of(client.cookies.get(ctx.guard.cookie_name))
    assert csrf is not None
    return csrf
