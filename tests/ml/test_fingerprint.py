"""The thumbnail fingerprint: pHash exactly imagehash's (checked against imagehash on corpus
thumbnails when it is installed), the 8 views exactly the pHashes of the turned pictures, d8 0
for a turned copy and large for other pictures or other shots, and the plain-picture guard."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from photoark.media import render_thumbnail, sniff
from photoark.ml.fingerprint import (
    NEAR_IDENTICAL_MAX_BITS,
    PLAIN_MIN_DETAIL,
    PLAIN_MIN_SIDE,
    TRANSFORMS,
    Fingerprint,
    d8_distance,
    fingerprint,
    is_plain,
    phash,
)
from photoark.ml.preprocess import load_image_bytes
from tests.ml.builders import a_fingerprint

BRIDGE = "neardup-threatexchange-pdq/pdq/data/bridge-mods"
# four shots of one biscuit tin, turned by hand between them: other shots, not copies
TIN = [f"neardup-sim-bench/samples/ukbench/ukbench0000{i}.jpg" for i in range(4, 8)]


def _photo(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A detailed picture: coloured noise at several scales, blurred a little."""
    rng = np.random.default_rng(seed)
    out = np.zeros((size[1], size[0], 3), dtype=np.float64)
    for cells, weight in ((4, 0.5), (16, 0.3), (64, 0.2)):
        noise = rng.integers(0, 256, size=(cells, cells, 3), dtype=np.uint8)
        out += weight * np.asarray(Image.fromarray(noise).resize(size, Image.Resampling.BICUBIC))
    image = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    return image.filter(ImageFilter.GaussianBlur(1))


def _thumbnail(corpus: Path, relative: str) -> Image.Image:
    """A corpus file as the embedder sees it: its thumbnail, decoded."""
    path = corpus / relative
    fmt = sniff(path)
    assert fmt is not None
    result = render_thumbnail(path, fmt)
    assert result.data is not None, result.error
    return load_image_bytes(result.data)


def _hashes_the_long_way(image: Image.Image) -> tuple[int, ...]:
    return tuple(phash(image if t is None else image.transpose(t)) for t in TRANSFORMS)


@pytest.mark.parametrize("size", [(640, 480), (481, 719), (33, 1000), (7, 5), (720, 720)])
def test_the_eight_views_are_the_turned_pictures_hashes(size: tuple[int, int]) -> None:
    """fingerprint() resizes twice and mirrors; resizing each turned picture gives the same."""
    image = _photo(size[0] * 7 + size[1], size)
    assert fingerprint(image).phashes == _hashes_the_long_way(image)


@pytest.mark.parametrize("transform", TRANSFORMS[1:])
def test_a_turned_or_mirrored_copy_is_0_bits_away(transform: Image.Transpose) -> None:
    image = _photo(1)
    original, turned = fingerprint(image), fingerprint(image.transpose(transform))
    assert d8_distance(original, turned) == d8_distance(turned, original) == 0
    assert sorted(turned.phashes) == sorted(original.phashes)  # the same 8 views, reordered
    assert (turned.detail, turned.side) == (original.detail, original.side)


def test_a_re_encoded_smaller_copy_is_close_and_other_pictures_are_far() -> None:
    image = _photo(2)
    copy = image.resize((320, 240), Image.Resampling.BILINEAR).rotate(90, expand=True)
    assert d8_distance(fingerprint(image), fingerprint(copy)) <= NEAR_IDENTICAL_MAX_BITS
    prints = [fingerprint(_photo(seed)) for seed in range(3, 9)]
    far = [d8_distance(a, b) for i, a in enumerate(prints) for b in prints[i + 1 :]]
    assert min(far) > 2 * NEAR_IDENTICAL_MAX_BITS, far


def test_d8_is_the_bench_s_distance() -> None:
    """bench/similar_quality.py: one picture's upright hash against the other's 8, the
    minimum, the smaller of the two ways round."""
    prints = [a_fingerprint(seed) for seed in range(6)]
    bits = np.array(
        [[[(h >> (63 - i)) & 1 for i in range(64)] for h in fp.phashes] for fp in prints], bool
    )
    ab = (bits[:, None, None, 0, :] != bits[None, :, :, :]).sum(-1).min(-1)
    want = np.minimum(ab, ab.T)
    got = [[d8_distance(a, b) for b in prints] for a in prints]
    assert np.array_equal(np.array(got), want)


