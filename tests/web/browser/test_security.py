"""Who may see the photos: nothing without the session, the login link works once, a change
needs the CSRF token, a foreign ``Host`` (DNS rebinding) is refused, and the answers carry the
security headers (CSP of this origin only, private caching, a strict HttpOnly cookie)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from tests.web.browser.conftest import WebApp, new_context

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.e2e

# what a source of the policy may be: this origin, nothing, or what the page makes itself
OWN_SOURCES = {"'self'", "'none'", "blob:", "data:"}


def session_cookie(web: WebApp) -> tuple[str, str]:
    (cookie,) = [c for c in web.state["cookies"] if c["name"].startswith("photoark_session")]
    return str(cookie["name"]), str(cookie["value"])


def test_no_session_means_no_photo(browser: Browser, web: WebApp) -> None:
    photo = web.id_of("bridge.jpg")
    stranger = new_context(browser)
    try:
        for path in (
            "/",
            "/api/timeline",
            f"/photos/{photo}",
            f"/api/photos/{photo}",
            f"/api/photos/{photo}/thumbnail",
            f"/api/photos/{photo}/original",
            f"/api/photos/{photo}/display",
        ):
            answer = stranger.request.get(web.base + path)
            assert answer.status == 401, f"{path}: {answer.status}"
            assert not answer.headers["content-type"].startswith(("image/", "video/")), path
        page = stranger.new_page()
        page.goto(web.base + "/")
        assert page.locator("[data-photo-id], img").count() == 0

        # the login link was spent by the fixture: a second use logs nobody in
        again = stranger.request.get(web.login_url, max_redirects=0)
        assert again.status == 403, again.status
        assert "set-cookie" not in again.headers
        assert stranger.cookies() == []
        assert stranger.request.get(web.base + "/api/timeline").status == 401
    finally:
        stranger.close()


def test_a_change_needs_the_csrf_token(page: Page, web: WebApp) -> None:
    page.goto(web.base + "/trash")
    page.wait_for_selector("#main h1")
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    assert token
    url = web.base + "/api/undo"  # POST: undo the last apply (there is none: 400)
    assert page.request.post(url).status == 403
    assert page.request.post(url, headers={"X-CSRF-Token": token[::-1]}).status == 403
    assert page.request.post(url, headers={"X-CSRF-Token": ""}).status == 403
    accepted = page.request.post(url, headers={"X-CSRF-Token": token})
    assert accepted.status == 400 and "nothing to undo" in accepted.text(), accepted.status


def test_a_foreign_host_is_refused(web: WebApp) -> None:
    name, value = session_cookie(web)
    photo = web.id_of("bridge.jpg")
    with httpx.Client(base_url=web.base, timeout=30) as http:
        ours = http.get("/api/timeline", headers={"Cookie": f"{name}={value}"})
        assert ours.status_code == 200
        for path in ("/", "/api/timeline", f"/api/photos/{photo}/original"):
            for cookie in ({}, {"Cookie": f"{name}={value}"}):
                answer = http.get(path, headers={"Host": f"evil.example:{web.port}", **cookie})
                assert answer.status_code == 421, (path, cookie, answer.status_code)
                assert not answer.headers["content-type"].startswith(("image/", "video/"))


def csp_sources(policy: str) -> dict[str, list[str]]:
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def test_security_headers(context: BrowserContext, page: Page, web: WebApp) -> None:
    response = page.goto(web.base + "/")
    assert response is not None and response.status == 200
    page.wait_for_selector("#timeline [data-photo-id]")
    policy = csp_sources(response.headers["content-security-policy"])
    assert policy.get("default-src") == ["'self'"], policy
    assert policy.get("script-src", policy["default-src"]) == ["'self'"], policy
    assert policy.get("frame-ancestors") == ["'none'"], policy
    foreign = {d: s for d, s in policy.items() if set(s) - OWN_SOURCES}
    assert not foreign, f"sources of other origins (or unsafe ones): {foreign}"

    photo = web.id_of("bridge.jpg")
    video = web.id_of("christmas.mp4")
    for path in (
        f"/api/photos/{photo}/thumbnail",
        f"/api/photos/{photo}/original",
        f"/api/photos/{photo}/display",
        f"/api/photos/{video}/original",
    ):
        answer = page.request.get(web.base + path)
        assert answer.status == 200, f"{path}: {answer.status}"
        cache = answer.headers.get("cache-control", "")
        assert "private" in cache and "public" not in cache, f"{path}: {cache!r}"
        assert "content-security-policy" in answer.headers, path

    cookies = [c for c in context.cookies() if c["name"].startswith("photoark_session")]
    assert [c["name"] for c in cookies] == [f"photoark_session_{web.port}"]
    assert cookies[0].get("httpOnly") is True
    assert cookies[0].get("sameSite") == "Strict"
    assert "photoark_session" not in page.evaluate("() => document.cookie")
