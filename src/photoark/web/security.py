"""Who may use the web app: it serves decrypted photos, so every request is checked.

- **Loopback by default**, and the ``Host`` header must name the address served (``421``
  otherwise): a page on another site that rebinds its DNS name to 127.0.0.1 is refused.
- **One-time login link**: ``photoark web`` prints ``/login?token=...``; opening it once sets a
  session cookie (``HttpOnly``, ``SameSite=Strict``, named per port) and redirects to ``/``, so
  the token leaves the address bar. A used or wrong token logs nobody in. When the daemon
  serves the app, ``photoark web`` issues a link through the state DB
  (:class:`~photoark.client.state.weblogins.WebLogins`: a digest, five minutes, once).
- **Every page, thumbnail and original needs the session**; a request that changes something
  also needs the session's **CSRF token** (``X-CSRF-Token``, which a page of this origin reads
  from its ``<meta>``) and, when the browser sends one, an ``Origin`` that is ours.
- **Headers**: a Content-Security-Policy allowing nothing from other origins (no inline script),
  ``Cache-Control: private, no-store`` (decrypted bytes never land in the browser's disk
  cache), ``nosniff``, no referrer, no framing.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

from photoark.client.state.weblogins import WebLogins

__all__ = ["CSP", "Guard", "GuardMiddleware"]

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class Guard:
    """The app's secrets: the login token (spent once), the sessions, each with its CSRF
    token. Thread-safe; lives as long as the process (a restart logs everyone out)."""

    host: str
    port: int
    login_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    issued: WebLogins | None = None  # links issued by `photoark web` to an app it does not run
    _sessions: dict[str, str] = field(default_factory=dict)  # session id -> CSRF token
    _spent: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cookie_name(self) -> str:
        return f"photoark_session_{self.port}"

    @property
    def origin(self) -> str:
        return f"http://{self.netloc}"

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def login_url(self) -> str:
        return f"{self.origin}/login?token={self.login_token}"

    def allowed_hosts(self) -> set[str]:
        hosts = {self.netloc}
        if self.host in ("127.0.0.1", "::1"):
            hosts.add(f"localhost:{self.port}")
        return hosts

    def spend(self, token: str) -> str | None:
        """A new session id for the right, unspent token (ours, or one issued through the
        state DB); ``None`` otherwise."""
        with self._lock:
            own = not self._spent and hmac.compare_digest(token.encode(), self.login_token.encode())
            if own:
                self._spent = True
            elif not (token and self.issued is not None and self.issued.take(token)):
                return None
            session = secrets.token_urlsafe(32)
            self._sessions[session] = secrets.token_urlsafe(32)
            return session

    def csrf_of(self, session: str | None) -> str | None:
        """The CSRF token of a live session (``None``: not a session)."""
        if not session:
            return None
        with self._lock:
            for known, csrf in self._sessions.items():
                if hmac.compare_digest(known.encode(), session.encode()):
                    return csrf
        return None

    def check_csrf(self, session: str | None, given: str | None) -> bool:
        expected = self.csrf_of(session)
        return bool(expected and given and hmac.compare_digest(expected.encode(), given.encode()))


class GuardMiddleware:
    """ASGI: refuses a foreign ``Host`` (421) and a foreign ``Origin`` on a change (403), and
    puts the security headers on every answer. Session checks are the routes' (they know
    which need one)."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if host not in self.guard.allowed_hosts():
            await _plain(send, 421, f"this app answers only to {self.guard.netloc}\n")
            return
        origin = headers.get("origin")
        ours = {f"http://{h}" for h in self.guard.allowed_hosts()}
        if scope["method"] not in SAFE_METHODS and origin and origin not in ours:
            await _plain(send, 403, "a request from another site was refused\n")
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-resource-policy", b"same-origin"),
                ]
                names = {k.lower() for k, _ in message.get("headers", [])}
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"private, no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"private, no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
