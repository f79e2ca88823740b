"""Web timeline: ``photoark web`` over a 20 000-photo library, in headless Chromium.

Builds a library of N distinct small JPEGs (64×48 colour blobs, ~1.2 KiB each, 500 per
sub-folder; EXIF DateTimeOriginal at random over 2017-2024, 96 months; every 20th photo without
EXIF, dated by its file mtime only), backed up with ``photoark backup FOLDER --album Timeline``
(thumbnails made) to a real server process: once per run, or kept with ``--keep-data`` and
reused by the next run. Then starts ``photoark web --no-open --port 0 --json`` on that client
home (its thumbnail cache emptied first) and opens the printed login link in headless Chromium
(the ``playwright`` package driving ``/usr/bin/chromium``; viewport 1440×900), in one tab
first opened on a static file of the app, so a renderer process for the site is running
before what is measured:

  (1) first tiles: navigation start (the login link, which redirects to ``/``) → the first 20
      tiles on screen have their thumbnail (``naturalWidth > 0``), measured in the page
      (``performance.now()``, polled every frame) from a cold thumbnail cache; (1') the page
      loaded again (those thumbnails cached); with ``/api/timeline`` (in the page, and 5 GETs
      with httpx: time, size);
  (3) thumbnails with httpx (the page's session cookie): ``--thumbs`` photos not in the cache
      yet, sequential GETs of ``/api/photos/ID/thumbnail``, cold (from the server, stored
      encrypted in ``<home>/cache/thumbnails``) then warm (from that cache); and 20 GETs of
      ``/api/photos/ID`` (what the photo view asks first), for information;
  (2) scroll to the end: ``window.scrollBy`` of one viewport per animation frame until the
      bottom; total time, frame times from the ``requestAnimationFrame`` timestamps (p50 / p95
      / p99 / max, frames over 50 ms, dropped 60 Hz frames), long tasks and long animation
      frames (script / style + layout / other), CPU of Chromium, the web app and the server;
      checks the last row in the page holds the oldest photo of ``/api/timeline`` and its month
      shows; then the time until the tiles on screen at the bottom have their thumbnails, and
      how many thumbnails the page asked for and saw finish. (2') the page loaded again and
      scrolled again, every thumbnail the first scroll asked for now cached by the app;
  (4) peak RSS of the ``photoark web`` process (``VmHWM``) at the end.

    python bench/web_timeline.py [--files 20000] [--thumbs 500] [--step 1.0] [--keep-data]
                                 [--timeout S] [--drain-timeout S] [--json-out FILE]

Prints the table, then ``TARGET`` and ``CHECK`` lines. Never runs ``playwright install``: the
Debian ``chromium`` package is used as it is.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_ROOT,
    Table,
    announce_source,
    cpu_seconds,
    fmt_bytes,
    percentile,
    photoark,
    proc_status,
    signup,
    use_checkout,
    write_json,
)
from tests.builders import CHROMIUM, CHROMIUM_ARGS, ServerProcess, free_port

use_checkout()  # this working tree's src/, in every process started

MiB = 1024 * 1024
FIRST_TILES_TARGET_MS = 1000.0
FRAME_TARGET_MS = 50.0
RSS_TARGET = 300 * MiB
FIRST_TILES = 20
DATASET_VERSION = "1"
ALBUM = "Timeline"
VIEWPORT = {"width": 1440, "height": 900}
YEARS = (2017, 2025)  # taken from 2017-01-01 to 2024-12-31


# -- the library -----------------------------------------------------------------------------


def photo_jpeg(seed: int, taken: datetime | None) -> bytes:
    """A distinct 64×48 JPEG (a 4×3 block of random colours, upscaled: smooth blobs, ~1.2 KiB)
    with EXIF DateTimeOriginal when ``taken`` is given."""
    from PIL import Image

    rnd = random.Random(seed)
    img = Image.frombytes("RGB", (4, 3), rnd.randbytes(36)).resize(
        (64, 48), Image.Resampling.BICUBIC
    )
    exif = Image.Exif()
    exif[0x0110] = "photoark-bench"  # Model
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85, exif=exif)
    return buf.getvalue()


def make_folder(root: Path, count: int) -> int:
    """``count`` photos, 500 per sub-folder, taken at random over :data:`YEARS` (seeded);
    every file's mtime is its time taken. Returns total bytes."""
    rnd = random.Random(20_000)
    start = datetime(YEARS[0], 1, 1, tzinfo=UTC).timestamp()
    end = datetime(YEARS[1], 1, 1, tzinfo=UTC).timestamp()
    total = 0
    for i in range(count):
        folder = root / f"d{i // 500:03d}"
        if i % 500 == 0:
            folder.mkdir(parents=True)
        when = rnd.uniform(start, end)
        taken = None if i % 20 == 19 else datetime.fromtimestamp(when)
        path = folder / f"IMG_{i:05d}.JPG"
        data = photo_jpeg(i, taken)
        path.write_bytes(data)
        os.utime(path, (when, when))
        total += len(data)
    return total


