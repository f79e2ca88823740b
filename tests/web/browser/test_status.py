"""The status page, live: the daemon's board reaches an open page without a reload or a timer,
and the daemon itself can serve the app (``web.enabled``), with ``photoark web`` handing out a
one-time link to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.builders import Client, free_port, jpeg_bytes, running_daemon, running_server, wait_for
from tests.web.browser.conftest import WebApp, camera_library, new_context

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import Browser, Page

    from tests.web.browser.conftest import Builder

pytestmark = pytest.mark.e2e


def test_the_daemon_s_progress_is_pushed_to_an_open_status_page(
    make_web: Callable[[Builder], WebApp], open_page: Callable[[WebApp, str], Page]
) -> None:
    app = make_web(camera_library)
    camera = app.folders["Camera"]
    app.client.run("watch", "add", str(camera), "--album", "Camera")
    page = open_page(app, "/status")
    page.wait_for_selector("#daemon")
    assert "not running" in page.inner_text("#daemon")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/status" in r.url else None)

    with running_daemon(app.client):
        # no reload: the board's changes arrive over the page's event stream
        page.wait_for_function(
            "() => !document.querySelector('#daemon').innerText.includes('not running')",
            timeout=60_000,
        )
        (camera / "new.jpg").write_bytes(jpeg_bytes(901, (96, 72)))
        row = f'[data-watch="{camera}"] td:nth-child(3)'
        page.wait_for_function(
            f"() => document.querySelector('{row}')?.innerText === '4'", timeout=60_000
        )
    page.wait_for_function(
        "() => document.querySelector('#daemon').innerText.includes('not running')",
        timeout=30_000,
    )
    # quiet: with nothing changing, the page asks for nothing (no polling loop)
    time.sleep(1.5)
    settled = len(asked)
    time.sleep(3)
    assert len(asked) == settled, asked[settled:]


def test_the_daemon_serves_the_app_and_photoark_web_hands_out_a_link(
    tmp_path: Path, browser: Browser
) -> None:
    root = tmp_path
    with running_server(root) as server:
        client = Client(root / "home", server.url)
        client.signup()
        camera_library(root / "photos", client)
        port = free_port()
        client.run("config", "set", "web.enabled", "true")
        client.run("config", "set", "web.port", str(port))
        with running_daemon(client):
            base = f"http://127.0.0.1:{port}"

            def answers() -> bool:
                try:
                    return httpx.get(base + "/", timeout=1).status_code == 401
                except httpx.HTTPError:
                    return False

            wait_for(answers, timeout=60)
            printed = subprocess.run(
                [sys.executable, "-m", "photoark", "web", "--no-open", "--json"],
                env={**os.environ, "PHOTOARK_HOME": str(client.home)},
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            link = json.loads(printed.stdout)["url"]
            assert link.startswith(base + "/login?token="), link
            context = new_context(browser)
            try:
                page = context.new_page()
                page.goto(link)
                page.wait_for_selector("#timeline [data-photo-id]")
                assert page.url == base + "/"
                # the link was spent: a second browser gets nothing with it
                again = httpx.get(link, timeout=5)
                assert again.status_code == 403
            finally:
                context.close()
