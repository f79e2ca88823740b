"""Similar-photo quality (issue 17): the two tiers of ``photoark similar``, calibrated on one part
of a labelled set and scored on the other, grouped without chaining.

**Labelled set**: ``bench/similar_labels.csv``, one row per media file of ``../shared/corpus``
(each picture looked at; ``why`` says what it shows) plus plain pictures this benchmark
generates (``generated/...``: skies, walls, dark frames, white pages, two different ones of each,
and same-picture copies of three). Columns: ``group`` (the same picture: rotated, flipped,
re-encoded, resized, lightly edited, converted; the ``near_identical`` tier's positives),
``scene`` (the same moment or place: bursts, reframings, other views; pairs of one scene but two
groups are the ``similar`` tier's positives, "other shots"), ``variant`` (how a file differs
from its group's ``original``: ``orientation-tag`` = pixels stored turned with an EXIF
orientation that undoes it, shown identical; ``rotation`` / ``flip`` = shown turned or
mirrored; ``re-encode``, ``resize``, ``edit``, ``format``; or ``other-shot`` / ``distinct``;
``byte-copy`` rows are byte-identical to another row and counted once, ``excluded`` rows are
videos, metadata-only stubs and undecodable files), ``plain`` (1: a featureless picture that
must never group with another plain picture unless it is the same picture).

**Embeddings**, the production way (``--input thumbnail``, default): the backup's thumbnail
(``render_thumbnail``), decoded (``load_image_bytes``), embedded by
:class:`photoark.ml.EmbeddingModel` (orientation averaged), stored as float16
(``encode_embedding``) and compared as ``1 - a.b`` in float32, as ``photoark.optimize`` does.

**Split** by scene, so no scene (nor group) is in both parts: the scenes with two or more
pictures, in the order of ``sha256("similar-quality/" + scene)``, go alternately to tune and
test (the first to tune); single-picture scenes by that hash's parity. Each part is grouped on
its own, as a library would be.

**What is scored: the product's grouping at the shipped defaults.** The pairs within
``SIMILAR_THRESHOLD`` (:class:`photoark.optimize.neighbours.Pair`, from the bench's stored
embeddings: every pair of the part, no index) go to :func:`photoark.optimize.grouping.tiered`,
called as :func:`photoark.optimize.similar.find_similar` calls it: ``Thresholds(
NEAR_IDENTICAL_THRESHOLD, SIMILAR_THRESHOLD)`` (:mod:`photoark.ml.identity`); ``same_picture``
= both fingerprints present and :func:`~photoark.ml.fingerprint.d8_distance` <=
``NEAR_IDENTICAL_MAX_BITS``; ``plain`` = no fingerprint or
:func:`~photoark.ml.fingerprint.is_plain`; ``plain_max`` = ``PLAIN_MAX_DISTANCE``. The
fingerprint is :func:`photoark.ml.fingerprint.fingerprint` of the decoded thumbnail the
embedding is made from, stored beside it (``encode_embedding``) and read back
(``decode_fingerprint``). The keeper is the lowest id (the first picture of the part in label
order; the product's ``keeper_order`` needs library metadata the bench does not have): it is
the photo through which a near-identical group takes part in the similar tier.

**Scores**, pair precision / recall / F1, on the held-out part (and the tune part and the whole
set, grouped as one library, for comparison): ``near_identical``: a pair in one near-identical
group, against ``group`` (another shot of the same scene counts as a false pair: removal must
not be suggested for it); per variant and category: each copy of that variant with its group's
original, and the false pairs touching a file of that variant. ``similar``, "other shots": the
pairs of two different groups, against ``scene``, a near-identical group counting through its
keeper (its copies are together with whatever its keeper's similar group holds); "as offered":
the same, of the similar groups' own members (keepers and photos in no near-identical group);
"as shown": every pair of a similar group, against ``scene``. Checks on every part: no group
wider than its tier's threshold (every two members within it), and no pair with a plain
picture (labelled, or judged by ``is_plain``) in a group unless they are the same picture.
Targets (issue 17, held out, shipped defaults): near-identical pair precision >= 0.99 and F1
>= 0.97 over the edits, transforms and formats.

**Choosing thresholds: the bench's own grouping, on the tune part only.**
:func:`complete_linkage` (agglomerative over the pairs within the threshold: the two clusters
whose *farthest* members are closest merge first, only if every pair across them is within it;
checked against scipy) sweeps the grid cheaply: the ``near_identical`` groups at ``T_near`` (of
the pairs that pass the guard, and the verification when it is on); the ``similar`` groups
continue the same agglomeration up to ``T_similar``. Rules: ``T_near`` = the largest threshold
whose near-identical pair precision is >= 0.99; ``T_similar`` = the best other-shots F1 among
thresholds with precision >= 0.95, the largest threshold reaching it; ``T_near`` capped at
``T_similar``. Two settings: ``embedding`` (the distance alone) and ``embedding + pHash-d8`` (a
near-identical pair also within ``B`` bits of pHash-d8, imagehash's, unless the guard judges one
of them plain; ``B`` = the middle of the run of bounds, in steps of 2, whose ``T_near`` gives
the best tune F1). Plain guard: a picture is *plain* when its thumbnail's longer side is under
``PLAIN_MIN_SIDE`` px, or fewer than ``busy`` of its 8x8 blocks (grey, 128 px) vary by more than
4 grey levels (the product's ``Fingerprint.detail``); a pair with a plain picture groups only
within ``T_plain``; ``busy`` = the smallest multiple of 0.05 above every picture labelled plain,
``T_plain`` = midway between the farthest same-picture pair and the nearest other pair with a
picture labelled plain. The chosen settings are then scored held out by the product's ``tiered``
(the chosen guard and bits as its ``plain`` and ``same_picture``), beside the shipped constants
they should reproduce; the swap (rules on test, product scored on tune) shows how far the rules
move with the data. The sweep table prints the bench's grouping on both parts.

Also on the held-out part: the old default (issue 6's ``DEFAULT_THRESHOLD`` 0.35, single
linkage, one tier: the old code's grouping, reimplemented here); pHash-d8 alone (the product's
``complete_linkage`` over pHash-d8 bits, bits by the near rule on tune); the product at
``--thresholds``; the product at the shipped defaults without the plain guard. Notes compare
the product's ``complete_linkage`` / ``tiered`` with the bench's grouping, and the product's
fingerprint's pHashes with imagehash's.

    pip install imagehash   # benchmark only: the pHash-d8 verification and baseline
    python bench/similar_quality.py [--input thumbnail|original] [--corpus DIR] [--runs 1]
        [--thresholds NEAR,SIMILAR] [--show-errors 10] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import heapq
import itertools
import math
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_ROOT, REPO, Table, announce_source, use_checkout, write_json

use_checkout()

from PIL import Image  # noqa: E402

from photoark.media import render_thumbnail, sniff  # noqa: E402
from photoark.ml import EmbeddingModel, ImageDecodeError  # noqa: E402
from photoark.ml.codec import (  # noqa: E402
    decode_embedding,
    decode_fingerprint,
    encode_embedding,
)
from photoark.ml.fingerprint import (  # noqa: E402
    NEAR_IDENTICAL_MAX_BITS,
    PLAIN_MAX_DISTANCE,
    PLAIN_MIN_DETAIL,
    PLAIN_MIN_SIDE,
    Fingerprint,
    d8_distance,
    fingerprint,
    is_plain,
)
from photoark.ml.identity import NEAR_IDENTICAL_THRESHOLD, SIMILAR_THRESHOLD  # noqa: E402
from photoark.ml.preprocess import load_image, load_image_bytes  # noqa: E402
from photoark.optimize import grouping  # noqa: E402
from photoark.optimize.neighbours import Pair as ProductPair  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
LABELS = Path(__file__).resolve().with_name("similar_labels.csv")
CACHE = BENCH_ROOT / "ml-cache"
INPUTS = ("thumbnail", "original")

NEAR_PRECISION_RULE = 0.99  # tune: T_near = largest threshold with this pair precision
SIMILAR_PRECISION_RULE = 0.95  # tune: T_similar = best F1 among thresholds with this precision
NEAR_PRECISION_TARGET = 0.99  # issue 17, held out, at the shipped default
NEAR_F1_TARGET = 0.97  # issue 17, held out, edits and transforms
OLD_THRESHOLD = 0.35  # issue 6's DEFAULT_THRESHOLD, single linkage: what issue 17 replaces
GRID = [round(float(t), 3) for t in np.arange(0.0, 0.6001, 0.005)]
BITS = list(range(0, 33, 2))  # pHash-d8 verification bounds tried on tune
PHASH_GRID = list(range(0, 33))

# The plain-picture guard: the measure is the product's (Fingerprint.detail, .side, with its
# PLAIN_MIN_SIDE); its two thresholds are chosen on tune.

NEAR_VARIANTS = ("rotation", "flip", "edit", "resize", "format", "re-encode", "orientation-tag")
CATEGORIES = {
    "edits (edit, resize, re-encode)": ("edit", "resize", "re-encode"),
    "transforms (rotation, flip, orientation tag)": ("rotation", "flip", "orientation-tag"),
    "formats": ("format",),
}
EDITS_AND_TRANSFORMS = "edits + transforms + formats"

# -- the labelled set ------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    path: str  # relative to the corpus, or generated/<name>.jpg
    group: str
    scene: str
    variant: str
    plain: bool
    why: str


def read_labels(path: Path) -> list[Label]:
    with path.open(newline="") as f:
        return [
            Label(r["path"], r["group"], r["scene"], r["variant"], r["plain"] == "1", r["why"])
            for r in csv.DictReader(f)
        ]


def scene_hash(scene: str) -> str:
    return hashlib.sha256(f"similar-quality/{scene}".encode()).hexdigest()


def assign_splits(labels: Sequence[Label]) -> dict[str, str]:
    """Scene -> tune or test, from the labels alone (the same split whatever decodes): scenes
    with two or more pictures alternately in hash order (so both parts get about half of
    them), single-picture scenes by the hash's parity."""
    sizes = Counter(lab.scene for lab in labels if lab.variant not in ("excluded", "byte-copy"))
    multi = sorted((s for s, c in sizes.items() if c > 1), key=scene_hash)
    part = {s: ("tune", "test")[k % 2] for k, s in enumerate(multi)}
    return {s: part.get(s) or ("tune", "test")[int(scene_hash(s)[:2], 16) % 2] for s in sizes}