@dataclass
class Library:
    root: Path
    files: int
    port: int
    built_s: float | None = None  # None: reused from an earlier run
    backup_s: float | None = None
    built_by: str = ""

    @property
    def photos(self) -> Path:
        return self.root / "photos"

    @property
    def home(self) -> Path:
        return self.root / "client"

    @property
    def server_data(self) -> Path:
        return self.root / "server-data"

    @property
    def marker(self) -> Path:
        return self.root / ".complete"


def code_label() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "?"


@contextlib.contextmanager
def library(count: int, keep: bool) -> Iterator[tuple[Library, ServerProcess]]:
    """The backed-up library with its server running: reused when an earlier ``--keep-data``
    run left a complete one (its server restarted on the port the client knows), else built.
    Removed afterwards unless ``keep``."""
    root = BENCH_ROOT / f"web-timeline-{count}"
    lib: Library | None = None
    server: ServerProcess | None = None
    marker = root / ".complete"
    if marker.exists():
        with contextlib.suppress(ValueError, KeyError, OSError):
            info = json.loads(marker.read_text())
            if info["version"] == DATASET_VERSION and info["files"] == count:
                lib = Library(root, count, int(info["port"]), built_by=info.get("code", "?"))
    if lib is not None:
        server = ServerProcess(lib.server_data, lib.port)
        try:  # on the port the client knows (a port taken since: built again)
            server.start()
            print(f"library: reused {root} (built by {lib.built_by}), server {server.url}")
        except RuntimeError as err:
            server.stop()
            print(f"library: {root} cannot be reused ({err}): building it again")
            lib = server = None
    if lib is None or server is None:
        lib, server = build_library(root, count)
    try:
        yield lib, server
    finally:
        server.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def build_library(root: Path, count: int) -> tuple[Library, ServerProcess]:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    lib = Library(root, count, free_port(), built_by=code_label())
    started = time.perf_counter()
    total = make_folder(lib.photos, count)
    made = time.perf_counter() - started
    print(f"library: made {count} photos ({total / count:.0f} B each) in {made:.0f} s")
    lib.server_data.mkdir()
    server = ServerProcess(lib.server_data, lib.port).start()
    try:
        signup(lib.home, server.url)
        run = photoark(lib.home, ["backup", str(lib.photos), "--album", ALBUM, "--json"])
        report = run.json()
        if report["uploaded"] != count or report.get("failed"):
            shown = {k: v for k, v in report.items() if k != "ignored"}
            raise RuntimeError(f"backup: {shown}")
    except BaseException:
        server.stop()
        raise
    lib.backup_s = run.seconds
    lib.built_s = time.perf_counter() - started
    thumbs = report.get("thumbnails")
    print(
        f"library: backed up {count} photos in {run.seconds:.0f} s "
        f"(thumbnails: {json.dumps(thumbs) if thumbs is not None else '?'})"
    )
    lib.marker.write_text(
        json.dumps(
            {"version": DATASET_VERSION, "files": count, "port": lib.port, "code": lib.built_by}
        )
    )
    return lib, server


# -- the web app -----------------------------------------------------------------------------


