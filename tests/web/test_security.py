"""Who may use the web app: the guard's one-time login token, sessions and CSRF tokens; the
middleware's ``Host`` and ``Origin`` checks and headers (on a tiny app); and the real app's
login link, cookie, 401/403 answers and error mapping, in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from photoark.web.security import CSP, Guard, GuardMiddleware
from tests.optimize.builders import Library
from tests.web.builders import BASE, PORT, WebApp, sign_in, web_app, web_library

# -- Guard --------------------------------------------------------------------------------------


def test_login_token_is_spent_once() -> None:
    guard = Guard("127.0.0.1", PORT)
    session = guard.spend(guard.login_token)
    assert session is not None
    assert guard.spend(guard.login_token) is None
    assert guard.csrf_of(session) is not None


def test_a_wrong_token_logs_nobody_in_and_leaves_the_right_one_usable() -> None:
    guard = Guard("127.0.0.1", PORT)
    assert guard.spend("") is None
    assert guard.spend(guard.login_token[:-1]) is None
    assert guard.spend(guard.login_token + "x") is None
    assert guard.spend(guard.login_token) is not None


def test_each_guard_has_its_own_login_token() -> None:
    assert Guard("127.0.0.1", PORT).login_token != Guard("127.0.0.1", PORT).login_token


def test_csrf_token_belongs_to_its_session() -> None:
    guard = Guard("127.0.0.1", PORT)
    session = guard.spend(guard.login_token)
    assert session is not None
    csrf = guard.csrf_of(session)
    assert csrf is not None and csrf != session
    assert guard.check_csrf(session, csrf)
    assert not guard.check_csrf(session, csrf[:-1] + ("A" if csrf[-1] != "A" else "B"))
    assert not guard.check_csrf(session, None)
    assert not guard.check_csrf(session, "")
    assert not guard.check_csrf(None, csrf)
    assert not guard.check_csrf("not-a-session", csrf)
    assert not guard.check_csrf(csrf, session)  # the two tokens are not interchangeable


def test_an_unknown_session_has_no_csrf_token() -> None:
    guard = Guard("127.0.0.1", PORT)
    assert guard.csrf_of(None) is None
    assert guard.csrf_of("") is None
    assert guard.csrf_of("made-up") is None


def test_loopback_answers_to_localhost_too() -> None:
    guard = Guard("127.0.0.1", 8500)
    assert guard.allowed_hosts() == {"127.0.0.1:8500", "localhost:8500"}
    assert guard.cookie_name == "photoark_session_8500"
    assert guard.origin == "http://127.0.0.1:8500"
    assert guard.login_url() == f"http://127.0.0.1:8500/login?token={guard.login_token}"


def test_ipv6_loopback_is_bracketed() -> None:
    guard = Guard("::1", 8500)
    assert guard.netloc == "[::1]:8500"
    assert guard.origin == "http://[::1]:8500"
    assert guard.allowed_hosts() == {"[::1]:8500", "localhost:8500"}


def test_another_address_answers_only_to_itself() -> None:
    assert Guard("192.168.1.5", 8500).allowed_hosts() == {"192.168.1.5:8500"}


def test_the_cookie_is_named_per_port() -> None:
    assert Guard("127.0.0.1", 8500).cookie_name != Guard("127.0.0.1", 8501).cookie_name


# -- GuardMiddleware on a tiny app --------------------------------------------------------------


class Tiny:
    """A two-route app behind the middleware; ``changes`` counts the POSTs that got through."""

    def __init__(self) -> None:
        self.changes = 0
        self.guard = Guard("127.0.0.1", PORT)

        async def page(request: Request) -> Response:
            return PlainTextResponse("page")

        async def cached(request: Request) -> Response:
            return PlainTextResponse("cached", headers={"Cache-Control": "max-age=60"})

        async def change(request: Request) -> Response:
            self.changes += 1
            return PlainTextResponse("changed")

        app = Starlette(
            routes=[
                Route("/", page),
                Route("/cached", cached),
                Route("/change", change, methods=["POST"]),
            ]
        )
        self.client = TestClient(GuardMiddleware(app, self.guard), base_url=BASE)


@pytest.fixture
def tiny() -> Iterator[Tiny]:
    built = Tiny()
    with built.client:
        yield built


@pytest.mark.parametrize(
    "host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1:9999", "127.0.0.1", ""]
)
def test_a_foreign_host_is_refused(tiny: Tiny, host: str) -> None:
    response = tiny.client.get("/", headers={"host": host})
    assert response.status_code == 421
    assert f"127.0.0.1:{PORT}" in response.text
    assert response.headers["cache-control"] == "private, no-store"


@pytest.mark.parametrize("host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}"])
def test_our_host_is_served(tiny: Tiny, host: str) -> None:
    response = tiny.client.get("/", headers={"host": host})
    assert response.status_code == 200
    assert response.text == "page"


@pytest.mark.parametrize("origin", ["http://evil.example", "null", f"http://127.0.0.1:{PORT + 1}"])
def test_a_change_from_another_origin_is_refused(tiny: Tiny, origin: str) -> None:
    response = tiny.client.post("/change", headers={"origin": origin})
    assert response.status_code == 403
    assert tiny.changes == 0


def test_a_change_from_our_origin_or_without_origin_goes_through(tiny: Tiny) -> None:
    assert tiny.client.post("/change", headers={"origin": BASE}).status_code == 200
    assert tiny.client.post("/change").status_code == 200
    assert tiny.changes == 2


def test_a_foreign_host_is_refused_before_the_origin_is_looked_at(tiny: Tiny) -> None:
    response = tiny.client.post("/change", headers={"host": "evil.example", "origin": BASE})
    assert response.status_code == 421
    assert tiny.changes == 0


def test_a_page_served_at_localhost_may_change_things(tiny: Tiny) -> None:
    # The Host check lets the app be used at http://localhost:PORT; a browser then sends that
    # origin with every POST of the page's own script.
    response = tiny.client.post(
        "/change", headers={"host": f"localhost:{PORT}", "origin": f"http://localhost:{PORT}"}
    )
    assert response.status_code == 200


def test_every_answer_has_the_security_headers(tiny: Tiny) -> None:
    response = tiny.client.get("/")
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cross-origin-resource-policy"] == "same-origin"
    assert response.headers["cache-control"] == "private, no-store"


def test_the_csp_allows_nothing_from_another_origin() -> None:
    allowed = {"'self'", "'none'", "blob:", "data:"}
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    for name, sources in directives.items():
        assert set(sources.split()) <= allowed, name
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"


def test_a_route_s_own_cache_control_is_kept(tiny: Tiny) -> None:
    response = tiny.client.get("/cached")
    assert response.headers.get_list("cache-control") == ["max-age=60"]
    assert response.headers["x-content-type-options"] == "nosniff"


# -- the real app: login, sessions, CSRF, error mapping -----------------------------------------


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebApp]:
    library: Library = web_library(tmp_path / "home")
    yield web_app(library)
    library.close()


def test_login_sets_a_strict_http_only_cookie_and_redirects_home(web: WebApp) -> None:
    guard = web.ctx.guard
    with web.client() as client:
        response = client.get("/login", params={"token": guard.login_token})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    assert name == f"photoark_session_{PORT}"
    session = rest.split(";")[0]
    assert guard.csrf_of(session) is not None
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert not any(a.startswith(("domain=", "max-age=", "expires=")) for a in attributes)


def test_a_login_link_works_once(web: WebApp) -> None:
    with web.client() as client:
        assert client.get("/login", params={"token": web.ctx.guard.login_token}).is_redirect
    with web.client() as other:
        response = other.get("/login", params={"token": web.ctx.guard.login_token})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert "link works once" in response.text


@pytest.mark.parametrize("query", ["", "?token=", "?token=wrong"])
def test_a_wrong_login_link_is_refused(web: WebApp, query: str) -> None:
    with web.client() as client:
        response = client.get("/login" + query)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert web.ctx.guard.spend(web.ctx.guard.login_token) is not None  # still unspent


@pytest.mark.parametrize(
    "path", ["/", "/albums", "/albums/1", "/photos/1", "/similar", "/duplicates", "/trash"]
)
def test_pages_need_the_session(web: WebApp, path: str) -> None:
    with web.client() as client:
        assert client.get(path).status_code == 401
        sign_in(client, web.ctx)
        assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/api/timeline", "/api/albums", "/api/similar", "/api/undo"])
def test_the_api_needs_the_session(web: WebApp, path: str) -> None:
    with web.client() as client:
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["error"] == "open the link that `photoark web` printed"
        client.cookies.set(web.ctx.guard.cookie_name, "made-up")
        assert client.get(path).status_code == 401


def test_a_page_carries_its_session_s_csrf_token(web: WebApp) -> None:
    with web.client() as client:
        csrf = sign_in(client, web.ctx)
        page = client.get("/")
    assert page.status_code == 200
    assert csrf in page.text
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["cache-control"] == "private, no-store"


def test_a_change_needs_the_csrf_token(web: WebApp) -> None:
    with web.client() as client:
        assert client.post("/api/undo").status_code == 401  # no session at all
        csrf = sign_in(client, web.ctx)
        missing = client.post("/api/undo")
        wrong = client.post("/api/undo", headers={"x-csrf-token": csrf + "x"})
        right = client.post("/api/undo", headers={"x-csrf-token": csrf})
    assert missing.status_code == 403
    assert missing.json()["error"] == "missing or wrong CSRF token: reload the page"
    assert wrong.status_code == 403
    # through the guard: the service answers (a ClientError, mapped to 400 with its hint)
    assert right.status_code == 400
    assert right.json() == {
        "error": "nothing to undo",
        "hint": "only an apply made on this page can be undone",
    }


def test_a_session_s_csrf_token_does_not_serve_as_the_session(web: WebApp) -> None:
    with web.client() as client:
        csrf = sign_in(client, web.ctx)
        client.cookies.set(web.ctx.guard.cookie_name, csrf)
        assert client.get("/api/timeline").status_code == 401


def test_a_change_from_another_site_is_refused_even_with_the_session(web: WebApp) -> None:
    with web.client() as client:
        csrf = sign_in(client, web.ctx)
        response = client.post(
            "/api/undo", headers={"x-csrf-token": csrf, "origin": "http://evil.example"}
        )
    assert response.status_code == 403
    assert "another site" in response.text


def test_the_real_app_refuses_a_foreign_host(web: WebApp) -> None:
    with web.client("http://evil.example") as client:
        response = client.get("/login", params={"token": web.ctx.guard.login_token})
    assert response.status_code == 421
    assert web.ctx.guard.spend(web.ctx.guard.login_token) is not None  # not spent by it


def test_an_unknown_photo_is_a_404_with_error_and_hint(web: WebApp) -> None:
    with web.client() as client:
        sign_in(client, web.ctx)
        response = client.get("/api/photos/999")
    assert response.status_code == 404
    assert response.json() == {
        "error": "no photo 999 in the library",
        "hint": "it may have been deleted",
    }


def test_a_malformed_request_is_a_422_naming_the_field(web: WebApp) -> None:
    with web.client() as client:
        sign_in(client, web.ctx)
        response = client.get("/api/photos/abc")
    assert response.status_code == 422
    body = response.json()
    assert body["error"].startswith("bad request: path.file_id: ")
    assert body["hint"] == ""


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/nope"), ("PUT", "/api/timeline")])
def test_an_unknown_route_answers_error_and_hint(web: WebApp, method: str, path: str) -> None:
    with web.client() as client:
        sign_in(client, web.ctx)
        response = client.request(method, path)
    assert response.status_code in (404, 405)
    assert set(response.json()) == {"error", "hint"}


def test_static_files_are_served_with_the_headers(web: WebApp) -> None:
    with web.client() as client:
        response = client.get("/static/app.js")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