# Generated plain pictures: name -> (base picture, scale, JPEG quality). Deterministic: the
# pixels come from a seeded generator, the bytes from this Pillow's encoder.
_GENERATED: dict[str, tuple[str, float, int]] = {
    "sky-blue-a": ("sky-blue-a", 1.0, 90),
    "sky-blue-a-small": ("sky-blue-a", 0.5, 70),
    "sky-blue-b": ("sky-blue-b", 1.0, 90),
    "wall-grey-a": ("wall-grey-a", 1.0, 90),
    "wall-grey-a-q60": ("wall-grey-a", 1.0, 60),
    "wall-beige-b": ("wall-beige-b", 1.0, 90),
    "dark-a": ("dark-a", 1.0, 90),
    "dark-a-q60": ("dark-a", 1.0, 60),
    "dark-b": ("dark-b", 1.0, 90),
    "page-white-a": ("page-white-a", 1.0, 90),
    "page-white-b": ("page-white-b", 1.0, 90),
}


def _plain_pixels(name: str, width: int = 1600, height: int = 1200) -> npt.NDArray[np.uint8]:
    """A featureless phone-sized picture: a smooth field of light, faint low-frequency mottling
    (walls) and sensor grain. Pure function of ``name``."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    y = np.linspace(0.0, 1.0, height)[:, None, None]
    x = np.linspace(0.0, 1.0, width)[None, :, None]

    def mix(a: tuple[int, int, int], b: tuple[int, int, int], t: Any) -> Any:
        return np.array(a, dtype=np.float64) * (1 - t) + np.array(b, dtype=np.float64) * t

    def mottle(amplitude: float) -> Any:
        cells = rng.normal(0.0, 1.0, (9, 12)).astype(np.float32)
        field_ = Image.fromarray(cells).resize((width, height), Image.Resampling.BICUBIC)
        return np.asarray(field_, dtype=np.float64)[:, :, None] * amplitude

    grain = 2.5
    if name == "sky-blue-a":  # clear sky: deep blue at the top, pale at the horizon
        img = mix((38, 92, 188), (150, 192, 236), y)
    elif name == "sky-blue-b":  # hazy sky, brighter towards the sun on the right
        img = mix((118, 156, 212), (196, 212, 232), 0.7 * x + 0.3 * y)
    elif name == "wall-grey-a":  # grey plaster, light falling off to the right
        img = mix((138, 138, 135), (112, 112, 110), x) + mottle(5.0)
    elif name == "wall-beige-b":  # warm wall lit from the top-left corner
        r2 = x**2 + y**2
        img = mix((196, 182, 160), (150, 138, 120), np.clip(r2 / 2, 0, 1)) + mottle(4.0)
    elif name == "dark-a":  # lens cap / pocket: black and noise
        img = mix((5, 5, 7), (5, 5, 7), y)
        grain = 2.0
    elif name == "dark-b":  # near black, a faint warm glow in the lower right
        glow = np.exp(-((x - 0.9) ** 2 + (y - 0.85) ** 2) / 0.05)
        img = mix((9, 7, 5), (52, 33, 14), glow)
        grain = 2.0
    elif name == "page-white-a":  # warm white page, soft shadow in the lower left
        shadow = np.exp(-(x**2 + (y - 1) ** 2) / 0.15)
        img = mix((243, 241, 236), (215, 212, 206), shadow)
    elif name == "page-white-b":  # cool white page, darker towards the corners
        r2 = (x - 0.5) ** 2 + (y - 0.5) ** 2
        img = mix((238, 242, 248), (205, 210, 218), np.clip(r2 * 2, 0, 1))
    else:
        raise KeyError(f"no recipe for generated picture {name!r}")
    img = img + rng.normal(0.0, grain, (height, width, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def generated_file(name: str, directory: Path) -> Path:
    """Write the generated picture ``name`` (see ``_GENERATED``) under ``directory``."""
    base, scale, quality = _GENERATED[name]
    image = Image.fromarray(_plain_pixels(base))
    if scale != 1.0:
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.jpg"
    image.save(path, "JPEG", quality=quality)
    return path


@dataclass
class Item:
    label: Label
    path: Path
    split: str = ""
    aliases: list[str] = field(default_factory=list)  # byte-identical copies, folded
    thumbnail: bytes | None = None
    phash: npt.NDArray[np.bool_] | None = None  # (8, 64): pHash of the 8 turns / mirrors
    fp: Fingerprint | None = None  # the product's fingerprint, as stored beside the embedding

    @property
    def busy(self) -> float:
        """Fraction of the thumbnail's 8x8 blocks with detail (the plain guard's measure)."""
        return 1.0 if self.fp is None else self.fp.detail

    @property
    def side(self) -> int:
        """Longer side of what the model sees, px."""
        return 0 if self.fp is None else self.fp.side

    def image(self) -> Image.Image:
        """What the model sees: the decoded thumbnail, or the original decoded small."""
        if self.thumbnail is not None:
            return load_image_bytes(self.thumbnail, self.label.path)
        return load_image(self.path)

    @property
    def short(self) -> str:
        parts = self.label.path.split("/")
        return f"{parts[0].removeprefix('neardup-')}:{parts[-1]}"


_D8: list[Callable[[Image.Image], Image.Image]] = [
    lambda im: im,
    lambda im: im.transpose(Image.Transpose.ROTATE_90),
    lambda im: im.transpose(Image.Transpose.ROTATE_180),
    lambda im: im.transpose(Image.Transpose.ROTATE_270),
    lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    lambda im: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
    lambda im: im.transpose(Image.Transpose.TRANSPOSE),
    lambda im: im.transpose(Image.Transpose.TRANSVERSE),
]


def phash_d8(image: Image.Image) -> npt.NDArray[np.bool_] | None:
    """imagehash's pHash (64 bits) of ``image`` in each of the 8 turns / mirror images, or
    ``None`` without imagehash."""
    try:
        import imagehash
    except ImportError:
        return None
    return np.array([imagehash.phash(f(image)).hash.flatten() for f in _D8], dtype=bool)


def collect(
    labels: list[Label], corpus: Path, source: str, scratch: Path
) -> tuple[list[Item], list[str], list[str], float]:
    """The distinct labelled pictures (byte copies folded; the generated ones written under
    ``scratch``), in label order; (items, problems with the labels, files skipped and why,
    seconds spent rendering thumbnails)."""
    problems: list[str] = []
    skipped: list[str] = []
    rows = [lab for lab in labels if lab.variant != "excluded"]
    by_digest: dict[str, Item] = {}
    copies: list[tuple[Label, str]] = []
    items: list[Item] = []
    render_s = 0.0
    if source == "original":  # as the thumbnail renderer does: HEIC originals decode
        from pillow_heif import register_heif_opener

        register_heif_opener()
    for lab in rows:
        if lab.path.startswith("generated/"):
            path = generated_file(Path(lab.path).stem, scratch)
        else:
            path = corpus / lab.path
        if not path.is_file():
            problems.append(f"{lab.path}: labelled but not in the corpus")
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if lab.variant == "byte-copy":
            copies.append((lab, digest))
            continue
        if digest in by_digest:
            problems.append(f"{lab.path} is a byte copy of {by_digest[digest].label.path}")
            continue
        item = Item(lab, path)
        if source == "thumbnail":
            fmt = sniff(path)
            if fmt is None:
                skipped.append(f"{lab.path} (not a media file)")
                continue
            start = time.perf_counter()
            result = render_thumbnail(path, fmt)
            render_s += time.perf_counter() - start
            if result.data is None:
                skipped.append(f"{lab.path} (no thumbnail: {result.error})")
                continue
            item.thumbnail = result.data
        try:
            image = item.image()
        except ImageDecodeError as err:
            skipped.append(f"{lab.path} ({err})")
            continue
        item.phash = phash_d8(image)
        item.fp = fingerprint(image)  # what the embedder stores beside the embedding
        by_digest[digest] = item
        items.append(item)
    for lab, digest in copies:
        first = by_digest.get(digest)
        if first is None:
            problems.append(f"{lab.path}: labelled byte-copy, but of no labelled picture")
        elif first.label.group != lab.group:
            problems.append(f"{lab.path}: byte copy of {first.label.path}, another group")
        else:
            first.aliases.append(lab.path)
    labelled = {lab.path for lab in labels}
    for p in sorted(corpus.rglob("*")):
        rel = p.relative_to(corpus).as_posix()
        if p.is_file() and rel not in labelled and sniff(p) is not None:
            problems.append(f"{rel}: a media file with no label")
    splits = assign_splits(labels)
    for it in items:
        it.split = splits[it.label.scene]
    return items, problems, skipped, render_s


# -- embeddings and distances ----------------------------------------------------------------


def embed_all(items: list[Item], runs: int) -> tuple[npt.NDArray[np.float32], list[float], bool]:
    """Embeddings as stored (float16, back to float32), seconds of each decode + embed run,
    whether the model was built (outside the timing). Each item's fingerprint is replaced by
    the one read back from the stored payload, as the grouping gets it."""
    model = EmbeddingModel(CACHE, threads=2)
    model.embed([Image.new("RGB", (224, 224))])  # warm-up: onnxruntime's first run allocates
    times = []
    emb = np.empty((0, model.dim), dtype=np.float32)
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        emb = model.embed([it.image() for it in items])
        times.append(time.perf_counter() - start)
    blobs = [encode_embedding(v, it.fp) for v, it in zip(emb, items, strict=True) if it.fp]
    if len(blobs) != len(items):
        raise RuntimeError("a picture without a fingerprint")
    for it, blob in zip(items, blobs, strict=True):
        it.fp = decode_fingerprint(blob, model.dim)
    stored = np.stack([decode_embedding(b, model.dim) for b in blobs]).astype(np.float32)
    return stored, times, model.built


def cosine_matrix(emb: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    d = np.maximum(0.0, 1.0 - emb @ emb.T).astype(np.float64)
    np.fill_diagonal(d, 0.0)
    return d


def d8_matrix(items: Sequence[Item]) -> npt.NDArray[np.float64] | None:
    """pHash-d8 Hamming distances: one picture's upright hash against the other's 8 turns /
    mirror images, the minimum, symmetrised; ``None`` without imagehash."""
    if any(it.phash is None for it in items):
        return None
    h = np.array([it.phash for it in items])  # (n, 8, 64)
    ab = (h[:, None, None, 0, :] != h[None, :, :, :]).sum(-1).min(-1)
    return np.minimum(ab, ab.T).astype(np.float64)


# -- grouping --------------------------------------------------------------------------------


Merge = tuple[float, int, int]  # (height, one cluster, the other): named by lowest member
Pair = tuple[float, int, int]  # (distance, i, j)


def complete_linkage(n: int, pairs: Iterable[Pair], seeds: Sequence[Merge] = ()) -> list[Merge]:
    """Agglomerative complete linkage of ``n`` points over a sparse set of pairs (each
    unordered pair at most once; a pair not given is farther than any given one).

    First applies ``seeds`` (merges of an earlier agglomeration over a subset of these pairs:
    the near-identical groups the similar tier grows from), then repeatedly merges the two
    clusters whose *farthest* members are closest, only when every pair across them is given:
    a cluster's diameter is never above the largest distance given, so no chaining. Returns
    all merges in order (seeds first); the later ones have non-decreasing heights, so
    :func:`cut` at ``t`` is the grouping at threshold ``t``, and cuts nest. Deterministic:
    ties merge the lowest cluster names first. O(P log P) for P pairs."""
    size = [1] * n
    links: list[dict[int, list[float]]] = [{} for _ in range(n)]  # [farthest, pairs across]
    for d, i, j in pairs:
        a, b = (i, j) if i < j else (j, i)
        links[a][b] = links[b][a] = [float(d), 1.0]
    parent = list(range(n))  # point -> a point of its cluster, up to the cluster's name

    def name(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    def merge(a: int, b: int) -> int:
        del links[a][b], links[b][a]
        small, big = (a, b) if len(links[a]) < len(links[b]) else (b, a)
        for c, e in links[small].items():  # fold the smaller link table into the bigger
            del links[c][small]
            kept = links[big].get(c)
            if kept is None:
                links[big][c] = links[c][big] = e
            else:
                kept[0] = max(kept[0], e[0])
                kept[1] += e[1]
        links[small] = {}
        survivor, gone = min(a, b), max(a, b)
        if big != survivor:  # the lowest member names the cluster
            links[survivor], links[big] = links[big], {}
            for c, e in links[survivor].items():
                del links[c][big]
                links[c][survivor] = e
        size[survivor] += size[gone]
        parent[gone] = survivor
        return survivor

    merges: list[Merge] = []
    for d, x, y in seeds:
        a, b = sorted((name(x), name(y)))
        entry = links[a].get(b)
        if entry is None or entry[1] != size[a] * size[b]:
            raise ValueError("a seed merge across pairs that are not all given")
        merges.append((d, a, b))
        merge(a, b)
    heap = [
        (e[0], a, c)
        for a in range(n)
        for c, e in links[a].items()
        if a < c and e[1] == size[a] * size[c]
    ]
    heapq.heapify(heap)
    while heap:
        d, a, b = heapq.heappop(heap)
        entry = links[a].get(b)
        if entry is None or entry[0] != d or entry[1] != size[a] * size[b]:
            continue  # stale (one side merged since), or not every pair across is given
        merges.append((d, a, b))
        survivor = merge(a, b)
        for c, e in links[survivor].items():
            if e[1] == size[survivor] * size[c]:
                heapq.heappush(heap, (e[0], min(survivor, c), max(survivor, c)))
    return merges


def cut(n: int, merges: Sequence[Merge], t: float, seeds: int = 0) -> npt.NDArray[np.int64]:
    """Each point's cluster after the first ``seeds`` merges and then those at heights
    <= ``t``."""
    label = np.arange(n)
    for k, (d, a, b) in enumerate(merges):
        if k >= seeds and d > t:
            break
        label[label == label[b]] = label[a]
    return label


def components(n: int, pairs: Iterable[Pair], t: float) -> npt.NDArray[np.int64]:
    """Single linkage: connected components of the pairs within ``t`` (the old grouping)."""
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for d, i, j in pairs:
        if d <= t:
            a, b = root(i), root(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return np.array([root(i) for i in range(n)])


@dataclass(frozen=True)
class Guard:
    busy: float  # plain: fewer than this fraction of the blocks vary (or a tiny thumbnail)
    threshold: float  # a pair with a plain picture groups only within this distance


@dataclass(frozen=True)
class Setting:
    t_near: float
    t_similar: float
    guard: Guard | None
    bits: int | None = None  # near-identical pairs also within this pHash-d8 distance
    linkage: str = "complete"

    def describe(self) -> str:
        guard = (
            f"guard busy < {self.guard.busy:.2f} -> {self.guard.threshold:.3f}"
            if self.guard
            else "no guard"
        )
        verify = f", pHash-d8 <= {self.bits} bits" if self.bits is not None else ""
        return f"{self.t_near:.3f} / {self.t_similar:.3f}, {self.linkage}, {guard}{verify}"


# -- truth and scores ------------------------------------------------------------------------


@dataclass
class Truth:
    """Pair labels of a set of pictures, over the upper triangle (i < j)."""

    iu: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]
    same_group: npt.NDArray[np.bool_]
    same_scene: npt.NDArray[np.bool_]
    plain_pair: npt.NDArray[np.bool_]  # both labelled plain
    to_original: npt.NDArray[np.str_]  # a copy with its group's original: the copy's variant
    touches: dict[str, npt.NDArray[np.bool_]]  # variant -> pairs with a file of it

    @classmethod
    def of(cls, items: Sequence[Item]) -> Truth:
        iu = np.triu_indices(len(items), 1)
        a, b = iu
        groups = np.array([it.label.group for it in items])
        scenes = np.array([it.label.scene for it in items])
        plain = np.array([it.label.plain for it in items])
        variants = np.array([it.label.variant for it in items])
        same_group = groups[a] == groups[b]
        to_original = np.where(
            same_group & (variants[a] == "original"),
            variants[b],
            np.where(same_group & (variants[b] == "original"), variants[a], ""),
        )
        touches = {v: (variants[a] == v) | (variants[b] == v) for v in NEAR_VARIANTS}
        return cls(
            iu, same_group, scenes[a] == scenes[b], plain[a] & plain[b], to_original, touches
        )

    def together(self, labels: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        return labels[self.iu[0]] == labels[self.iu[1]]


def prf(
    pred: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_], scored: npt.NDArray[np.bool_]
) -> dict[str, Any]:
    tp = int((pred & truth & scored).sum())
    fp = int((pred & ~truth & scored).sum())
    fn = int((~pred & truth & scored).sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def score_near(truth: Truth, together: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """The near-identical tier against ``group``: all pairs; each copy with its original, per
    variant and category (+ the false pairs touching those files); the false pairs by kind."""
    out: dict[str, Any] = {
        EDITS_AND_TRANSFORMS: prf(together, truth.same_group, np.ones_like(together)),
        "copies with their original": prf(
            together, truth.same_group, (truth.to_original != "") | ~truth.same_group
        ),
    }
    for name, members in {**{v: (v,) for v in NEAR_VARIANTS}, **CATEGORIES}.items():
        touch = np.zeros_like(together)
        for v in members:
            touch |= truth.touches[v]
        pos = np.isin(truth.to_original, members)
        out[name] = prf(together, truth.same_group, pos | (~truth.same_group & touch))
    false = together & ~truth.same_group
    out["false_pairs"] = {
        "other shots of one scene": int((false & truth.same_scene).sum()),
        "two plain pictures": int((false & truth.plain_pair).sum()),
        "different scenes": int((false & ~truth.same_scene & ~truth.plain_pair).sum()),
    }
    return out


def score_similar(truth: Truth, together: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """The similar tier: "other shots" (pairs of two groups, against ``scene``) and "as shown"
    (every pair of a similar group, against ``scene``)."""
    false = together & ~truth.same_scene
    return {
        "other shots": prf(together, truth.same_scene, ~truth.same_group),
        "as shown": prf(together, truth.same_scene, np.ones_like(together)),
        "false_pairs": {
            "two plain pictures": int((false & truth.plain_pair).sum()),
            "different scenes": int((false & ~truth.plain_pair).sum()),
        },
    }


# -- a part of the labelled set, grouped -----------------------------------------------------


@dataclass
class Part:
    """Tune, test or all: its pictures, distances, truth, and cached dendrograms."""

    name: str
    items: list[Item]
    dist: npt.NDArray[np.float64]
    d8: npt.NDArray[np.float64] | None
    truth: Truth = field(init=False)
    _cache: dict[Any, Any] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.truth = Truth.of(self.items)

    @property
    def n(self) -> int:
        return len(self.items)

    def plain(self, guard: Guard | None) -> npt.NDArray[np.bool_]:
        """The guard's verdict per picture (not the label)."""
        if guard is None:
            return np.zeros(self.n, dtype=bool)
        return np.array([it.side < PLAIN_MIN_SIDE or it.busy < guard.busy for it in self.items])

    def pairs(self, t: float, guard: Guard | None, bits: int | None = None) -> list[Pair]:
        """The pairs within ``t``, nearest first, that pass the guard (and the verification)."""
        iu = self.truth.iu
        d = self.dist[iu]
        keep = d <= t
        plain = self.plain(guard)
        if guard is not None:
            keep &= ~(plain[iu[0]] | plain[iu[1]]) | (d <= guard.threshold)
        if bits is not None:
            if self.d8 is None:
                raise RuntimeError("the pHash-d8 verification needs imagehash")
            verified = self.d8[iu] <= bits
            if guard is not None:  # a plain picture's pHash is noise: the guard decides
                verified |= plain[iu[0]] | plain[iu[1]]
            keep &= verified
        order = np.flatnonzero(keep)[np.argsort(d[keep], kind="stable")]
        return [(float(d[k]), int(iu[0][k]), int(iu[1][k])) for k in order]

    def _near_merges(self, guard: Guard | None, bits: int | None) -> list[Merge]:
        key = ("near", guard, bits)
        if key not in self._cache:
            self._cache[key] = complete_linkage(self.n, self.pairs(GRID[-1], guard, bits))
        return self._cache[key]

    def near(self, s: Setting) -> npt.NDArray[np.int64]:
        if s.linkage == "single":
            return components(self.n, self.pairs(s.t_near, s.guard, s.bits), s.t_near)
        return cut(self.n, self._near_merges(s.guard, s.bits), s.t_near)

    def similar(self, s: Setting) -> npt.NDArray[np.int64]:
        if s.linkage == "single":
            pairs = self.pairs(s.t_similar, s.guard) + self.pairs(s.t_near, s.guard, s.bits)
            return components(self.n, pairs, s.t_similar)
        key = ("similar", s.t_near, s.guard, s.bits)
        if key not in self._cache:
            seeds = [m for m in self._near_merges(s.guard, s.bits) if m[0] <= s.t_near]
            merges = complete_linkage(self.n, self.pairs(GRID[-1], s.guard), seeds)
            self._cache[key] = (merges, len(seeds))
        merges, seeds = self._cache[key]
        return cut(self.n, merges, s.t_similar, seeds)

    def evaluate(self, s: Setting) -> dict[str, Any]:
        near, similar = self.near(s), self.similar(s)
        if s.linkage == "complete":
            self.check(near, similar, s)
        return {
            "setting": dataclasses.asdict(s),
            "near_identical": score_near(self.truth, self.truth.together(near)),
            "similar": score_similar(self.truth, self.truth.together(similar)),
            "groups": group_sizes(near, similar),
        }

    def check(
        self, near: npt.NDArray[np.int64], similar: npt.NDArray[np.int64], s: Setting
    ) -> None:
        """The contract: no group wider than its tier's threshold (no chaining), and every
        near-identical group inside one similar group."""
        for labels, t in ((near, s.t_near), (similar, s.t_similar)):
            for c in set(labels.tolist()):
                members = np.flatnonzero(labels == c)
                if self.dist[np.ix_(members, members)].max() > t:
                    raise AssertionError(f"a group wider than {t} at {s.describe()}")
        for c in set(near.tolist()):
            if len(set(similar[near == c].tolist())) != 1:
                raise AssertionError(f"a near-identical group split by the similar tier: {s}")