@dataclass
class WebApp:
    """``photoark web --no-open --port 0 --json`` in a subprocess, as a user runs it."""

    home: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    url: str = ""  # the one-time login link
    base: str = ""
    spawn_to_url_s: float = 0.0
    spawn_to_ready_s: float = 0.0

    def start(self, timeout: float = 120) -> WebApp:
        import httpx

        started = time.perf_counter()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "photoark.cli.main", "web"),
                    *("--no-open", "--port", "0", "--json", "--home", str(self.home)),
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                env={**os.environ, "PHOTOARK_HOME": str(self.home)},
            )
        assert self.process.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(
            target=lambda: line.append(self.process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not line or not line[0].strip():
            self.stop()
            raise RuntimeError(f"photoark web printed no URL; log:\n{self.log_tail()}")
        self.url = json.loads(line[0])["url"]
        self.spawn_to_url_s = time.perf_counter() - started
        self.base = self.url.split("/login", 1)[0]
        deadline = time.monotonic() + timeout
        while True:  # the socket listens before the URL is printed; answers come after start-up
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/static/app.css", timeout=5).status_code == 200:
                    break
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"photoark web did not answer; log:\n{self.log_tail()}")
            time.sleep(0.02)
        self.spawn_to_ready_s = time.perf_counter() - started
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_tail(self, n: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-n:]
        return ""

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


# -- in the page -----------------------------------------------------------------------------

# before the page's own scripts, in every document: resource timings kept, long tasks and
# image load times recorded
INIT_SCRIPT = """
(() => {
  performance.setResourceTimingBufferSize(200000);
  const bench = window.__bench = { longTasks: [], tilesAt: null };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) bench.longTasks.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (_) { bench.longTasks = null; }
  // frames over 50 ms with what they spent: [start, duration, scripts, style + layout on]
  bench.loaf = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const scripts = e.scripts.reduce((sum, x) => sum + x.duration, 0);
        const end = e.startTime + e.duration;
        const style = e.styleAndLayoutStart ? end - e.styleAndLayoutStart : 0;
        bench.loaf.push([e.startTime, e.duration, scripts, style]);
      }
    }).observe({ type: "long-animation-frame", buffered: true });
  } catch (_) { bench.loaf = null; }
  // thumbnails asked for: every src set on an image (finished: the resource timings)
  bench.thumbnailsAsked = 0;
  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    enumerable: src.enumerable,
    get: src.get,
    set(value) {
      if (String(value).includes("/thumbnail")) bench.thumbnailsAsked++;
      src.set.call(this, value);
    },
  });
  document.addEventListener("load", (e) => {
    if (e.target && e.target.tagName === "IMG") e.target.__loadedAt = performance.now();
  }, true);
})();
"""

# true once the first ``n`` tiles on screen (in reading order) have their thumbnail
TILES_LOADED = """
(n) => {
  const bench = window.__bench;
  const h = window.innerHeight;
  const onScreen = [];
  for (const a of document.querySelectorAll("#timeline a[data-photo-id]")) {
    const r = a.getBoundingClientRect();
    if (r.bottom > 0 && r.top < h) onScreen.push([r.top, r.left, a]);
  }
  if (!onScreen.length) return false;
  if (bench.tilesAt === null) bench.tilesAt = performance.now();
  onScreen.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const first = onScreen.slice(0, n).map((x) => x[2].querySelector("img"));
  if (!first.every((img) => img && img.complete && img.naturalWidth > 0)) return false;
  return {
    at: performance.now(),
    tilesAt: bench.tilesAt,
    // an image the browser still holds loads before its tile is in the page: no event seen
    lastLoad: Math.max(0, ...first.map((img) => img.__loadedAt || 0)),
    unseen: first.filter((img) => !img.__loadedAt).length,
    count: first.length,
    ids: first.map((img) => Number(img.closest("a").dataset.photoId)),
  };
}
"""

THUMBNAIL_COUNTS = """
() => [
  window.__bench.thumbnailsAsked,
  performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/thumbnail")).length,
]
"""

PAGE_TIMINGS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const timeline = performance.getEntriesByType("resource")
    .filter((e) => e.name.includes("/api/timeline"));
  const t = timeline[timeline.length - 1];
  return {
    nav: nav ? {
      redirectEnd: nav.redirectEnd, responseStart: nav.responseStart,
      responseEnd: nav.responseEnd, domContentLoaded: nav.domContentLoadedEventEnd,
      redirectCount: nav.redirectCount,
    } : null,
    timeline: t ? {
      start: t.startTime, requestStart: t.requestStart, responseStart: t.responseStart,
      responseEnd: t.responseEnd, bytes: t.encodedBodySize, decoded: t.decodedBodySize,
    } : null,
  };
}
"""

# one ``step`` of scroll per animation frame until the bottom; the frames' timestamps
# one ``step`` of scroll per animation frame until the bottom, then 5 more frames; started
# here and polled (a promise awaited over the protocol would wait forever on a stalled page)
SCROLL_START = """
({ step, maxMs }) => {
  const bench = window.__bench;
  const longBefore = bench.longTasks ? bench.longTasks.length : 0;
  const loafBefore = bench.loaf ? bench.loaf.length : 0;
  const run = window.__scroll = { frames: [], done: false, startY: window.scrollY };
  let settle = 0;
  let bottomAt = null;
  function tick(ts) {
    run.frames.push(ts);
    const bottom = document.scrollingElement.scrollHeight - window.innerHeight;
    if (bottomAt === null && (window.scrollY >= bottom - 1 || ts - run.frames[0] > maxMs)) {
      bottomAt = ts;
    }
    if (bottomAt === null) {
      window.scrollBy(0, step);
    } else if (++settle > 5) {
      Object.assign(run, {
        bottomAt, reached: window.scrollY >= bottom - 1, endY: window.scrollY,
        height: document.scrollingElement.scrollHeight,
        longTasks: bench.longTasks ? bench.longTasks.slice(longBefore) : null,
        loaf: bench.loaf ? bench.loaf.slice(loafBefore) : null,
        done: true,
      });
      return;
    }
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
}
"""

# where a scroll is (for a report when it stalls)
SCROLL_STATE = """
() => ({
  frames: window.__scroll ? window.__scroll.frames.length : null, y: Math.round(window.scrollY),
  visibility: document.visibilityState, focus: document.hasFocus(),
  now: Math.round(performance.now()),
})
"""

LAST_ROWS = """
() => {
  const rows = [...document.querySelectorAll("#timeline > div")];
  rows.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
  const tiles = rows.filter((r) => r.classList.contains("row"));
  const last = tiles[tiles.length - 1];
  const months = rows.filter((r) => r.classList.contains("month"))
    .map((m) => m.firstChild ? m.firstChild.textContent : "");
  return {
    rows: rows.length,
    lastIds: last ? [...last.querySelectorAll("a[data-photo-id]")]
      .map((a) => Number(a.dataset.photoId)) : [],
    months,
    images: document.querySelectorAll("#timeline img").length,
    heading: (document.querySelector(".toolbar .spacer + span") || {}).textContent || "",
  };
}
"""


def thumbnail_counts(page: Any) -> tuple[int, int]:
    """Thumbnails this page asked for (``src`` set) and saw finish (resource timing entries:
    answered, or given up by the browser)."""
    got: list[int] = page.evaluate(THUMBNAIL_COUNTS)
    return got[0], got[1]


def first_tiles(page: Any, url: str, timeout_s: float) -> dict[str, Any]:
    """Navigate to ``url``; the in-page times (ms from navigation start) to the first tiles."""
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    handle = page.wait_for_function(
        TILES_LOADED, arg=FIRST_TILES, polling="raf", timeout=timeout_s * 1000
    )
    wall = (time.perf_counter() - t0) * 1000
    got: dict[str, Any] = handle.json_value()
    got["wall_ms"] = wall
    got.update(page.evaluate(PAGE_TIMINGS))
    return got


def frame_stats(frames: list[float]) -> dict[str, float]:
    deltas = [b - a for a, b in itertools.pairwise(frames)]
    if not deltas:
        return {"frames": 0}
    interval = 1000 / 60
    return {
        "frames": len(deltas),
        "p50_ms": percentile(deltas, 50),
        "p95_ms": percentile(deltas, 95),
        "p99_ms": percentile(deltas, 99),
        "max_ms": max(deltas),
        "over_50ms": sum(1 for d in deltas if d > 50),
        "dropped_60hz": sum(max(0, round(d / interval) - 1) for d in deltas),
    }


# -- thumbnails over HTTP --------------------------------------------------------------------


def cached_ids(home: Path) -> set[int]:
    """Photo ids with a thumbnail in the web app's cache (``<id>-<size>`` files)."""
    root = home / "cache" / "thumbnails"
    ids: set[int] = set()
    if root.is_dir():
        for folder in root.iterdir():
            if folder.is_dir():
                for item in folder.iterdir():
                    head = item.name.split("-", 1)[0]
                    if head.isdigit():
                        ids.add(int(head))
    return ids


def timed_gets(client: Any, paths: list[str]) -> tuple[list[float], int]:
    """Sequential GETs; milliseconds each, and bytes received. Every answer must be a JPEG."""
    times: list[float] = []
    received = 0
    for path in paths:
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200 or r.content[:2] != b"\xff\xd8":
            raise RuntimeError(f"GET {path}: {r.status_code} {r.content[:200]!r}")
        received += len(r.content)
    return times, received


def ms(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.1f} ms, p95 {percentile(values, 95):.1f} ms, "
        f"max {max(values):.1f} ms"
    )


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Run:
    args: argparse.Namespace
    lib: Library
    server: ServerProcess
    web: WebApp
    table: Table
    result: dict[str, Any]
    targets: list[tuple[str, bool]] = field(default_factory=list)
    checks: list[tuple[str, bool]] = field(default_factory=list)

    def target(self, name: str, ok: bool) -> bool:
        self.targets.append((name, ok))
        return ok

    def check(self, name: str, ok: bool) -> bool:
        self.checks.append((name, ok))
        return ok

    def cpu(self) -> tuple[float, float, float, float]:
        """CPU seconds so far of the web process, of the server, of Chromium (its processes
        under this one) and of playwright's driver (node)."""
        assert self.server.process is not None
        web, server = self.web.pid, self.server.process.pid
        browser = driver = 0.0
        for pid in descendants(os.getpid()) - {web, server}:
            comm = ""
            with contextlib.suppress(OSError), open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            if comm == "node":
                driver += cpu_seconds(pid)
            else:
                browser += cpu_seconds(pid)
        return cpu_seconds(web), cpu_seconds(server), browser, driver


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    stack = [pid]
    while stack:
        parent = stack.pop()
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{tid}/children") as f:
                    for child in f.read().split():
                        if int(child) not in found:
                            found.add(int(child))
                            stack.append(int(child))
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--thumbs", type=int, default=500, help="thumbnails fetched with httpx")
    ap.add_argument("--step", type=float, default=1.0, help="scroll step, in viewports/frame")
    ap.add_argument("--timeout", type=float, default=120.0, help="per wait in the page (s)")
    ap.add_argument(
        "--drain-timeout",
        type=float,
        default=600.0,
        help="wait for the tiles at the bottom after a scroll (s)",
    )
    ap.add_argument("--keep-data", action="store_true", help="keep the library for a re-run")
    ap.add_argument("--json-out")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    code = announce_source()
    size = f"{VIEWPORT['width']}×{VIEWPORT['height']}"
    table = Table(f"web timeline — {args.files} photos, headless Chromium {size}")
    result: dict[str, Any] = {"files": args.files, "code": code, "viewport": VIEWPORT}
    started = time.perf_counter()
    load_before = os.getloadavg()
    with library(args.files, args.keep_data) as (lib, server):
        if lib.built_s is not None:
            table.add(
                "library built (info)",
                f"{lib.built_s:.0f} s, of which photoark backup {lib.backup_s:.0f} s",
                "info",
            )
        else:
            table.note(f"library reused from an earlier --keep-data run (built by {lib.built_by})")
        result["library_built_s"] = lib.built_s
        result["backup_s"] = lib.backup_s
        shutil.rmtree(lib.home / "cache", ignore_errors=True)  # a cold thumbnail cache
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
            web = WebApp(lib.home, lib.root / "web.log").start(timeout=args.timeout)
            bench = Run(args, lib, server, web, table, result)
            try:
                measure(bench, browser)
            finally:
                browser.close()
                result["web_exit_code"] = web.stop()
    result["bench_s"] = time.perf_counter() - started
    load = f"{load_before[0]:.1f} → {os.getloadavg()[0]:.1f}"
    result["load_average"] = [load_before[0], os.getloadavg()[0]]
    table.note(
        f"whole benchmark {result['bench_s']:.0f} s; warm page cache; load average (1 min) "
        f"{load} on {os.cpu_count()} cores (other work on the machine moves the frame times)"
    )
    print(table.render())
    for name, ok in bench.targets:
        print(f"TARGET {name}: {'PASS' if ok else 'FAIL'}")
    for name, ok in bench.checks:
        print(f"CHECK {name}: {'PASS' if ok else 'FAIL'}")
    write_json(args.json_out, {"benchmark": "web_timeline", **result})


