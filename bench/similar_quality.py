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

**Grouping**: :func:`complete_linkage` (agglomerative, over the pairs within the threshold: the
two clusters whose *farthest* members are closest merge first, and only if every pair across
them is within the threshold, so every member of a group is within the threshold of every other:
no chaining). Two tiers, nested: the ``near_identical`` groups are the complete-linkage groups at
``T_near`` (of the pairs that pass the guard, and the verification when it is on); the
``similar`` groups continue the same agglomeration from those groups up to ``T_similar`` over
all the pairs that pass the guard, so each similar group is made of whole near-identical groups;
it is shown when it holds two or more of them (its near-identical copies listed inside it,
nothing pre-selected). Single linkage (connected components: the old grouping) is scored beside.

**Scores**, pair precision / recall / F1: ``near_identical``: a pair in one near-identical group,
against ``group`` (another shot of the same scene counts as a false pair: removal must not be
suggested for it); per variant and category: each copy of that variant with its group's
original, and the false pairs touching a file of that variant. ``similar``, "other shots": the
pairs of two different groups, a pair in one similar group against ``scene``; "as shown": every
pair of a similar group against ``scene``.

**Rules, applied to the tune part only**: ``T_near`` = the largest threshold whose near-identical
pair precision is >= 0.99; ``T_similar`` = the best other-shots F1 among thresholds with
precision >= 0.95, the largest threshold reaching it (the tier pre-selects nothing: recall is
worth more there than margin); ``T_near`` is capped at ``T_similar`` (the tiers nest). Two
settings: ``embedding`` (the embedding distance alone: what ``photoark`` has today) and
``embedding + pHash-d8`` (a proposal: a pair is near-identical only if, as well, the pHash of one
thumbnail is within ``B`` bits of the other's in one of its 8 turns / mirror images, unless the
guard judges one of them plain; ``B`` = the middle of the run of bounds, in steps of 2, whose
``T_near`` gives the best tune F1).

**Plain-picture guard**: a picture is *plain* when its thumbnail's longer side is under
``PLAIN_MIN_SIDE`` px, or fewer than ``busy`` of its 8x8 blocks (grey, 128 px) vary by more
than ``PLAIN_BLOCK_STD`` grey levels; a pair with a plain picture groups only within ``T_plain``
(both tiers). On tune: ``busy`` = the smallest multiple of 0.05 above every picture labelled
plain; ``T_plain`` = midway between the farthest same-picture pair and the nearest other pair
involving a picture labelled plain. Scored with and without it.