def group_sizes(near: npt.NDArray[np.int64], similar: npt.NDArray[np.int64]) -> dict[str, int]:
    near_sizes = Counter(near.tolist())
    sim_sizes = Counter(similar.tolist())
    shown = [s for s in sim_sizes if len(set(near[similar == s].tolist())) > 1]
    return {
        "near_identical_groups": sum(1 for c in near_sizes.values() if c > 1),
        "near_identical_largest": max(near_sizes.values(), default=0),
        "similar_groups": len(shown),
        "similar_largest": max((sim_sizes[s] for s in shown), default=0),
    }


# -- the product's grouping ------------------------------------------------------------------


@dataclass(frozen=True)
class Wiring:
    """How :func:`photoark.optimize.grouping.tiered` is called. The defaults are the shipped
    ones, wired as ``find_similar`` wires them."""

    near: float = NEAR_IDENTICAL_THRESHOLD
    similar: float = SIMILAR_THRESHOLD
    bits: int | None = NEAR_IDENTICAL_MAX_BITS  # same_picture: d8 within this (None: always)
    plain_detail: float | None = PLAIN_MIN_DETAIL  # plain: detail below this (None: no guard)
    plain_max: float = PLAIN_MAX_DISTANCE

    @classmethod
    def of(cls, s: Setting) -> Wiring:
        """A setting chosen by the rules, as the product's parameters."""
        if s.linkage != "complete":
            raise ValueError("the product groups by complete linkage only")
        g = s.guard
        return cls(
            s.t_near,
            s.t_similar,
            s.bits,
            None if g is None else g.busy,
            0.0 if g is None else g.threshold,
        )

    @property
    def thresholds(self) -> grouping.Thresholds:
        return grouping.Thresholds(self.near, self.similar)

    def describe(self) -> str:
        verify = f"pHash-d8 <= {self.bits} bits" if self.bits is not None else "no pHash-d8"
        guard = (
            f"plain (detail < {self.plain_detail:.2f}) only within {self.plain_max:.3f}"
            if self.plain_detail is not None
            else "no plain guard"
        )
        return f"{self.near:.3f} / {self.similar:.3f}, {verify}, {guard}"