def measure(bench: Run, browser: Any) -> None:
    import httpx

    web, table, result = bench.web, bench.table, bench.result
    result["web_spawn_to_url_s"] = web.spawn_to_url_s
    result["web_spawn_to_ready_s"] = web.spawn_to_ready_s
    rss = proc_status(web.pid, "VmRSS")
    table.add(
        "photoark web: spawn → URL printed / answering",
        f"{web.spawn_to_url_s:.2f} s / {web.spawn_to_ready_s:.2f} s, RSS {fmt_bytes(rss)}",
        "info",
    )
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.add_init_script(INIT_SCRIPT)

    # (1) first tiles, cold thumbnail cache: the login link, redirected to /
    page = open_tab(bench, context)
    cpu0 = bench.cpu()
    cold = first_tiles(page, web.url, bench.args.timeout)
    cpu1 = bench.cpu()
    show_first_tiles(bench, "(1) cold thumbnail cache", "cold", cold)
    table.add(
        "  thumbnails asked for by then; CPU web / server",
        f"{thumbnail_counts(page)[0]}; {cpu1[0] - cpu0[0]:.2f} s / {cpu1[1] - cpu0[1]:.2f} s",
        "info",
    )
    # (1') the page loaded again: the top's thumbnails are in the app's cache now
    warm = first_tiles(page, web.base + "/", bench.args.timeout)
    show_first_tiles(bench, "(1') page reloaded, thumbnails cached", "warm", warm)

    # the session cookie, for httpx
    cookies = {c["name"]: c["value"] for c in context.cookies() if c["name"].startswith("photo")}
    with httpx.Client(base_url=web.base, cookies=cookies, timeout=60) as client:
        ids, oldest, last_month = timeline_api(bench, client)
        # (3) thumbnails over HTTP, on photos the pages have not asked for yet
        thumbnails(bench, client, ids)
        photo_view(bench, client, ids)

    # (2) scroll to the end: the thumbnails are requested (cold) as the tiles pass
    scroll_to_end(bench, page, "(2) scroll to the end", "scroll", oldest, last_month)
    # (2') the page loaded again and scrolled again, once the app holds every thumbnail the
    # first scroll asked for (one tab throughout: a tab behind another may get no frames)
    first_tiles(page, web.base + "/", bench.args.timeout)
    page.wait_for_timeout(1000)
    label = "(2') again, page reloaded (thumbnails cached)"
    scroll_to_end(bench, page, label, "scroll2", oldest, last_month)
    page.close()
    context.close()

    # (4) peak RSS of the web process
    peak = proc_status(web.pid, "VmHWM")
    result["web_peak_rss"] = peak
    result["web_cpu_s"] = bench.cpu()[0]
    ok = bench.target(f"photoark web peak RSS ≤ {RSS_TARGET // MiB} MiB", 0 < peak <= RSS_TARGET)
    table.add(
        "(4) photoark web peak RSS (VmHWM)",
        f"{peak / MiB:.0f} MiB (CPU {result['web_cpu_s']:.1f} s in all)",
        f"≤ {RSS_TARGET // MiB} MiB",
        ok,
    )