def test_plain_pictures() -> None:
    flat = fingerprint(Image.new("RGB", (720, 540), (250, 250, 248)))
    assert flat.detail == 0.0 and is_plain(flat)
    page = Image.new("RGB", (720, 540), "white")
    ImageDraw.Draw(page).text((300, 260), "a word", fill="black")
    assert is_plain(fingerprint(page))
    photo = fingerprint(_photo(10))
    assert photo.detail > 0.9 and not is_plain(photo)
    small = fingerprint(_photo(11, (60, 45)))  # detailed, but too small to tell apart
    assert small.side == 60 and is_plain(small)
    assert fingerprint(_photo(11, (80, 45))).side == 80


def test_the_plain_bounds() -> None:
    hashes = a_fingerprint().phashes
    assert is_plain(Fingerprint(hashes, PLAIN_MIN_DETAIL - 1e-9, 720))
    assert not is_plain(Fingerprint(hashes, PLAIN_MIN_DETAIL, 720))
    assert not is_plain(Fingerprint(hashes, 48 / 160, 720))  # exactly 30 %
    assert is_plain(Fingerprint(hashes, 0.9, PLAIN_MIN_SIDE - 1))
    assert not is_plain(Fingerprint(hashes, 0.9, PLAIN_MIN_SIDE))


@pytest.mark.parametrize(
    ("count", "last", "detail", "side"),
    [(7, 0, 0.5, 10), (8, 2**64, 0.5, 10), (8, -1, 0.5, 10), (8, 0, 0.5, 70_000), (8, 0, -0.1, 1)],
)
def test_a_fingerprint_checks_its_fields(count: int, last: int, detail: float, side: int) -> None:
    hashes = (*a_fingerprint().phashes[: count - 1], last)
    with pytest.raises(ValueError):
        Fingerprint(hashes, detail, side)


def test_corpus_copies_are_close_and_other_shots_are_not(corpus: Path) -> None:
    """The bench's finding on real thumbnails: the PDQ bridge's edits (blur, sharpen, contrast,
    shrink, squashed squares) are within the bound, UKBench's shots of one tin are not."""
    original = fingerprint(_thumbnail(corpus, f"{BRIDGE}/aaa-orig.jpg"))
    for path in sorted((corpus / BRIDGE).glob("*.jpg")):
        copy = fingerprint(_thumbnail(corpus, f"{BRIDGE}/{path.name}"))
        assert d8_distance(original, copy) <= NEAR_IDENTICAL_MAX_BITS, path.name
        assert not is_plain(copy)
    tins = [fingerprint(_thumbnail(corpus, relative)) for relative in TIN]
    apart = [d8_distance(a, b) for i, a in enumerate(tins) for b in tins[i + 1 :]]
    assert min(apart) > NEAR_IDENTICAL_MAX_BITS, apart
    assert min(d8_distance(original, t) for t in tins) > 2 * NEAR_IDENTICAL_MAX_BITS


@pytest.mark.skipif(importlib.util.find_spec("imagehash") is None, reason="needs imagehash")
def test_phash_is_imagehash_s_on_corpus_thumbnails(corpus: Path) -> None:
    """Every 4th still image of the corpus, as a thumbnail: all 8 views equal imagehash.phash
    of the turned picture. Plain pictures are left out: their DCT coefficients are rounding
    noise around a median of ~0 (scipy's FFT and the cosine matrix round differently), and the
    grouping ignores their pHash (``is_plain``)."""
    import imagehash

    images = []
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        fmt = sniff(path)
        if fmt is not None and fmt.kind == "image" and not fmt.raw:
            images.append(path)
    compared = 0
    for path in images[::4]:
        result = render_thumbnail(path, sniff(path))  # type: ignore[arg-type]
        if result.data is None:
            continue
        image = load_image_bytes(result.data)
        fp = fingerprint(image)
        if is_plain(fp):
            continue
        want = tuple(
            int(str(imagehash.phash(image if t is None else image.transpose(t))), 16)
            for t in TRANSFORMS
        )
        assert fp.phashes == want, path
        compared += 1
    assert compared >= 40