SHIPPED = Wiring()


@dataclass
class Grouped:
    """The product's clusters over a part (ids = positions in the part), as labels."""

    clusters: list[grouping.Cluster]
    near: npt.NDArray[np.int64]  # near-identical groups
    offered: npt.NDArray[np.int64]  # similar groups, their own members only
    similar: npt.NDArray[np.int64]  # similar groups, each keeper standing for its group
    pairs: int  # pairs handed to tiered


def product_pairs(part: Part, within: float) -> list[ProductPair]:
    """Every pair of the part within ``within``, as ``close_pairs`` returns them (a < b)."""
    a, b = part.truth.iu
    d = part.dist[part.truth.iu]
    keep = np.flatnonzero(d <= within)
    return [ProductPair(int(a[k]), int(b[k]), float(d[k])) for k in keep]


def group_product(part: Part, w: Wiring = SHIPPED) -> Grouped:
    """``tiered`` over the part, called as ``find_similar`` calls it (at ``w``'s parameters);
    the keeper of a group is its lowest id."""
    key = ("product", w)
    if key in part._cache:
        return part._cache[key]  # type: ignore[no-any-return]
    prints = {i: it.fp for i, it in enumerate(part.items) if it.fp is not None}
    pairs = product_pairs(part, w.similar)  # the loosest tier's threshold, as for --tier all

    def keeper(ids: Sequence[int]) -> int:
        return min(ids)

    def plain(i: int) -> bool:
        fp = prints.get(i)
        if w.plain_detail is None:
            return False
        if w.plain_detail == PLAIN_MIN_DETAIL:
            return fp is None or is_plain(fp)
        return fp is None or fp.side < PLAIN_MIN_SIDE or fp.detail < w.plain_detail

    def same_picture(a: int, b: int) -> bool:  # as tiered_by_fingerprints, at w's parameters
        if w.bits is None or plain(a) or plain(b):
            return True
        fa, fb = prints.get(a), prints.get(b)
        return fa is not None and fb is not None and d8_distance(fa, fb) <= w.bits

    if w == SHIPPED:  # the product's own function, exactly as find_similar calls it
        clusters = grouping.tiered_by_fingerprints(pairs, w.thresholds, keeper, prints)
    else:
        clusters = grouping.tiered(
            pairs,
            w.thresholds,
            keeper,
            same_picture=same_picture,
            plain=plain,
            plain_max=w.plain_max if w.plain_detail is not None else 0.0,
        )
    near, offered = np.arange(part.n), np.arange(part.n)
    for c in clusters:
        ids = list(c.ids)
        if c.tier == "near_identical":
            near[ids] = keeper(ids)
        else:
            offered[ids] = min(ids)
    similar = near.copy()  # a near-identical group moves with its keeper
    for k, c in enumerate(x for x in clusters if x.tier == "similar"):
        for i in c.ids:
            similar[near == near[i]] = part.n + k
    out = Grouped(clusters, near, offered, similar, len(pairs))
    part._cache[key] = out
    return out


