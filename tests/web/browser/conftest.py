"""Fixtures for the browser tests of ``photoark web``: a real server process, a client home
with a small library of corpus photos (JPEGs, a near-duplicate pair, an exact copy under
another name, a video, an Apple Live Photo) and generated JPEGs enough to fill several
screens, ``photoark web --json`` in a subprocess, and Debian's Chromium driven by Playwright.

Skips when ``/usr/bin/chromium``, the ``playwright`` package or ``../shared/corpus`` is absent.
The shared library (``web``) is built once per session; tests that change the library get
their own (``make_web``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.builders import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CORPUS,
    Client,
    jpeg_bytes,
    make_tree,
    running_server,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

VIEWPORT: ViewportSize = {"width": 800, "height": 600}

# corpus files, by the name they get in the library
BRIDGE = "neardup-threatexchange-pdq/pdq/data/bridge-mods/aaa-orig.jpg"
BRIDGE_BLUR = "neardup-threatexchange-pdq/pdq/data/bridge-mods/blur-a-little.jpg"
FOREST = "neardup-imagehash-php/tests/images/forest/forest-high.jpg"
OFFICE = "neardup-imagehash-php/tests/images/office/tumblr_ndyfdoR6Wp1tubinno1_1280.jpg"
VIDEO = "photoprism/assets/examples/christmas.mp4"  # H.264, 640x416, 0.8 s, 55 KB
LIVE_STILL = "lychee-samples/tests/Samples/train.jpg"
LIVE_VIDEO = "lychee-samples/tests/Samples/train.mov"

DATE_TAKEN = 0x0132  # EXIF DateTime (IFD0; the capture time when nothing better is there)


def corpus(relative: str) -> Path:
    path = CORPUS / relative
    if not path.is_file():
        pytest.skip(f"../shared/corpus is absent ({relative} not found)")
    return path


def copy_in(folder: Path, spec: dict[str, str]) -> dict[str, Path]:
    """Copy corpus files into ``folder`` under new names (content only: the corpus is
    read-only); name → path."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, relative in spec.items():
        shutil.copyfile(corpus(relative), folder / name)
        out[name] = folder / name
    return out


def dated_jpegs(count: int, first_seed: int = 100) -> dict[str, bytes | str | dict[str, Any]]:
    """``count`` small distinct JPEGs taken over several months of 2019."""
    return {
        f"IMG_{i:03}.jpg": jpeg_bytes(
            first_seed + i,
            (96, 72),
            exif={DATE_TAKEN: f"2019:{1 + i % 4:02}:{1 + i % 27:02} 10:{i % 60:02}:00"},
        )
        for i in range(count)
    }


@dataclass
class WebApp:
    """A running ``photoark web`` over a client home, with the files that were backed up."""

    client: Client
    base: str  # http://127.0.0.1:PORT
    login_url: str
    port: int
    xdg: Path  # XDG_DATA_HOME of the web process (the desktop trash is under it)
    folders: dict[str, Path]  # album → the folder backed up into it
    originals: dict[str, Path] = field(default_factory=dict)  # file name → file on disk
    state: Any = None  # the browser storage state after login (the session cookie)

    def listing(self) -> list[dict[str, Any]]:
        """``photoark ls --json`` (one row per album a file is in)."""
        rows: list[dict[str, Any]] = self.client.json("ls")
        return rows

    def ids(self) -> set[int]:
        return {int(f["id"]) for f in self.listing()}

    def id_of(self, name: str) -> int:
        found = {int(f["id"]) for f in self.listing() if f["name"] == name}
        assert len(found) == 1, f"{name}: {found}"
        return found.pop()

    def albums_of(self) -> dict[int, set[str]]:
        out: dict[int, set[str]] = {}
        for f in self.listing():
            out.setdefault(int(f["id"]), set()).add(f["album"])
        return out

    def trash_ids(self) -> set[int]:
        return {int(t["id"]) for t in self.client.json("trash", "ls")}


@contextmanager
def running_web(client: Client, xdg: Path, log: Path) -> Iterator[tuple[str, int]]:
    """``photoark web --no-open --port 0 --json`` for ``client``; yields (login URL, port)."""
    env = {**os.environ, "PHOTOARK_HOME": str(client.home), "XDG_DATA_HOME": str(xdg)}
    command = ["web", "--no-open", "--port", "0", "--json"]
    with open(log, "ab") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "photoark.cli.main", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            process.wait(10)
            raise AssertionError(
                f"photoark web exited {process.returncode} before printing its URL:\n"
                + log.read_text(errors="replace")
            )
        url = str(json.loads(line)["url"])
        port = urlsplit(url).port
        assert port, url
        yield url, port
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            yield launched
        finally:
            launched.close()


