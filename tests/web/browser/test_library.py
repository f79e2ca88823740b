"""The library in a real browser: the virtualised timeline shows every photo once, thumbnails
decode, a video plays (and its original answers Range requests byte-exactly), a JPEG shows and
the arrow keys move through the timeline, and no page raises a script error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image, ImageOps

from tests.web.browser.conftest import WebApp

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

TILES = "#timeline [data-photo-id]"
VISIBLE_TILES = """() => [...document.querySelectorAll('#timeline [data-photo-id]')]
  .filter((a) => { const r = a.getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth; })
  .map((a) => Number(a.dataset.photoId))"""
THUMBS_SETTLED = """(ids) => ids.every((id) => {
  const img = document.querySelector(`#timeline [data-photo-id="${id}"] img`);
  return img && img.getAttribute('src') && img.complete; })"""
NATURAL_WIDTHS = """(ids) => ids.map((id) =>
  document.querySelector(`#timeline [data-photo-id="${id}"] img`).naturalWidth)"""


def next_frames(page: Page) -> None:
    """Wait until the page has drawn twice (the timeline renders on an animation frame)."""
    page.evaluate(
        "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(0))))"
    )


def tile_ids(page: Page) -> list[int]:
    ids: list[int] = page.eval_on_selector_all(
        TILES, "els => els.map((e) => Number(e.dataset.photoId))"
    )
    return ids


def open_timeline(page: Page, web: WebApp) -> None:
    page.goto(web.base + "/")
    page.wait_for_selector(TILES)
    next_frames(page)


def timeline_order(page: Page, web: WebApp) -> list[int]:
    """The ids in the order the timeline shows them (``/api/timeline``)."""
    data: dict[str, Any] = page.request.get(web.base + "/api/timeline").json()
    return [int(item[0]) for month in data["months"] for item in month["items"]]


def test_timeline_shows_every_photo_once(page: Page, web: WebApp) -> None:
    expected = web.ids()
    open_timeline(page, web)
    first_screen = tile_ids(page)
    assert len(first_screen) < len(expected), (
        "the library must be taller than the rendered part for this test to mean something"
    )
    assert page.inner_text("#count") == f"{len(expected)} items"
    seen: set[int] = set()
    y = 0
    while True:
        page.evaluate("(y) => window.scrollTo(0, y)", y)
        next_frames(page)
        snapshot = tile_ids(page)
        assert len(snapshot) == len(set(snapshot)), f"a photo shown twice at y={y}: {snapshot}"
        seen |= set(snapshot)
        bottom = page.evaluate(
            "() => window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 1"
        )
        if bottom:
            break
        y += 250
        assert y < 100_000, "never reached the bottom of the timeline"
    assert seen == expected, (
        f"missing from the timeline: {sorted(expected - seen)}; "
        f"not in the library: {sorted(seen - expected)}"
    )


def check_visible_thumbnails(page: Page, web: WebApp) -> list[int]:
    """Every visible tile of a photo with a thumbnail shows a decoded image; returns the ids
    checked."""
    visible: list[int] = page.evaluate(VISIBLE_TILES)
    with_thumbnail = [
        i for i in visible if page.request.get(f"{web.base}/api/photos/{i}").json()["has_thumbnail"]
    ]
    page.wait_for_function(THUMBS_SETTLED, arg=with_thumbnail, timeout=30_000)
    widths = page.evaluate(NATURAL_WIDTHS, with_thumbnail)
    broken = [i for i, w in zip(with_thumbnail, widths, strict=True) if not w > 0]
    assert not broken, f"thumbnails that did not decode: {broken}"
    return with_thumbnail


def test_visible_thumbnails_decode(page: Page, web: WebApp) -> None:
    open_timeline(page, web)
    checked = check_visible_thumbnails(page, web)
    # the newest (the corpus photos without a date sort by their upload time) are on the
    # first screen: a JPEG, the video when it has a thumbnail (ffmpeg), the Live Photo
    must = {web.id_of("bridge.jpg"), web.id_of("train.jpg")}
    video = web.id_of("christmas.mp4")
    if page.request.get(f"{web.base}/api/photos/{video}").json()["has_thumbnail"]:
        must.add(video)
    assert must <= set(checked), f"not on the first screen: {must - set(checked)}"
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    next_frames(page)
    checked += check_visible_thumbnails(page, web)
    assert len(checked) >= 8, f"only {len(checked)} thumbnails checked: the test means little"


def test_video_plays_and_original_answers_ranges(page: Page, web: WebApp) -> None:
    video = web.id_of("christmas.mp4")
    page.goto(f"{web.base}/photos/{video}")
    page.wait_for_function(
        "() => { const v = document.getElementById('media');"
        " return v && v.tagName === 'VIDEO' && (v.readyState >= 2 || v.error); }",
        timeout=30_000,
    )
    state = page.evaluate(
        """async () => {
          const v = document.getElementById('media');
          if (v.error) return { error: v.error.code };
          v.muted = true; v.currentTime = 0;
          await v.play();
          return { error: null, width: v.videoWidth, height: v.videoHeight,
                   readyState: v.readyState };
        }"""
    )
    assert state["error"] is None, f"the video failed to load: MediaError {state['error']}"
    assert state["width"] > 0 and state["height"] > 0 and state["readyState"] >= 2, state
    page.wait_for_function(
        "() => { const v = document.getElementById('media'); return v.currentTime > 0.1; }",
        timeout=15_000,
    )

    original = web.originals["christmas.mp4"].read_bytes()
    url = f"{web.base}/api/photos/{video}/original"
    whole = page.request.get(url)
    assert whole.status == 200 and whole.body() == original
    part = page.request.get(url, headers={"Range": "bytes=1000-4999"})
    assert part.status == 206, part.status
    assert part.headers["content-range"] == f"bytes 1000-4999/{len(original)}"
    assert part.body() == original[1000:5000]
    tail = page.request.get(url, headers={"Range": f"bytes={len(original) - 100}-"})
    assert tail.status == 206 and tail.body() == original[-100:]


def test_live_photo_parts_are_the_original_files(page: Page, web: WebApp) -> None:
    live = web.id_of("train.jpg")
    still = web.originals["train.jpg"].read_bytes()
    motion = web.originals["train.mov"].read_bytes()
    url = f"{web.base}/api/photos/{live}/original"
    assert page.request.get(url).body() == still
    part = page.request.get(url + "?part=1", headers={"Range": "bytes=500000-599999"})
    assert part.status == 206, part.status
    assert part.headers["content-type"] == "video/quicktime"
    assert part.body() == motion[500_000:600_000]


def test_jpeg_shows_and_arrow_keys_move_through_the_timeline(page: Page, web: WebApp) -> None:
    forest = web.id_of("forest.jpg")
    page.goto(f"{web.base}/photos/{forest}")
    page.wait_for_function(
        "() => { const m = document.getElementById('media');"
        " return m && m.tagName === 'IMG' && m.complete; }"
    )
    size = page.evaluate(
        "() => { const m = document.getElementById('media');"
        " return [m.naturalWidth, m.naturalHeight]; }"
    )
    with Image.open(web.originals["forest.jpg"]) as img:
        upright = ImageOps.exif_transpose(img)
        assert upright is not None
        assert size == list(upright.size), size
    assert page.inner_text(".facts h2") == "forest.jpg"

    order = timeline_order(page, web)
    at = order.index(forest)
    assert 0 < at < len(order) - 1, "pick a photo with neighbours on both sides"
    names = {int(f["id"]): f["name"] for f in web.listing()}
    for key, expected in (("ArrowRight", order[at + 1]), ("ArrowLeft", forest)):
        page.keyboard.press(key)
        page.wait_for_url(f"{web.base}/photos/{expected}")
        page.wait_for_function(
            "(name) => { const h = document.querySelector('.facts h2');"
            " return h && h.textContent === name; }",
            arg=names[expected],
        )


def test_no_page_raises_a_script_error(page: Page, web: WebApp) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(f"{page.url}: {err}"))
    photo = web.id_of("bridge.jpg")
    video = web.id_of("christmas.mp4")
    live = web.id_of("train.jpg")
    album = page.request.get(web.base + "/api/albums").json()[0]["id"]
    pages = {
        "/": TILES,
        "/albums": "[data-album]",
        f"/albums/{album}": TILES,
        f"/photos/{photo}": "#media",
        f"/photos/{video}": "#media",
        f"/photos/{live}": "#media",
        "/similar": "[data-group], #main .empty",
        "/duplicates": "[data-group], #main .empty",
        "/free-up-space": "#folder",
        "/trash": "#main h1",
        "/status": "#daemon",
    }
    for path, ready in pages.items():
        page.goto(web.base + path)
        page.wait_for_selector(ready, timeout=120_000)
        next_frames(page)
        failed = page.locator("#main .error, #toast.bad:not([hidden])")
        assert failed.count() == 0, f"{path}: {failed.first.inner_text()}"
    assert not errors, errors
