"""What the pages change, checked with the CLI: applying a duplicate or a near-identical group
moves the extra copies to the trash and undo brings them back; free-up moves only the files
whose backup is confirmed into the desktop trash. Each test has its own library."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.builders import wait_for
from tests.web.browser.conftest import Builder, WebApp, camera_library, review_library

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.e2e

MakeWeb = Callable[[Builder], WebApp]
OpenPage = Callable[[WebApp, str], "Page"]
CARDS = """(group) => [...group.querySelectorAll('figure.card')].map((c) => [
  Number(c.dataset.photoId),
  c.querySelector('[data-action="keep"]').getAttribute('aria-pressed') === 'true'])"""


def kept_and_trashed(group: Locator) -> tuple[set[int], set[int]]:
    cards: list[list[int | bool]] = group.evaluate(CARDS)
    kept = {int(i) for i, keep in cards if keep}
    trashed = {int(i) for i, keep in cards if not keep}
    return kept, trashed


def toast_says(page: Page, text: str) -> None:
    page.wait_for_function(
        "(text) => { const t = document.getElementById('toast');"
        " return !t.hidden && t.textContent.includes(text); }",
        arg=text,
        timeout=30_000,
    )


def apply_then_undo(page: Page, app: WebApp, group: Locator, expected: set[int]) -> None:
    """Apply ``group`` (its suggestion), check the library, undo, check it is as before."""
    before = app.albums_of()
    kept, trashed = kept_and_trashed(group)
    assert kept | trashed == expected and len(kept) == 1 and trashed, (kept, trashed)
    assert not app.trash_ids()

    group.locator('[data-action="apply"]').click()
    toast_says(page, "moved to the trash")

    def trashed_gone() -> dict[int, set[str]] | None:
        albums = app.albums_of()
        return None if trashed & set(albums) else albums

    after: dict[int, set[str]] = wait_for(trashed_gone)
    assert kept <= set(after), "the kept photo left the library"
    assert app.trash_ids() == trashed
    # every album that showed the content still shows it, through the kept copy
    (keeper,) = kept
    assert after[keeper] >= set().union(*(before[i] for i in expected)), after

    page.locator('[data-action="undo"]').click()
    toast_says(page, "restored from the trash")

    def as_before() -> bool:
        return app.albums_of() == before

    wait_for(as_before, timeout=30)
    assert not app.trash_ids()


def test_duplicates_apply_and_undo(make_web: MakeWeb, open_page: OpenPage) -> None:
    app = make_web(review_library)
    forest = {app.id_of("forest.jpg"), app.id_of("forest-copy.jpg")}
    page = open_page(app, "/duplicates")
    group = page.locator("[data-group]").first
    group.wait_for()
    assert page.locator("[data-group]").count() == 1
    apply_then_undo(page, app, group, forest)
    # the page shows the group again, to review once more
    page.locator("[data-group]").first.wait_for()
    assert kept_and_trashed(page.locator("[data-group]").first)[1]


def test_similar_apply_and_undo(make_web: MakeWeb, open_page: OpenPage) -> None:
    app = make_web(review_library)
    bridge = {app.id_of("bridge.jpg"), app.id_of("bridge-blur.jpg")}
    page = open_page(app, "/similar")
    group = page.locator('[data-group][data-tier="near_identical"]').first
    group.wait_for(timeout=180_000)  # the first scan embeds every photo
    apply_then_undo(page, app, group, bridge)
    page.locator('[data-group][data-tier="near_identical"]').first.wait_for()


def test_free_up_moves_only_backed_up_files(make_web: MakeWeb, open_page: OpenPage) -> None:
    app = make_web(camera_library)
    camera = app.folders["Camera"]
    new = camera / "new.jpg"
    backed_up = {p: p.read_bytes() for p in camera.iterdir() if p != new}
    assert len(backed_up) == 3
    library = app.ids()

    page = open_page(app, "/free-up-space")
    page.fill("#folder", str(camera))
    page.click('[data-action="scan"]')
    page.wait_for_selector("#freeup-summary")
    offered = page.eval_on_selector_all("tr[data-path]", "rows => rows.map((r) => r.dataset.path)")
    assert sorted(offered) == sorted(map(str, backed_up))
    kept_rows = "#kept tr[data-reason]"
    kept_js = "rows => rows.map((r) => [r.cells[0].textContent, r.dataset.reason])"
    assert page.eval_on_selector_all(kept_rows, kept_js) == [[str(new), "not_backed_up"]]

    page.click('[data-action="apply"]')
    page.click('#confirm [data-action="confirm"]')
    toast_says(page, "moved to the desktop trash")

    assert new.is_file(), "a file that is not backed up was deleted"
    assert sorted(p.name for p in camera.iterdir()) == ["new.jpg"]
    desktop_trash = app.xdg / "Trash" / "files"
    for path, content in backed_up.items():
        assert (desktop_trash / path.name).read_bytes() == content
    assert page.eval_on_selector_all(kept_rows, kept_js) == [[str(new), "not_backed_up"]]
    assert page.locator("tr[data-path]").count() == 0
    assert app.ids() == library, "free-up changed the library"


def test_similar_after_apply_and_reload_shows_no_trashed_photo(
    make_web: MakeWeb, open_page: OpenPage
) -> None:
    app = make_web(review_library)
    page = open_page(app, "/similar")
    group = page.locator('[data-group][data-tier="near_identical"]').first
    group.wait_for(timeout=180_000)
    _, trashed = kept_and_trashed(group)
    group.locator('[data-action="apply"]').click()
    toast_says(page, "moved to the trash")
    assert app.trash_ids() == trashed

    page.reload()
    page.wait_for_selector("[data-group], #main .empty", timeout=180_000)
    shown = page.eval_on_selector_all(
        "figure.card[data-photo-id]", "cards => cards.map((c) => Number(c.dataset.photoId))"
    )
    assert not trashed & set(shown), f"photos in the trash offered for review: {trashed}"