def product_checks(part: Part, g: Grouped, w: Wiring) -> dict[str, Any]:
    """The contract on the product's groups: none wider than its tier's threshold; no pair with
    a plain picture (labelled, or judged by ``is_plain``) grouped unless the same picture."""
    plain = [it.label.plain or it.fp is None or is_plain(it.fp) for it in part.items]
    widest = {"near_identical": 0.0, "similar": 0.0}
    too_wide: list[dict[str, Any]] = []
    plain_grouped: list[dict[str, Any]] = []
    for c in g.clusters:
        ids = list(c.ids)
        width = float(part.dist[np.ix_(ids, ids)].max())
        widest[c.tier] = max(widest[c.tier], width)
        if width > w.thresholds.of(c.tier):
            too_wide.append(
                {"tier": c.tier, "width": width, "members": [part.items[i].short for i in ids]}
            )
        for a, b in itertools.combinations(ids, 2):
            ia, ib = part.items[a], part.items[b]
            if (plain[a] or plain[b]) and ia.label.group != ib.label.group:
                plain_grouped.append(
                    {
                        "tier": c.tier,
                        "distance": float(part.dist[a, b]),
                        "pair": f"{ia.short} ~ {ib.short}",
                    }
                )
    return {"widest": widest, "too_wide": too_wide, "plain_grouped": plain_grouped}


def checks_pass(r: dict[str, Any]) -> tuple[bool, bool]:
    """(no group wider than its threshold, no plain pair grouped unless the same picture)."""
    return not r["checks"]["too_wide"], not r["checks"]["plain_grouped"]


def evaluate_product(part: Part, w: Wiring = SHIPPED) -> dict[str, Any]:
    """The product's grouping of ``part`` at ``w``, scored per tier, variant and category."""
    g = group_product(part, w)
    t = part.truth
    offered = t.together(g.offered)
    near_sizes = Counter(c.tier for c in g.clusters)
    return {
        "wiring": dataclasses.asdict(w),
        "pairs_within_similar": g.pairs,
        "near_identical": score_near(t, t.together(g.near)),
        "similar": {
            **score_similar(t, t.together(g.similar)),
            "offered": {
                "other shots": prf(offered, t.same_scene, ~t.same_group),
                "as shown": prf(offered, t.same_scene, np.ones_like(offered)),
            },
        },
        "groups": {
            "near_identical_groups": near_sizes["near_identical"],
            "near_identical_largest": max(
                (len(c.ids) for c in g.clusters if c.tier == "near_identical"), default=0
            ),
            "similar_groups": near_sizes["similar"],
            "similar_largest": max(
                (len(c.ids) for c in g.clusters if c.tier == "similar"), default=0
            ),
            "similar_largest_with_copies": max(Counter(g.similar.tolist()).values(), default=0),
        },
        "checks": product_checks(part, g, w),
    }


def meets_targets(r: dict[str, Any]) -> tuple[bool, bool]:
    """Issue 17's near-identical targets: (pair precision, F1), edits + transforms + formats."""
    near = r["near_identical"][EDITS_AND_TRANSFORMS]
    return near["precision"] >= NEAR_PRECISION_TARGET, near["f1"] >= NEAR_F1_TARGET


def agreement(part: Part, guard: Guard) -> str:
    """How the product's grouping compares with the bench's (the one the rules use), at the
    shipped thresholds: ``complete_linkage`` alone (embedding, no guard), and ``tiered``'s
    near-identical tier against the bench's with the same verification and guard."""
    t = part.truth
    lines = []
    for th in sorted({SHIPPED.near, SHIPPED.similar}):
        product = grouping.complete_linkage(product_pairs(part, th), th)
        labels = np.arange(part.n)
        for grp in product:
            labels[grp] = grp[0]
        bench = part.near(Setting(th, th, None))
        diff = int((t.together(labels) != t.together(bench)).sum())
        lines.append(
            f"complete_linkage at {th:.3f}: "
            + ("identical partitions" if not diff else f"{diff} pairs differ")
        )
    bench_setting = Setting(SHIPPED.near, SHIPPED.similar, guard, SHIPPED.bits)
    ours = t.together(group_product(part, SHIPPED).near)
    diff = int((ours != t.together(part.near(bench_setting))).sum())
    lines.append(
        "near_identical tier at the shipped defaults vs the bench's (guard chosen on tune, "
        "plain pairs exempt from pHash-d8): "
        + ("identical" if not diff else f"{diff} pairs differ")
    )
    return "; ".join(lines)


def fingerprint_agreement(items: Sequence[Item], d8: npt.NDArray[np.float64] | None) -> str:
    """The product's fingerprint against what the rules were chosen with: imagehash's pHash-d8
    (the block measure and side are the product's own, ``Item.busy`` / ``Item.side``)."""
    fps = [it.fp for it in items if it.fp is not None]
    if len(fps) != len(items):
        return "a picture without a fingerprint"
    out = []
    if d8 is not None:
        plain = [is_plain(f) for f in fps]
        diff = [
            (i, j)
            for i, j in itertools.combinations(range(len(fps)), 2)
            if d8_distance(fps[i], fps[j]) != int(d8[i, j])
        ]
        flat = {it.short for it, f in zip(items, fps, strict=True) if f.phashes != phash_ints(it)}
        out.append(
            f"d8 = imagehash's on {len(fps) * (len(fps) - 1) // 2 - len(diff)} pairs; differs on "
            f"{len(diff)}, {sum(1 for i, j in diff if not (plain[i] or plain[j]))} without a "
            f"plain picture (the pictures hashed differently: {', '.join(sorted(flat)) or 'none'})"
        )
    return "; ".join(out)


def phash_ints(item: Item) -> tuple[int, ...]:
    """The bench's (imagehash's) 8 pHashes of ``item`` as the product's 64-bit integers."""
    if item.phash is None:
        return ()
    return tuple(int("".join("1" if bit else "0" for bit in h), 2) for h in item.phash)


# -- the rules (applied to one part) ---------------------------------------------------------


def choose_guard(part: Part) -> Guard:
    """``busy``: the smallest multiple of 0.05 above the busy fraction of every picture of
    ``part`` labelled plain (the tiny ones are plain anyway); ``threshold``: midway between the
    farthest same-picture pair and the nearest other pair with a picture labelled plain."""
    busy = [it.busy for it in part.items if it.label.plain and it.side >= PLAIN_MIN_SIDE]
    cutoff = round((math.floor(max(busy, default=0.0) / 0.05) + 1) * 0.05, 2)
    labelled = np.array([it.label.plain for it in part.items])
    iu, truth = part.truth.iu, part.truth
    either = labelled[iu[0]] | labelled[iu[1]]
    d = part.dist[iu]
    same, other = d[either & truth.same_group], d[either & ~truth.same_group]
    low = float(other.min()) if len(other) else 0.1
    high = float(same.max()) if len(same) else 0.0
    return Guard(cutoff, round((high + low) / 2, 3) if high < low else round(low / 2, 3))


def near_curve(part: Part, guard: Guard | None, bits: int | None) -> list[dict[str, Any]]:
    return [
        score_near(part.truth, part.truth.together(part.near(Setting(t, t, guard, bits))))[
            EDITS_AND_TRANSFORMS
        ]
        for t in GRID
    ]


def similar_curve(part: Part, t_near: float, guard: Guard | None, bits: int | None) -> list[Any]:
    """Other-shots scores over the grid, the near-identical tier at ``t_near`` (at most the
    similar threshold: the tiers nest)."""
    out = []
    for t in GRID:
        labels = part.similar(Setting(min(t_near, t), t, guard, bits))
        out.append(score_similar(part.truth, part.truth.together(labels))["other shots"])
    return out


def choose_near(curve: Sequence[dict[str, Any]], rule: float = NEAR_PRECISION_RULE) -> int:
    """Index of the largest threshold whose pair precision is >= ``rule`` (with a true pair)."""
    ok = [i for i, r in enumerate(curve) if r["precision"] >= rule and r["tp"] > 0]
    return ok[-1] if ok else 0


def choose_similar(curve: Sequence[dict[str, Any]]) -> tuple[int, tuple[int, int]]:
    """Index of the best F1 among thresholds with precision >= ``SIMILAR_PRECISION_RULE``: the
    largest threshold of the run of thresholds that reach it (the tier pre-selects nothing, so
    recall is worth more than margin); and that run."""
    pool = [
        i for i, r in enumerate(curve) if r["precision"] >= SIMILAR_PRECISION_RULE and r["tp"] > 0
    ]
    if not pool:
        return 0, (0, 0)
    best = max(round(curve[i]["f1"], 9) for i in pool)
    runs: list[list[int]] = []
    for i in (i for i in pool if round(curve[i]["f1"], 9) == best):
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    run = runs[-1]
    return run[-1], (run[0], run[-1])