def open_tab(bench: Run, context: Any) -> Any:
    """A tab already showing a file of the app's origin (a static one: no session needed), so
    that the browser's start of a renderer process for the site is not counted in what is
    measured next."""
    page = context.new_page()
    page.goto(bench.web.base + "/static/app.css")
    return page


def show_first_tiles(bench: Run, label: str, key: str, got: dict[str, Any]) -> None:
    bench.result[f"first_tiles_{key}"] = got
    ok = bench.target(
        f"first {FIRST_TILES} tiles loaded ≤ {FIRST_TILES_TARGET_MS:.0f} ms ({key})",
        got["at"] <= FIRST_TILES_TARGET_MS,
    )
    bench.table.add(
        f"{label}: first {got['count']} tiles loaded",
        f"{got['at']:.0f} ms from navigation start (wall {got['wall_ms']:.0f} ms)",
        f"≤ {FIRST_TILES_TARGET_MS:.0f} ms",
        ok,
    )
    nav, tl = got["nav"] or {}, got["timeline"] or {}
    redirect = bool(nav.get("redirectCount"))
    bench.table.add(
        "  " + ("login redirect / " if redirect else "") + "HTML / DOM ready / "
        "/api/timeline / tiles / thumbnails (ms)",
        (f"{nav['redirectEnd']:.0f} / " if redirect else "")
        + f"{nav.get('responseEnd', 0):.0f} / {nav.get('domContentLoaded', 0):.0f} / "
        f"{tl.get('start', 0):.0f}→{tl.get('responseEnd', 0):.0f} / {got['tilesAt']:.0f} / "
        + (f"{got['lastLoad']:.0f}" if got["lastLoad"] else "—")
        + (
            f" ({got['unseen']} of {got['count']} already in the browser's memory)"
            if got["unseen"]
            else ""
        ),
        "info",
    )