Also scored on the held-out part: single linkage at the same thresholds; the old default
(issue 6's ``DEFAULT_THRESHOLD`` 0.35, single linkage, one tier, every member but the keeper
suggested for removal); the code's own tier defaults when ``photoark.ml.identity`` has them
(``NEAR_IDENTICAL_THRESHOLD``, ``SIMILAR_THRESHOLD``; grouped here, not by the product's code);
pHash-d8 alone (complete linkage, bits by the near rule); and the swap (the rules applied to the
test part, scored on the tune part), to show how far the rules move with the data.

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
from photoark.ml.codec import decode_embedding, encode_embedding  # noqa: E402
from photoark.ml.fingerprint import Fingerprint  # noqa: E402
from photoark.ml.preprocess import load_image, load_image_bytes  # noqa: E402

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

# The plain-picture guard: the measure (fixed); its two thresholds are chosen on tune.
PLAIN_SIZE = 128  # px: the longest side the thumbnail is reduced to (box filter)
PLAIN_BLOCK = 8  # px
PLAIN_BLOCK_STD = 4.0  # grey levels: a block "varies" above this standard deviation
PLAIN_MIN_SIDE = 64  # px: a smaller thumbnail shows too little to tell pictures apart

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
    busy: float = 1.0  # fraction of the thumbnail's blocks with detail (the plain guard)
    side: int = 0  # longer side of what the model sees, px
    phash: npt.NDArray[np.bool_] | None = None  # (8, 64): pHash of the 8 turns / mirrors

    def image(self) -> Image.Image:
        """What the model sees: the decoded thumbnail, or the original decoded small."""
        if self.thumbnail is not None:
            return load_image_bytes(self.thumbnail, self.label.path)
        return load_image(self.path)

    @property
    def short(self) -> str:
        parts = self.label.path.split("/")
        return f"{parts[0].removeprefix('neardup-')}:{parts[-1]}"


def busy_fraction(image: Image.Image) -> float:
    """The fraction of 8x8 blocks of ``image`` (grey, <= 128 px, box filter) whose standard
    deviation is above ``PLAIN_BLOCK_STD``: ~0 for a sky or a wall, ~0.2-0.3 for a word on a
    white page, >= 0.4 for almost every photo."""
    grey = image.convert("L")
    grey.thumbnail((PLAIN_SIZE, PLAIN_SIZE), Image.Resampling.BOX)
    a = np.asarray(grey, dtype=np.float32)
    h, w = (a.shape[0] // PLAIN_BLOCK) * PLAIN_BLOCK, (a.shape[1] // PLAIN_BLOCK) * PLAIN_BLOCK
    if not h or not w:
        return 0.0
    blocks = a[:h, :w].reshape(h // PLAIN_BLOCK, PLAIN_BLOCK, w // PLAIN_BLOCK, PLAIN_BLOCK)
    return float((blocks.std(axis=(1, 3)) > PLAIN_BLOCK_STD).mean())


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
        item.busy, item.side, item.phash = busy_fraction(image), max(image.size), phash_d8(image)
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
    whether the model was built (outside the timing)."""
    model = EmbeddingModel(CACHE, threads=2)
    model.embed([Image.new("RGB", (224, 224))])  # warm-up: onnxruntime's first run allocates
    times = []
    emb = np.empty((0, model.dim), dtype=np.float32)
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        emb = model.embed([it.image() for it in items])
        times.append(time.perf_counter() - start)
    blank = Fingerprint((0,) * 8, 0.0, 0)  # the vector's round trip is what is measured here
    stored = np.stack([decode_embedding(encode_embedding(v, blank)) for v in emb])
    stored = stored.astype(np.float32)
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
    labels = cut(part.n, complete_linkage(part.n, d8_pairs(part, bits)), bits)
    return score_near(part.truth, part.truth.together(labels))


def guard_effect(parts: dict[str, Part], s: Setting) -> dict[str, Any]:
    """What the guard does at ``s``'s thresholds: false pairs of two plain pictures and true
    pairs (both tiers) without and with it, and where its verdict and the label differ."""
    out: dict[str, Any] = {}
    for name in ("tune", "test"):
        part = parts[name]
        with_, without = part.evaluate(s), part.evaluate(dataclasses.replace(s, guard=None))

        def tiers(r: dict[str, Any], key: str) -> tuple[int, int]:
            return r["near_identical"]["false_pairs"][key], r["similar"]["false_pairs"][key]

        out[name] = {
            "plain_fp_without": tiers(without, "two plain pictures"),
            "plain_fp_with": tiers(with_, "two plain pictures"),
            "tp_without": (
                without["near_identical"][EDITS_AND_TRANSFORMS]["tp"],
                without["similar"]["as shown"]["tp"],
            ),
            "tp_with": (
                with_["near_identical"][EDITS_AND_TRANSFORMS]["tp"],
                with_["similar"]["as shown"]["tp"],
            ),
        }
    whole = parts["all"]
    verdict = whole.plain(s.guard)
    out["false_plain"] = [
        it.short for it, v in zip(whole.items, verdict, strict=True) if v and not it.label.plain
    ]
    out["missed_plain"] = [
        it.short for it, v in zip(whole.items, verdict, strict=True) if it.label.plain and not v
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
    labels: npt.NDArray[np.int64],
    truth: npt.NDArray[np.bool_],
    mask: npt.NDArray[np.bool_],
) -> list[dict[str, Any]]:
    """False and missed pairs of a grouping (``truth`` over ``mask``), worst first."""
    together = part.truth.together(labels)
    iu = part.truth.iu
    out: list[dict[str, Any]] = []
    for k in np.flatnonzero(mask & (together != truth)):
        a, b = int(iu[0][k]), int(iu[1][k])
        out.append(
            {
                "kind": "FP" if together[k] else "FN",
                "distance": float(part.dist[a, b]),
                "d8": None if part.d8 is None else int(part.d8[a, b]),
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


def shipped_thresholds() -> tuple[float, float] | None:
    """The two tiers' defaults, if this checkout's code has them (issue 17's names)."""
    from photoark.ml import identity

    near = getattr(identity, "NEAR_IDENTICAL_THRESHOLD", None)
    similar = getattr(identity, "SIMILAR_THRESHOLD", None)
    return (float(near), float(similar)) if near is not None and similar is not None else None


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
        help="NEAR,SIMILAR: also score these (complete linkage, the chosen guard) held out",
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
        print("imagehash not installed: no pHash-d8 verification or baseline")

    # -- the rules, on tune only (and, as a check, on test)
    guard = choose_guard(tune)
    chosen = {"embedding": choose(tune, guard, verify=False)}
    if d8 is not None:
        chosen["embedding + pHash-d8"] = choose(tune, guard, verify=True)
    settings = {k: s for k, (s, _) in chosen.items()}
    s_emb = settings["embedding"]
    s_free, _ = choose(tune, None, verify=False)
    held = {k: test.evaluate(s) for k, s in settings.items()}
    compare: dict[str, dict[str, Any]] = {
        "single linkage, same thresholds": test.evaluate(
            dataclasses.replace(s_emb, linkage="single")
        ),
        "no guard, same thresholds": test.evaluate(dataclasses.replace(s_emb, guard=None)),
        "no guard, thresholds chosen without it": test.evaluate(s_free),
        f"old default {OLD_THRESHOLD} (single linkage, one tier)": test.evaluate(
            Setting(OLD_THRESHOLD, OLD_THRESHOLD, None, None, "single")
        ),
    }
    extra = {}
    if args.thresholds:
        a, b = (float(x) for x in args.thresholds.split(","))
        extra["--thresholds"] = test.evaluate(Setting(min(a, b), b, guard))
    shipped = shipped_thresholds()
    if shipped:
        extra["the code's defaults (photoark.ml.identity), this grouping + guard"] = test.evaluate(
            Setting(min(shipped), shipped[1], guard)
        )
    tune_at = {k: tune.evaluate(s) for k, s in settings.items()}
    guard_swap = choose_guard(test)
    swap = {}
    for k in settings:
        s_swap, _ = choose(test, guard_swap, verify=k != "embedding")
        swap[k] = tune.evaluate(s_swap)
    phash: dict[str, Any] = {}
    if d8 is not None:
        bits, _ = choose_phash(tune)
        phash = {"bits": bits, "test": phash_near(test, bits), "tune": phash_near(tune, bits)}

    # -- the table
    table = Table(
        f"similar-photo quality ({args.input} input): rules applied to tune ({tune.n} pictures), "
        f"scored on test ({test.n}); complete linkage, two nested tiers"
    )
    table.add(
        "plain guard (chosen on tune)",
        f"busy < {guard.busy:.2f} or side < {PLAIN_MIN_SIDE} px -> only within "
        f"{guard.threshold:.3f}",
        f"{int(whole.plain(guard).sum())} of {n} pictures plain "
        f"({sum(it.label.plain for it in items)} labelled)",
    )
    for key, s in settings.items():
        info = chosen[key][1]
        r = held[key]
        near, sim = r["near_identical"], r["similar"]
        head = EDITS_AND_TRANSFORMS
        table.add(f"[{key}]", "", "")
        table.add(
            "T_near / T_similar" + (" / pHash-d8 bits" if s.bits is not None else ""),
            f"{s.t_near:.3f} / {s.t_similar:.3f}"
            + (f" / {s.bits}" if s.bits is not None else "")
            + (
                f" (near rule {info['near_rule']:.3f}, capped)"
                if info["near_rule"] > s.t_near
                else ""
            )
            + f" (best similar F1 from {info['similar_best_f1_run'][0]:.3f})",
            f"tune: near P >= {NEAR_PRECISION_RULE}; similar best F1 at P >= "
            f"{SIMILAR_PRECISION_RULE}",
        )
        table.add(
            "held out: near_identical pair precision",
            f"{near[head]['precision']:.3f} ({near[head]['fp']} FP: "
            f"{false_note(near['false_pairs'])})",
            f">= {NEAR_PRECISION_TARGET}",
            near[head]["precision"] >= NEAR_PRECISION_TARGET,
        )
        table.add(
            "… F1, edits + transforms (all pairs)",
            fmt(near[head]),
            f">= {NEAR_F1_TARGET}",
            near[head]["f1"] >= NEAR_F1_TARGET,
        )
        table.add("… copies with their original", fmt(near["copies with their original"]), "info")
        for cat in CATEGORIES:
            table.add(f"… {cat}", fmt(near[cat]), "info")
        table.add("held out: similar, other shots", fmt(sim["other shots"]), "info")
        table.add(
            "… as shown (every pair of a similar group)",
            f"{fmt(sim['as shown'])}; false: {false_note(sim['false_pairs'])}",
            "info",
        )
        g = r["groups"]
        table.add(
            "… groups near_identical / similar (largest)",
            f"{g['near_identical_groups']} ({g['near_identical_largest']}) / "
            f"{g['similar_groups']} ({g['similar_largest']})",
            "info",
        )
        tu, sw = tune_at[key], swap[key]
        table.add(
            "tune part at these thresholds: near / similar other shots",
            f"F1 {tu['near_identical'][head]['f1']:.3f} (P "
            f"{tu['near_identical'][head]['precision']:.3f}) / F1 "
            f"{tu['similar']['other shots']['f1']:.3f}",
            "info",
        )
        st = sw["setting"]
        table.add(
            "swap: rules on test, scored on tune",
            f"{st['t_near']:.3f} / {st['t_similar']:.3f}"
            + (f" / {st['bits']}" if st["bits"] is not None else "")
            + f": near P {sw['near_identical'][head]['precision']:.3f} F1 "
            f"{sw['near_identical'][head]['f1']:.3f}; similar F1 "
            f"{sw['similar']['other shots']['f1']:.3f}",
            "info",
        )
    table.add("[comparisons, held out]", "", "")
    for key, r in {**compare, **extra}.items():
        st = r["setting"]
        near, sim = r["near_identical"], r["similar"]
        table.add(
            f"{key} ({st['t_near']:.3f} / {st['t_similar']:.3f})",
            f"near {fmt(near[EDITS_AND_TRANSFORMS])}",
            f"false: {false_note(near['false_pairs'])}",
        )
        table.add(
            "… similar as shown / other shots",
            f"P {sim['as shown']['precision']:.3f} R {sim['as shown']['recall']:.3f} / "
            f"F1 {sim['other shots']['f1']:.3f}; largest group "
            f"{max(r['groups']['similar_largest'], r['groups']['near_identical_largest'])}",
            "info",
        )
    if phash:
        table.add(
            f"pHash-d8 alone, complete linkage ({phash['bits']} bits, near rule)",
            f"near {fmt(phash['test'][EDITS_AND_TRANSFORMS])}",
            f"false: {false_note(phash['test']['false_pairs'])}",
        )
    guard_cost = {k: guard_effect(parts, s) for k, s in settings.items()}
    if shipped:
        guard_cost["the code's defaults"] = guard_effect(
            parts, Setting(min(shipped), shipped[1], guard)
        )
    table.add("[the plain guard: pairs of two plain pictures grouped, no guard -> guard]", "", "")
    for key, cost in guard_cost.items():
        for name in ("tune", "test"):
            g = cost[name]
            table.add(
                f"{key}, {name}: near / similar",
                f"{g['plain_fp_without'][0]} -> {g['plain_fp_with'][0]} / "
                f"{g['plain_fp_without'][1]} -> {g['plain_fp_with'][1]}; true pairs "
                f"{g['tp_without'][0]} -> {g['tp_with'][0]} / "
                f"{g['tp_without'][1]} -> {g['tp_with'][1]}",
                "0 with the guard",
                g["plain_fp_with"] == (0, 0),
            )
    first = next(iter(guard_cost.values()))
    table.add(
        "judged plain, not labelled plain / labelled, not judged",
        f"{', '.join(first['false_plain']) or 'none'} / "
        f"{', '.join(first['missed_plain']) or 'none'}",
        "info",
    )
    table.note(f"complete_linkage vs scipy (whole set, no guard): {scipy_check(whole, (0.1, 0.3))}")
    med = float(np.median(times))
    table.note(
        f"decode ({args.input}) + embed: {n / med:.1f} pictures/s (median of {len(times)} "
        f"passes); "
        + (f"thumbnails rendered at {n / render_s:.1f}/s; " if render_s else "")
        + f"model {'built' if built else 'cached'}"
    )
    print(table.render())

    # -- details
    if "embedding + pHash-d8" in chosen:
        by_bits = chosen["embedding + pHash-d8"][1]["by_bits"]
        print(
            "pHash-d8 bits on tune -> (near rule threshold, tune near F1 there): "
            + ", ".join(f"{b}: ({t:.3f}, {f:.3f})" for b, (t, f) in by_bits.items())
        )
    for key, s in settings.items():
        near, near_all = held[key]["near_identical"], whole.evaluate(s)["near_identical"]
        print(
            f"[{key}] near_identical per variant, copies with their original: held out | "
            "whole set (for the counts; tune is in it)"
        )
        for v in (*NEAR_VARIANTS, *CATEGORIES):
            if near_all[v]["tp"] + near_all[v]["fn"]:
                print(f"  {v:<44} {fmt(near[v])} | {fmt(near_all[v])}")
    print("\nsweep, complete linkage + guard, pair P/R/F1 on tune | test:")
    print(
        "  t      near_identical [embedding]        "
        + ("near_identical [+ pHash-d8]        " if len(settings) > 1 else "")
        + "similar, other shots [embedding]"
    )

    def cell(r: dict[str, Any]) -> str:
        return f"{r['precision']:.2f}/{r['recall']:.2f}/{r['f1']:.2f}"

    def near_at(part: Part, t: float, bits: int | None) -> dict[str, Any]:
        labels = part.near(Setting(t, t, guard, bits))
        return score_near(part.truth, part.truth.together(labels))[EDITS_AND_TRANSFORMS]

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
    for key, s in settings.items():
        for part in (tune, test):
            pt = part.truth
            for tier, labels_, truth, mask in (
                ("near_identical", part.near(s), pt.same_group, np.ones_like(pt.same_group)),
                ("similar, other shots", part.similar(s), pt.same_scene, ~pt.same_group),
            ):
                errs = wrong_pairs(part, labels_, truth, mask)
                errors[f"{key}/{tier}/{part.name}"] = errs
                print(
                    f"\n[{key}] {tier}, {part.name}: {len(errs)} wrong pairs "
                    f"(first {args.show_errors}; distance, pHash-d8 bits)"
                )
                for e in errs[: args.show_errors]:
                    print(f"  {e['kind']} {e['distance']:.3f} {e['d8']}  {e['short']}")
    print("\nplain pictures (label or guard verdict), with the nearest other picture:")
    verdict = whole.plain(guard)
    for i in np.flatnonzero(verdict | np.array([it.label.plain for it in items])):
        row = dist[i].copy()
        row[i] = np.inf
        j = int(np.argmin(row))
        print(
            f"  busy {items[i].busy:.3f} side {items[i].side:>4} "
            f"{'plain' if verdict[i] else 'NOT plain':<9} "
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
                    "plain_verdict": bool(verdict[i]),
                    "busy": it.busy,
                    "side": it.side,
                    "split": it.split,
                    "byte_copies": it.aliases,
                }
                for i, it in enumerate(items)
            ],
            "guard": dataclasses.asdict(guard),
            "chosen": {
                k: {
                    "setting": dataclasses.asdict(s),
                    "near_rule": chosen[k][1]["near_rule"],
                    "tune_by_bits": {str(b): v for b, v in chosen[k][1]["by_bits"].items()},
                    "similar_best_f1_run": chosen[k][1]["similar_best_f1_run"],
                    "tune_near_curve": chosen[k][1]["near_curve"],
                    "tune_similar_curve": chosen[k][1]["similar_curve"],
                }
                for k, s in settings.items()
            },
            "grid": GRID,
            "test": held,
            "tune": tune_at,
            "swap": swap,
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