def choose(part: Part, guard: Guard | None, verify: bool) -> tuple[Setting, dict[str, Any]]:
    """Both thresholds (and the verification's bits) by the rules, on ``part`` alone. The
    near-identical threshold is capped at the similar one (the tiers nest)."""
    options: list[int | None] = list(BITS) if verify and part.d8 is not None else [None]
    found = {}
    for bits in options:
        curve = near_curve(part, guard, bits)
        i = choose_near(curve)
        found[bits] = (round(curve[i]["f1"], 9), i, curve)
    best = max(f for f, _, _ in found.values())
    runs: list[list[int | None]] = []  # runs of consecutive bounds reaching the best F1
    for k, bits in enumerate(options):
        if found[bits][0] == best:
            if runs and runs[-1][-1] == options[k - 1]:
                runs[-1].append(bits)
            else:
                runs.append([bits])
    widest = max(runs, key=len)
    bits = widest[len(widest) // 2]  # the middle: margin on both sides
    _, i_near, ncurve = found[bits]
    by_bits = {b: (GRID[i], f) for b, (f, i, _) in found.items()}
    scurve = similar_curve(part, GRID[i_near], guard, bits)
    i_sim, (first, last) = choose_similar(scurve)
    setting = Setting(min(GRID[i_near], GRID[i_sim]), GRID[i_sim], guard, bits)
    return setting, {
        "near_rule": GRID[i_near],
        "by_bits": by_bits,
        "similar_best_f1_run": (GRID[first], GRID[last]),
        "near_curve": ncurve,
        "similar_curve": scurve,
    }


def choose_phash(part: Part) -> tuple[int, list[dict[str, Any]]]:
    """pHash-d8 alone as the near-identical detector: bits by the near rule."""
    assert part.d8 is not None
    merges = complete_linkage(part.n, d8_pairs(part, PHASH_GRID[-1]))
    curve = [
        score_near(part.truth, part.truth.together(cut(part.n, merges, t)))[EDITS_AND_TRANSFORMS]
        for t in PHASH_GRID
    ]
    return PHASH_GRID[choose_near(curve)], curve


def d8_pairs(part: Part, bits: int) -> list[Pair]:
    assert part.d8 is not None
    iu = part.truth.iu
    d = part.d8[iu]
    order = np.flatnonzero(d <= bits)
    order = order[np.argsort(d[order], kind="stable")]
    return [(float(d[k]), int(iu[0][k]), int(iu[1][k])) for k in order]


def phash_near(part: Part, bits: int) -> dict[str, Any]:
    """pHash-d8 alone as the near-identical tier: the product's ``complete_linkage`` over the
    pairs within ``bits`` (the bits as the distance)."""
    pairs = [ProductPair(i, j, d) for d, i, j in d8_pairs(part, bits)]
    labels = np.arange(part.n)
    for grp in grouping.complete_linkage(pairs, bits):
        labels[grp] = grp[0]
    return score_near(part.truth, part.truth.together(labels))


def guard_effect(parts: dict[str, Part], w: Wiring = SHIPPED) -> dict[str, Any]:
    """What the product's plain guard does at ``w``: pairs with a plain picture grouped though
    not the same picture (near / similar) and true pairs grouped (near-identical; similar as
    shown), without and with it; where ``is_plain`` and the label differ."""
    out: dict[str, Any] = {}
    for name in ("tune", "test", "all"):
        part = parts[name]
        with_ = evaluate_product(part, w)
        without = evaluate_product(part, dataclasses.replace(w, plain_detail=None))

        def plain_fp(r: dict[str, Any]) -> tuple[int, int]:
            tiers = Counter(e["tier"] for e in r["checks"]["plain_grouped"])
            return tiers["near_identical"], tiers["similar"]

        def tp(r: dict[str, Any]) -> tuple[int, int]:
            return (
                r["near_identical"][EDITS_AND_TRANSFORMS]["tp"],
                r["similar"]["as shown"]["tp"],
            )

        out[name] = {
            "plain_fp_without": plain_fp(without),
            "plain_fp_with": plain_fp(with_),
            "tp_without": tp(without),
            "tp_with": tp(with_),
        }
    items = parts["all"].items
    verdict = [it.fp is None or is_plain(it.fp) for it in items]
    out["false_plain"] = [
        it.short for it, v in zip(items, verdict, strict=True) if v and not it.label.plain
    ]
    out["missed_plain"] = [
        it.short for it, v in zip(items, verdict, strict=True) if it.label.plain and not v
    ]
    return out


# -- output ----------------------------------------------------------------------------------


def fmt(r: dict[str, Any]) -> str:
    return (
        f"P {r['precision']:.3f}  R {r['recall']:.3f}  F1 {r['f1']:.3f}  "
        f"({r['tp']} TP, {r['fp']} FP, {r['fn']} FN)"
    )


def false_note(fp: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in fp.items() if v) or "none"


def wrong_pairs(
    part: Part,
    together: npt.NDArray[np.bool_],
    truth: npt.NDArray[np.bool_],
    mask: npt.NDArray[np.bool_],
) -> list[dict[str, Any]]:
    """False and missed pairs of a grouping (``truth`` over ``mask``), worst first."""
    iu = part.truth.iu
    out: list[dict[str, Any]] = []
    for k in np.flatnonzero(mask & (together != truth)):
        a, b = int(iu[0][k]), int(iu[1][k])
        fa, fb = part.items[a].fp, part.items[b].fp
        out.append(
            {
                "kind": "FP" if together[k] else "FN",
                "distance": float(part.dist[a, b]),
                "d8": d8_distance(fa, fb) if fa is not None and fb is not None else None,
                "a": part.items[a].label.path,
                "b": part.items[b].label.path,
                "short": f"{part.items[a].short} ~ {part.items[b].short}",
            }
        )
    out.sort(
        key=lambda e: (str(e["kind"]), float(e["distance"]) * (1 if e["kind"] == "FN" else -1))
    )
    return out


def scipy_check(part: Part, thresholds: Sequence[float]) -> str:
    """Whether :func:`complete_linkage` (no guard) gives scipy's complete-linkage clusters."""
    try:
        from scipy.cluster.hierarchy import fcluster, linkage
        from scipy.spatial.distance import squareform
    except ImportError:
        return "scipy not installed: not checked"
    z = linkage(squareform(part.dist, checks=False), method="complete")
    same = []
    for t in thresholds:
        ours = part.truth.together(part.near(Setting(t, t, None)))
        theirs = part.truth.together(fcluster(z, t, criterion="distance"))
        same.append(bool((ours == theirs).all()))
    return "identical partitions" if all(same) else f"DIFFERENT at {list(thresholds)}: {same}"


def set_summary(labels: list[Label], items: list[Item], parts: dict[str, Part]) -> dict[str, Any]:
    """Counts of the labelled set, as lines and as data."""
    folded = sum(len(it.aliases) for it in items)
    excluded = sum(1 for lab in labels if lab.variant == "excluded")
    generated = sum(1 for it in items if it.label.path.startswith("generated/"))
    groups = Counter(it.label.group for it in items)
    scenes: dict[str, set[str]] = {}
    for it in items:
        scenes.setdefault(it.label.scene, set()).add(it.label.group)
    variants = Counter(it.label.variant for it in items)
    counts: dict[str, Any] = {
        "pictures": len(items),
        "generated": generated,
        "byte_copies_folded": folded,
        "excluded_rows": excluded,
        "groups": len(groups),
        "groups_with_copies": sum(1 for c in groups.values() if c > 1),
        "scenes": len(scenes),
        "scenes_with_other_shots": sum(1 for s in scenes.values() if len(s) > 1),
        "plain_labelled": sum(1 for it in items if it.label.plain),
        "variants": dict(sorted(variants.items())),
    }
    lines = [
        f"labelled set: {len(items)} distinct pictures ({len(items) - generated} from the corpus, "
        f"{generated} generated; {folded} byte copies folded, {excluded} rows excluded), "
        f"{len(groups)} groups ({counts['groups_with_copies']} with copies), {len(scenes)} scenes "
        f"({counts['scenes_with_other_shots']} with other shots), "
        f"{counts['plain_labelled']} labelled plain",
        "  variants: " + ", ".join(f"{k} {v}" for k, v in sorted(variants.items())),
    ]
    sizes = Counter(it.label.scene for it in items)
    for name in ("tune", "test"):
        part = parts[name]
        t = part.truth
        multi = sorted({it.label.scene for it in part.items if sizes[it.label.scene] > 1})
        counts[name] = {
            "pictures": part.n,
            "pairs": len(t.same_group),
            "near_identical_pairs": int(t.same_group.sum()),
            "other_shot_pairs": int((t.same_scene & ~t.same_group).sum()),
            "plain_labelled": sum(1 for it in part.items if it.label.plain),
            "scenes_with_pairs": multi,
        }
        lines.append(
            f"  {name}: {part.n} pictures, {len(t.same_group)} pairs: "
            f"{counts[name]['near_identical_pairs']} near-identical, "
            f"{counts[name]['other_shot_pairs']} other-shot; "
            f"{counts[name]['plain_labelled']} labelled plain; scenes with pairs: "
            + ", ".join(multi)
        )
    return {"lines": lines, "counts": counts}


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    wall_start = time.perf_counter()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--input",
        choices=INPUTS,
        default="thumbnail",
        help="what the embedding is made from: the backup's thumbnail (production) or the file",
    )
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--runs", type=int, default=1, help="timed embedding passes")
    ap.add_argument(
        "--thresholds",
        help="NEAR,SIMILAR: also score the product at these (shipped bits and guard) held out",
    )
    ap.add_argument("--show-errors", type=int, default=10, help="wrong pairs listed per tier")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"no corpus at {args.corpus}")
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="similar-quality-", dir=BENCH_ROOT) as scratch:
        run(args, Path(scratch), wall_start)