def timeline_api(bench: Run, client: Any) -> tuple[list[int], int, str]:
    """``/api/timeline`` 5 times; the ids newest first, the oldest, the last month's label."""
    times: list[float] = []
    timeline: dict[str, Any] = {}
    size = 0
    for _ in range(5):
        t = time.perf_counter()
        r = client.get("/api/timeline")
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        timeline, size = r.json(), len(r.content)
    months = timeline["months"]
    ids = [int(item[0]) for m in months for item in m["items"]]
    bench.result.update(timeline_httpx_ms=times, timeline_bytes=size, months=len(months))
    bench.table.add(
        "  /api/timeline with httpx (5 GETs)",
        f"median {statistics.median(times):.0f} ms (min {min(times):.0f}), {fmt_bytes(size)}, "
        f"{timeline['count']} photos in {len(months)} months",
        "info",
    )
    files = bench.lib.files
    bench.check(
        f"the timeline lists every photo once ({timeline['count']} of {files})",
        timeline["count"] == files and len(set(ids)) == files,
    )
    return ids, ids[-1], str(months[-1]["label"])


def thumbnails(bench: Run, client: Any, ids: list[int]) -> None:
    """(3) ``--thumbs`` photos not in the cache yet: GET each thumbnail (cold), then again."""
    have = cached_ids(bench.lib.home)
    fresh = [i for i in ids if i not in have]
    sample = random.Random(3).sample(fresh, min(bench.args.thumbs, len(fresh)))
    paths = [f"/api/photos/{i}/thumbnail" for i in sample]
    cold_ms, received = timed_gets(client, paths)
    warm_ms, _ = timed_gets(client, paths)
    stored = cached_ids(bench.lib.home)
    bench.check(
        f"the {len(sample)} thumbnails fetched are in the cache now",
        all(i in stored for i in sample),
    )
    bench.result.update(thumbnail_cold_ms=cold_ms, thumbnail_warm_ms=warm_ms)
    bench.table.add(
        f"(3) {len(sample)} thumbnail GETs, cold (server → cache)",
        f"{ms(cold_ms)} ({received / max(1, len(sample)):.0f} B each)",
        "info",
    )
    bench.table.add(
        "    the same again, warm (from the cache)",
        ms(warm_ms),
        "info",
    )