def log_in(browser: Browser, app: WebApp) -> None:
    """Open the one-time login link once; keep the session cookie for every later context."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        response = page.goto(app.login_url)
        assert response is not None and response.ok, response and response.status
        assert page.url == app.base + "/", page.url
        app.state = context.storage_state()
    finally:
        context.close()


def new_context(browser: Browser, app: WebApp | None = None) -> BrowserContext:
    """A browser context with ``app``'s session (none without ``app``)."""
    context = browser.new_context(
        viewport=VIEWPORT,
        storage_state=app.state if app is not None else None,
    )
    context.set_default_timeout(30_000)
    return context


Builder = Callable[[Path, Client], tuple[dict[str, Path], dict[str, Path]]]


@contextmanager
def serving(tmp: Path, build: Builder, browser: Browser) -> Iterator[WebApp]:
    """A server, a client home with the library ``build`` backs up, and ``photoark web``
    over it, logged in."""
    with ExitStack() as stack:
        server = stack.enter_context(running_server(tmp))
        client = Client(tmp / "home", server.url)
        client.signup()
        folders, originals = build(tmp / "photos", client)
        xdg = tmp / "xdg"
        xdg.mkdir()
        login_url, port = stack.enter_context(running_web(client, xdg, tmp / "web.log"))
        app = WebApp(
            client=client,
            base=f"http://127.0.0.1:{port}",
            login_url=login_url,
            port=port,
            xdg=xdg,
            folders=folders,
            originals=originals,
        )
        log_in(browser, app)
        yield app


def backup(client: Client, folder: Path, album: str) -> None:
    report = client.json("backup", str(folder), "--album", album)
    assert not report["failed"], report


def review_library(root: Path, client: Client) -> tuple[dict[str, Path], dict[str, Path]]:
    """What the review tests change: an exact duplicate (forest, twice under two names, in two
    albums), a near-identical pair (the bridge), and an unrelated photo."""
    trip = root / "trip"
    originals = copy_in(
        trip,
        {
            "bridge.jpg": BRIDGE,
            "bridge-blur.jpg": BRIDGE_BLUR,
            "forest.jpg": FOREST,
            "office.jpg": OFFICE,
        },
    )
    best = root / "best"
    originals |= copy_in(best, {"forest-copy.jpg": FOREST})
    backup(client, trip, "Trip")
    backup(client, best, "Best")
    return {"Trip": trip, "Best": best}, originals


def full_library(root: Path, client: Client) -> tuple[dict[str, Path], dict[str, Path]]:
    """The review library, and in Trip a video and a Live Photo; Old: 40 generated JPEGs of
    2019 (the timeline is several screens tall)."""
    folders, originals = review_library(root, client)
    trip = folders["Trip"]
    originals |= copy_in(
        trip, {"christmas.mp4": VIDEO, "train.jpg": LIVE_STILL, "train.mov": LIVE_VIDEO}
    )
    backup(client, trip, "Trip")
    old = make_tree(root / "old", dated_jpegs(40))
    originals |= {p.name: p for p in old.iterdir()}
    backup(client, old, "Old")
    return {**folders, "Old": old}, originals


def camera_library(root: Path, client: Client) -> tuple[dict[str, Path], dict[str, Path]]:
    """A camera folder of three backed-up JPEGs, then a fourth written after the backup."""
    camera = make_tree(root / "camera", dated_jpegs(3, first_seed=500))
    backup(client, camera, "Camera")
    (camera / "new.jpg").write_bytes(jpeg_bytes(999, (96, 72)))
    return {"Camera": camera}, {p.name: p for p in camera.iterdir()}


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[WebApp]:
    """The shared library, served once for every module (tests must not change it)."""
    tmp = tmp_path_factory.mktemp("web")
    with serving(tmp, full_library, browser) as app:
        yield app


@pytest.fixture
def make_web(tmp_path: Path, browser: Browser) -> Iterator[Callable[[Builder], WebApp]]:
    """A fresh library for one test that changes it."""
    with ExitStack() as stack:
        made: list[WebApp] = []

        def make(build: Builder) -> WebApp:
            made.append(stack.enter_context(serving(tmp_path / f"lib{len(made)}", build, browser)))
            return made[-1]

        yield make


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[[WebApp, str], Page]]:
    """Open ``app``'s ``path`` in a new logged-in browser context (closed after the test)."""
    contexts: list[BrowserContext] = []

    def open_(app: WebApp, path: str) -> Page:
        contexts.append(new_context(browser, app))
        page = contexts[-1].new_page()
        page.goto(app.base + path)
        return page

    yield open_
    for c in contexts:
        c.close()


@pytest.fixture
def context(browser: Browser, web: WebApp) -> Iterator[BrowserContext]:
    ctx = new_context(browser, web)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