def run(args: argparse.Namespace, scratch: Path, wall_start: float) -> None:
    code = announce_source()
    labels = read_labels(args.labels)
    items, problems, skipped, render_s = collect(labels, args.corpus, args.input, scratch)
    if problems:
        print("label problems:\n  " + "\n  ".join(problems))
    n = len(items)
    emb, times, built = embed_all(items, args.runs)
    dist, d8 = cosine_matrix(emb), d8_matrix(items)
    parts: dict[str, Part] = {}
    for name in ("tune", "test", "all"):
        idx = [i for i, it in enumerate(items) if name in ("all", it.split)]
        sub = np.ix_(idx, idx)
        parts[name] = Part(
            name, [items[i] for i in idx], dist[sub], None if d8 is None else d8[sub]
        )
    tune, test, whole = parts["tune"], parts["test"], parts["all"]
    print(f"embedding input: {args.input}; {n} distinct pictures embedded")
    summary = set_summary(labels, items, parts)
    print("\n".join(summary["lines"]))
    if skipped:
        print("skipped: " + "; ".join(skipped))
    if d8 is None:
        print("imagehash not installed: no pHash-d8 setting, sweep column or baseline")

    # -- the product's grouping at the shipped defaults: the figures
    product = {name: evaluate_product(part) for name, part in parts.items()}
    held = product["test"]
    precision_ok, f1_ok = meets_targets(held)
    contract = {name: checks_pass(r) for name, r in product.items()}
    narrow_ok = all(c[0] for c in contract.values())
    plain_ok = all(c[1] for c in contract.values())

    # -- the rules, on tune only (the bench's own grouping); the product at what they choose
    guard = choose_guard(tune)
    chosen = {"embedding": choose(tune, guard, verify=False)}
    if d8 is not None:
        chosen["embedding + pHash-d8"] = choose(tune, guard, verify=True)
    settings = {k: s for k, (s, _) in chosen.items()}
    s_emb = settings["embedding"]
    at_chosen = {k: evaluate_product(test, Wiring.of(s)) for k, s in settings.items()}
    guard_swap = choose_guard(test)
    swap: dict[str, dict[str, Any]] = {}
    for k in settings:
        s_swap, _ = choose(test, guard_swap, verify=k != "embedding")
        swap[k] = evaluate_product(tune, Wiring.of(s_swap))
    old_key = f"old default {OLD_THRESHOLD} (single linkage, one tier)"
    compare = {old_key: test.evaluate(Setting(OLD_THRESHOLD, OLD_THRESHOLD, None, None, "single"))}
    extra: dict[str, dict[str, Any]] = {}
    if args.thresholds:
        a, b = (float(x) for x in args.thresholds.split(","))
        w = dataclasses.replace(SHIPPED, near=min(a, b), similar=b)
        extra[f"--thresholds: the product at {w.describe()}"] = evaluate_product(test, w)
    phash: dict[str, Any] = {}
    if d8 is not None:
        bits, _ = choose_phash(tune)
        phash = {"bits": bits, "test": phash_near(test, bits), "tune": phash_near(tune, bits)}
    guard_cost = guard_effect(parts)

    # -- the table
    head = EDITS_AND_TRANSFORMS
    table = Table(
        f"similar-photo quality ({args.input} input): the product's grouping "
        "(photoark.optimize.grouping.tiered, wired as find_similar) at the shipped defaults, "
        f"scored on test ({test.n} pictures); the rules run on tune ({tune.n})"
    )
    table.add(
        "[the product at the shipped defaults]",
        SHIPPED.describe(),
        f"keeper: lowest id; {held['pairs_within_similar']} test pairs within "
        f"{SHIPPED.similar:.3f}",
    )
    near, sim = held["near_identical"], held["similar"]
    table.add(
        "held out: near_identical pair precision",
        f"{near[head]['precision']:.3f} ({near[head]['fp']} FP: {false_note(near['false_pairs'])})",
        f">= {NEAR_PRECISION_TARGET}",
        precision_ok,
    )
    table.add(
        "… F1, edits + transforms + formats (all pairs)",
        fmt(near[head]),
        f">= {NEAR_F1_TARGET}",
        f1_ok,
    )
    table.add("… copies with their original", fmt(near["copies with their original"]), "info")
    for cat in CATEGORIES:
        table.add(f"… {cat}", fmt(near[cat]), "info")
    table.add(
        "held out: similar, other shots (a near-identical group through its keeper)",
        fmt(sim["other shots"]),
        "info",
    )
    table.add(
        "… other shots as offered (keepers and ungrouped photos only)",
        fmt(sim["offered"]["other shots"]),
        "info",
    )
    shown = sim["offered"]["as shown"]
    table.add(
        "… every pair of an offered similar group, against scene",
        f"P {shown['precision']:.3f} ({shown['tp'] + shown['fp']} pairs, {shown['fp']} false)",
        "info",
    )
    g = held["groups"]
    table.add(
        "… groups near_identical / similar (largest; with its keepers' copies)",
        f"{g['near_identical_groups']} ({g['near_identical_largest']}) / "
        f"{g['similar_groups']} ({g['similar_largest']}; {g['similar_largest_with_copies']})",
        "info",
    )
    for name in ("tune", "all"):
        r = product[name]
        table.add(
            f"{'tune part' if name == 'tune' else 'whole set, one library'}: near P / F1; "
            "similar other shots P / F1",
            f"{r['near_identical'][head]['precision']:.3f} / {r['near_identical'][head]['f1']:.3f}"
            f"; {r['similar']['other shots']['precision']:.3f} / "
            f"{r['similar']['other shots']['f1']:.3f}",
            "info (tune chose the thresholds)" if name == "tune" else "info",
        )
    table.add(
        "check: no group wider than its threshold (tune / test / whole)",
        " / ".join(
            f"{product[p]['checks']['widest']['near_identical']:.3f}, "
            f"{product[p]['checks']['widest']['similar']:.3f}"
            for p in ("tune", "test", "all")
        )
        + " (widest near, similar)",
        f"<= {SHIPPED.near:.3f}, {SHIPPED.similar:.3f}",
        narrow_ok,
    )
    table.add(
        "check: no plain pair grouped unless same picture (tune / test / whole)",
        " / ".join(str(len(product[p]["checks"]["plain_grouped"])) for p in ("tune", "test", "all"))
        + " pairs with a plain picture (label or is_plain) grouped, not the same picture",
        "0",
        plain_ok,
    )

    table.add("[the rules on tune: the bench's own grouping, for choosing only]", "", "")
    table.add(
        "plain guard (chosen on tune)",
        f"busy < {guard.busy:.2f} or side < {PLAIN_MIN_SIDE} px -> only within "
        f"{guard.threshold:.3f}",
        f"shipped: detail < {PLAIN_MIN_DETAIL:.2f} -> {PLAIN_MAX_DISTANCE:.3f} ("
        + (
            "same"
            if (guard.busy, guard.threshold) == (PLAIN_MIN_DETAIL, PLAIN_MAX_DISTANCE)
            else "differs"
        )
        + ")",
    )
    for key, s in settings.items():
        info = chosen[key][1]
        table.add(
            f"[{key}] T_near / T_similar" + (" / pHash-d8 bits" if s.bits is not None else ""),
            f"{s.t_near:.3f} / {s.t_similar:.3f}"
            + (f" / {s.bits}" if s.bits is not None else "")
            + (
                f" (near rule {info['near_rule']:.3f}, capped)"
                if info["near_rule"] > s.t_near
                else ""
            )
            + f" (best similar F1 from {info['similar_best_f1_run'][0]:.3f})",
            (
                f"shipped: {SHIPPED.near:.3f} / {SHIPPED.similar:.3f} / {SHIPPED.bits} ("
                + ("same" if Wiring.of(s) == SHIPPED else "differs")
                + ")"
                if s.bits is not None
                else f"tune: near P >= {NEAR_PRECISION_RULE}; similar best F1 at P >= "
                f"{SIMILAR_PRECISION_RULE}"
            ),
        )
        r = at_chosen[key]
        rn, rs = r["near_identical"][head], r["similar"]["other shots"]
        p_ok, f_ok = meets_targets(r)
        table.add(
            "… held out, the product at these: near P / F1; similar other shots P / F1",
            f"{rn['precision']:.3f} / {rn['f1']:.3f} ({rn['fp']} FP, {rn['fn']} FN); "
            f"{rs['precision']:.3f} / {rs['f1']:.3f}",
            f"targets: P {'pass' if p_ok else 'FAIL'}, F1 {'pass' if f_ok else 'FAIL'}",
        )
        sw = swap[key]
        wv = sw["wiring"]
        table.add(
            "… swap: rules on test, the product scored on tune",
            f"{wv['near']:.3f} / {wv['similar']:.3f}"
            + (f" / {wv['bits']}" if wv["bits"] is not None else "")
            + f": near P {sw['near_identical'][head]['precision']:.3f} F1 "
            f"{sw['near_identical'][head]['f1']:.3f}; similar F1 "
            f"{sw['similar']['other shots']['f1']:.3f}",
            "info",
        )
    table.add("[comparisons, held out]", "", "")
    for key, r in {**compare, **extra}.items():
        rn, rs = r["near_identical"], r["similar"]
        st = r.get("setting")
        table.add(
            key + (f" ({st['t_near']:.3f} / {st['t_similar']:.3f})" if st else ""),
            f"near {fmt(rn[head])}",
            f"false: {false_note(rn['false_pairs'])}",
        )
        table.add(
            "… similar as shown / other shots",
            f"P {rs['as shown']['precision']:.3f} R {rs['as shown']['recall']:.3f} / "
            f"F1 {rs['other shots']['f1']:.3f}; largest group "
            f"{max(r['groups']['similar_largest'], r['groups']['near_identical_largest'])}",
            "info",
        )
    if phash:
        table.add(
            f"pHash-d8 alone, the product's complete_linkage ({phash['bits']} bits, near rule)",
            f"near {fmt(phash['test'][head])}",
            f"false: {false_note(phash['test']['false_pairs'])}",
        )
    table.add(
        "[the plain guard, the product at the shipped defaults: not-same-picture pairs with a "
        "plain picture grouped near / similar, without -> with it]",
        "",
        "",
    )
    for name, label in (("tune", "tune"), ("test", "test"), ("all", "whole set")):
        gc = guard_cost[name]
        table.add(
            f"{label}: near / similar",
            f"{gc['plain_fp_without'][0]} -> {gc['plain_fp_with'][0]} / "
            f"{gc['plain_fp_without'][1]} -> {gc['plain_fp_with'][1]}; true pairs "
            f"{gc['tp_without'][0]} -> {gc['tp_with'][0]} / "
            f"{gc['tp_without'][1]} -> {gc['tp_with'][1]}",
            "0 with the guard",
            gc["plain_fp_with"] == (0, 0),
        )
    table.add(
        "is_plain, not labelled plain / labelled, not is_plain",
        f"{', '.join(guard_cost['false_plain']) or 'none'} / "
        f"{', '.join(guard_cost['missed_plain']) or 'none'}",
        "info",
    )
    table.note(
        f"the bench's complete_linkage vs scipy (whole set, no guard): "
        f"{scipy_check(whole, (0.1, 0.3))}"
    )
    for part in (test, whole):
        table.note(f"the product vs the bench's grouping, {part.name}: {agreement(part, guard)}")
    table.note(
        f"the product's fingerprint vs the rules' inputs: {fingerprint_agreement(items, d8)}"
    )
    med = float(np.median(times))
    table.note(
        f"decode ({args.input}) + embed: {n / med:.1f} pictures/s (median of {len(times)} "
        f"passes); "
        + (f"thumbnails rendered at {n / render_s:.1f}/s; " if render_s else "")
        + f"model {'built' if built else 'cached'}"
    )
    print(table.render())

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    print(
        f"TARGET shipped defaults ({SHIPPED.describe()}), the product's grouping, held out: "
        f"near_identical pair precision {near[head]['precision']:.3f} >= "
        f"{NEAR_PRECISION_TARGET}: {verdict(precision_ok)}; F1 (edits + transforms + formats) "
        f"{near[head]['f1']:.3f} >= {NEAR_F1_TARGET}: {verdict(f1_ok)}"
    )
    print(
        "CHECK no group wider than its threshold (tune, test, whole set): "
        f"{verdict(narrow_ok)}; no plain pair grouped unless the same picture: "
        f"{verdict(plain_ok)}"
    )

    # -- details
    if "embedding + pHash-d8" in chosen:
        by_bits = chosen["embedding + pHash-d8"][1]["by_bits"]
        print(
            "\npHash-d8 bits on tune -> (near rule threshold, tune near F1 there): "
            + ", ".join(f"{b}: ({t:.3f}, {f:.3f})" for b, (t, f) in by_bits.items())
        )
    near_all = product["all"]["near_identical"]
    print(
        "\n[the product, shipped defaults] near_identical per variant, copies with their "
        "original: held out | whole set, one library (for the counts; tune is in it)"
    )
    for v in (*NEAR_VARIANTS, *CATEGORIES):
        if near_all[v]["tp"] + near_all[v]["fn"]:
            print(f"  {v:<44} {fmt(near[v])} | {fmt(near_all[v])}")
    print("\nsweep, the bench's grouping (complete linkage + guard), pair P/R/F1 on tune | test:")
    print(
        "  t      near_identical [embedding]        "
        + ("near_identical [+ pHash-d8]        " if len(settings) > 1 else "")
        + "similar, other shots [embedding]"
    )

    def cell(r: dict[str, Any]) -> str:
        return f"{r['precision']:.2f}/{r['recall']:.2f}/{r['f1']:.2f}"

    def near_at(part: Part, t: float, bits: int | None) -> dict[str, Any]:
        labels = part.near(Setting(t, t, guard, bits))
        return score_near(part.truth, part.truth.together(labels))[head]

    def similar_at(part: Part, t: float) -> dict[str, Any]:
        labels = part.similar(Setting(min(s_emb.t_near, t), t, guard))
        return score_similar(part.truth, part.truth.together(labels))["other shots"]

    for t in GRID:
        if round(t * 1000) % 25 or t > 0.45:
            continue
        row = f"  {t:.3f}  {cell(near_at(tune, t, None))} | {cell(near_at(test, t, None))}  "
        if len(settings) > 1:
            vb = settings["embedding + pHash-d8"].bits
            row += f"{cell(near_at(tune, t, vb))} | {cell(near_at(test, t, vb))}  "
        print(row + f"{cell(similar_at(tune, t))} | {cell(similar_at(test, t))}")
    errors: dict[str, list[dict[str, Any]]] = {}
    for part in (tune, test):
        pt = part.truth
        grouped = group_product(part)
        for tier, together, truth, mask in (
            ("near_identical", pt.together(grouped.near), pt.same_group, pt.same_group | True),
            ("similar, other shots", pt.together(grouped.similar), pt.same_scene, ~pt.same_group),
        ):
            errs = wrong_pairs(part, together, truth, mask)
            errors[f"{tier}/{part.name}"] = errs
            print(
                f"\n[the product, shipped defaults] {tier}, {part.name}: {len(errs)} wrong pairs "
                f"(first {args.show_errors}; distance, pHash-d8 bits)"
            )
            for e in errs[: args.show_errors]:
                print(f"  {e['kind']} {e['distance']:.3f} {e['d8']}  {e['short']}")
    print("\nplain pictures (label or is_plain), with the nearest other picture:")
    judged = np.array([it.fp is None or is_plain(it.fp) for it in items])
    for i in np.flatnonzero(judged | np.array([it.label.plain for it in items])):
        row = dist[i].copy()
        row[i] = np.inf
        j = int(np.argmin(row))
        fp = items[i].fp
        print(
            f"  detail {fp.detail if fp else float('nan'):.3f} side {items[i].side:>4} "
            f"{'plain' if judged[i] else 'NOT plain':<9} "
            f"label {'plain' if items[i].label.plain else '-':<5} "
            f"{items[i].short}  nearest {row[j]:.3f} {items[j].short}"
        )
    elapsed = time.perf_counter() - wall_start
    print(f"\nwhole run: {elapsed:.1f} s")

    write_json(
        args.json_out,
        {
            "benchmark": "similar_quality",
            "code": code,
            "input": args.input,
            "labelled_set": summary["counts"],
            "label_problems": problems,
            "skipped": skipped,
            "pictures": [
                {
                    "path": it.label.path,
                    "group": it.label.group,
                    "scene": it.label.scene,
                    "variant": it.label.variant,
                    "plain_label": it.label.plain,
                    "plain_verdict": bool(judged[i]),
                    "busy": it.busy,
                    "detail": it.fp.detail if it.fp else None,
                    "side": it.side,
                    "split": it.split,
                    "byte_copies": it.aliases,
                }
                for i, it in enumerate(items)
            ],
            "shipped": {
                "wiring": dataclasses.asdict(SHIPPED),
                "keeper": "lowest id",
                "targets": {
                    "near_precision": [NEAR_PRECISION_TARGET, precision_ok],
                    "near_f1": [NEAR_F1_TARGET, f1_ok],
                    "no_group_wider_than_threshold": narrow_ok,
                    "no_plain_pair_grouped": plain_ok,
                },
                "test": held,
                "tune": product["tune"],
                "all": product["all"],
            },
            "guard": dataclasses.asdict(guard),
            "chosen": {
                k: {
                    "setting": dataclasses.asdict(s),
                    "near_rule": chosen[k][1]["near_rule"],
                    "tune_by_bits": {str(b): v for b, v in chosen[k][1]["by_bits"].items()},
                    "similar_best_f1_run": chosen[k][1]["similar_best_f1_run"],
                    "tune_near_curve": chosen[k][1]["near_curve"],
                    "tune_similar_curve": chosen[k][1]["similar_curve"],
                    "test_product": at_chosen[k],
                    "swap_product_on_tune": swap[k],
                }
                for k, s in settings.items()
            },
            "grid": GRID,
            "comparisons": {**compare, **extra},
            "guard_effect": guard_cost,
            "phash_d8_alone": phash,
            "errors": errors,
            "speed": {
                "embed_runs_seconds": times,
                "pictures_per_s": n / med,
                "thumbnail_render_seconds": render_s,
                "model_built": built,
            },
            "seconds": elapsed,
        },
    )


if __name__ == "__main__":
    main()