def photo_view(bench: Run, client: Any, ids: list[int]) -> None:
    """``/api/photos/ID`` (what the photo view asks first: facts, previous and next), 20
    photos spread over the timeline; for information."""
    times: list[float] = []
    for i in ids[:: max(1, len(ids) // 20)][:20]:
        t = time.perf_counter()
        r = client.get(f"/api/photos/{i}")
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    bench.result["photo_facts_ms"] = times
    bench.table.add(
        f"  /api/photos/ID (photo view), {len(times)} GETs",
        ms(times),
        "info",
    )


def scroll_to_end(
    bench: Run, page: Any, label: str, key: str, oldest: int, last_month: str
) -> None:
    """(2) one viewport per frame to the bottom; frame times; the last row; the tiles there."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    table = bench.table
    before = thumbnail_counts(page)
    cpu0 = bench.cpu()
    step = int(VIEWPORT["height"] * bench.args.step)
    page.evaluate(SCROLL_START, {"step": step, "maxMs": bench.args.timeout * 1000})
    try:
        page.wait_for_function(
            "() => window.__scroll.done", polling=250, timeout=bench.args.timeout * 1000 + 30_000
        )
    except PlaywrightTimeout:
        state = page.evaluate(SCROLL_STATE)
        bench.result[key] = {"stalled": state}
        bench.check(f"{key}: the page kept drawing frames while scrolling", False)
        table.add(f"{label}: STALLED (no more animation frames)", json.dumps(state), "", False)
        return
    scroll = page.evaluate("window.__scroll")
    cpu1 = bench.cpu()
    frames: list[float] = scroll["frames"]
    stats = frame_stats(frames[: len(frames) - 5])  # the frames of the scroll itself
    duration = (scroll["bottomAt"] - frames[0]) / 1000
    long_tasks = scroll["longTasks"]
    out: dict[str, Any] = {
        "duration_s": duration,
        "height_px": scroll["height"],
        "step_px": step,
        "reached_bottom": scroll["reached"],
        "long_tasks": long_tasks,
        "frame_times_ms": [round(b - a, 2) for a, b in itertools.pairwise(frames)],
        "cpu_web_s": cpu1[0] - cpu0[0],
        "cpu_server_s": cpu1[1] - cpu0[1],
        "cpu_browser_s": cpu1[2] - cpu0[2],
        "cpu_driver_s": cpu1[3] - cpu0[3],
        **stats,
    }
    bench.result[key] = out
    table.add(
        f"{label}, {step} px per frame",
        f"{duration:.1f} s, {stats['frames']} frames over {scroll['height'] / 1000:.0f}k px "
        f"({stats['frames'] / max(duration, 1e-9):.0f} fps)",
        "info",
    )
    ok = bench.target(
        f"{key}: frame time p95 ≤ {FRAME_TARGET_MS:.0f} ms", stats["p95_ms"] <= FRAME_TARGET_MS
    )
    table.add(
        "  frame time p50 / p95 / p99",
        f"{stats['p50_ms']:.1f} / {stats['p95_ms']:.1f} / {stats['p99_ms']:.1f} ms",
        f"p95 ≤ {FRAME_TARGET_MS:.0f} ms",
        ok,
    )
    ok = bench.target(
        f"{key}: no frame > {FRAME_TARGET_MS:.0f} ms", stats["max_ms"] <= FRAME_TARGET_MS
    )
    longest = max((d for _, d in long_tasks or ()), default=0.0)
    table.add(
        "  max; frames > 50 ms; dropped (60 Hz); long tasks",
        f"{stats['max_ms']:.0f} ms; {stats['over_50ms']}; {stats['dropped_60hz']}; "
        + (f"{len(long_tasks)} (longest {longest:.0f} ms)" if long_tasks is not None else "?"),
        f"none > {FRAME_TARGET_MS:.0f} ms",
        ok,
    )
    loaf = scroll["loaf"]
    out["long_animation_frames"] = loaf
    if loaf:
        total = sum(e[1] for e in loaf)
        script = sum(e[2] for e in loaf)
        style = sum(e[3] for e in loaf)
        table.add(
            "  long frames (LoAF): n; script / style+layout / other",
            f"{len(loaf)}; {script:.0f} / {style:.0f} / {total - script - style:.0f} ms "
            f"of {total:.0f} ms",
            "info",
        )
    cores = (os.cpu_count() or 1) * duration
    table.add(
        "  CPU: Chromium / web / server / driver",
        f"{out['cpu_browser_s']:.1f} / {out['cpu_web_s']:.1f} / {out['cpu_server_s']:.1f} / "
        f"{out['cpu_driver_s']:.1f} s (of {cores:.0f} s)",
        "info",
    )
    rows = page.evaluate(LAST_ROWS)
    out["last_rows"] = rows
    month_shown = last_month in rows["months"] or rows["heading"] == last_month
    reached = bench.check(
        f"{key}: the last row holds the oldest photo ({oldest}), month {last_month} shown",
        bool(scroll["reached"]) and oldest in rows["lastIds"] and month_shown,
    )
    table.add(
        "  last row holds the oldest photo, month shown",
        f"{'yes' if reached else 'NO'} (photo {oldest}, {last_month}; "
        f"{rows['rows']} rows / {rows['images']} images in the page)",
        "yes",
        reached,
    )
    at_bottom = thumbnail_counts(page)
    t = time.perf_counter()
    try:
        page.wait_for_function(
            TILES_LOADED, arg=FIRST_TILES, polling=50, timeout=bench.args.drain_timeout * 1000
        )
        waited: float | None = time.perf_counter() - t
    except PlaywrightTimeout:
        waited = None
    loaded = thumbnail_counts(page)
    cpu2 = bench.cpu()
    out["bottom_tiles_s"] = waited
    out["requests_scroll"] = [b - a for a, b in zip(before, at_bottom, strict=True)]
    out["requests_bottom_wait"] = [b - a for a, b in zip(at_bottom, loaded, strict=True)]
    table.add(
        "  bottom tiles loaded, after the last frame",
        f"{waited:.1f} s" if waited is not None else f"not in {bench.args.drain_timeout:.0f} s",
        "info",
    )
    d1, d2 = out["requests_scroll"], out["requests_bottom_wait"]
    table.add(
        "  thumbnails asked / finished: scroll; bottom",
        f"{d1[0]} / {d1[1]}; {d2[0]} / {d2[1]}; "
        f"CPU Chromium / web / server / driver {cpu2[2] - cpu1[2]:.1f} / "
        f"{cpu2[0] - cpu1[0]:.1f} / {cpu2[1] - cpu1[1]:.1f} / {cpu2[3] - cpu1[3]:.1f} s",
        "info",
    )


if __name__ == "__main__":
    main()
