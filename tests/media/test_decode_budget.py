"""The pixel budget: big decodes wait for each other, small ones never, in arrival order."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from photoark.media import FORMATS, decode_budget, render_thumbnail, thumbnails
from photoark.media.decode_budget import PixelBudget
from tests.media.builders import corpus_file

MP = 1_000_000


def _holding(budget: PixelBudget, pixels: int, log: list[str], name: str) -> Callable[[], None]:
    def hold() -> None:
        with budget.reserve(pixels):
            log.append(f"+{name}")
            time.sleep(0.15)
            log.append(f"-{name}")

    return hold


def _run(*targets: Callable[[], None], stagger: float = 0.03) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for thread in threads:
        thread.start()
        time.sleep(stagger)  # a known arrival order
    for thread in threads:
        thread.join(10)


def test_two_big_decodes_one_after_the_other() -> None:
    budget, log = PixelBudget(16 * MP, 2 * MP), list[str]()
    _run(_holding(budget, 12 * MP, log, "a"), _holding(budget, 12 * MP, log, "b"))
    assert log == ["+a", "-a", "+b", "-b"]
    assert budget.in_flight == 0


def test_two_that_fit_together_overlap() -> None:
    budget, log = PixelBudget(16 * MP, 2 * MP), list[str]()
    _run(_holding(budget, 8 * MP, log, "a"), _holding(budget, 8 * MP, log, "b"))
    assert log[:2] == ["+a", "+b"]


def test_small_decodes_never_wait() -> None:
    budget, log = PixelBudget(16 * MP, 2 * MP), list[str]()
    _run(_holding(budget, 16 * MP, log, "big"), _holding(budget, 2 * MP, log, "small"))
    assert log[:2] == ["+big", "+small"]


def test_larger_than_the_budget_runs_alone() -> None:
    budget, log = PixelBudget(16 * MP, 2 * MP), list[str]()
    _run(_holding(budget, 50 * MP, log, "huge"), _holding(budget, 3 * MP, log, "b"))
    assert log == ["+huge", "-huge", "+b", "-b"]


def test_first_come_first_served() -> None:
    """A medium decode arriving after a waiting big one does not overtake it."""
    budget, log = PixelBudget(16 * MP, 2 * MP), list[str]()
    _run(
        _holding(budget, 10 * MP, log, "a"),
        _holding(budget, 12 * MP, log, "big"),  # waits for a
        _holding(budget, 4 * MP, log, "medium"),  # would fit beside a, but big came first
    )
    assert log.index("+big") < log.index("+medium")
    assert log.index("-a") < log.index("+big")


def test_released_on_error() -> None:
    budget = PixelBudget(16 * MP, 2 * MP)
    with pytest.raises(RuntimeError), budget.reserve(12 * MP):
        raise RuntimeError("decoder failed")
    assert budget.in_flight == 0


def test_big_heic_decode_holds_its_pixels_until_shrunk(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full HEIC decode reserves its 12 MP for the whole render; the reservation is gone
    after it, even when the encode fails."""
    path, fmt = corpus_file(corpus, "photoprism/assets/examples/iphone_7.heic")  # no preview
    budget = PixelBudget(decode_budget.BUDGET_PIXELS, decode_budget.COUNTED_PIXELS)
    monkeypatch.setattr(thumbnails, "DECODES", budget)
    seen: list[int] = []
    real_encode = thumbnails._encode

    def encode(*args: object) -> bytes:
        seen.append(budget.in_flight)
        return real_encode(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(thumbnails, "_encode", encode)
    assert render_thumbnail(path, fmt).data is not None
    assert seen == [4032 * 3024] and budget.in_flight == 0

    def failing(*_args: object) -> bytes:
        seen.append(budget.in_flight)
        raise OSError("encoder failed")

    monkeypatch.setattr(thumbnails, "_encode", failing)
    assert render_thumbnail(path, fmt).data is None
    assert seen[-1] == 4032 * 3024 and budget.in_flight == 0


class _Recording(PixelBudget):
    def __init__(self) -> None:
        super().__init__(decode_budget.BUDGET_PIXELS, decode_budget.COUNTED_PIXELS)
        self.asked: list[int] = []

    @contextlib.contextmanager
    def reserve(self, pixels: int) -> Iterator[None]:
        self.asked.append(pixels)
        with super().reserve(pixels):
            yield


@pytest.mark.parametrize(
    ("progressive", "weighed"),
    [
        (False, 1000 * 750),  # decoded at 1/4 scale: not counted
        (True, 4000 * 3000),  # libjpeg keeps a progressive JPEG's coefficients at full size
    ],
)
def test_jpeg_weighed_by_what_it_decodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, progressive: bool, weighed: int
) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (20, 90, 200)).save(path, quality=80, progressive=progressive)
    budget = _Recording()
    monkeypatch.setattr(thumbnails, "DECODES", budget)
    assert render_thumbnail(path, FORMATS["jpeg"]).data is not None
    assert budget.asked == [weighed] and budget.in_flight == 0


def test_idle_hook_after_the_last_big_decode() -> None:
    calls: list[int] = []
    budget = PixelBudget(16 * MP, 2 * MP, on_idle=lambda: calls.append(budget.in_flight))
    with budget.reserve(1 * MP):  # not counted: no hook
        pass
    assert calls == []
    with budget.reserve(8 * MP):
        with budget.reserve(4 * MP):
            pass
        assert calls == []  # 8 MP still in flight
    assert calls == [0]


def test_trim_malloc_runs() -> None:
    assert isinstance(decode_budget.trim_malloc(), bool)
