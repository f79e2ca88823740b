"""EmbeddingModel: caching, input handling, and similarity ordering on real photos."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photoark.ml.errors import ImageDecodeError
from photoark.ml.model import EmbeddingModel
from photoark.ml.preprocess import load_image

BRIDGE = "neardup-threatexchange-pdq/pdq/data"
UNRELATED = [
    "neardup-imagededup/tests/data/base_images/ukbench09012.jpg",
    "neardup-imagehash-php/tests/images/forest/forest-high.jpg",
    "neardup-imagehash-php/tests/images/orientation/mismatch-1.jpg",
    "exif-samples/jpg/exif-org/fujifilm-mx1700.jpg",
    "exif-samples/jpg/exif-org/nikon-e950.jpg",
]


def _gradient(width: int = 320, height: int = 240) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, (x * y) % 256], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return 1.0 - float(a @ b)


def test_embeddings_are_unit_float32(model: EmbeddingModel) -> None:
    out = model.embed([_gradient(), _gradient(100, 400).convert("L")])
    assert out.shape == (2, 1280)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert model.embed([]).shape == (0, 1280)


def test_batching_does_not_change_results(model_cache: Path, model: EmbeddingModel) -> None:
    images = [_gradient(), _gradient().rotate(30), _gradient(200, 200)]
    small = EmbeddingModel(model_cache, threads=1, batch_size=2)
    np.testing.assert_allclose(small.embed(images), model.embed(images), atol=1e-5)


def test_model_is_cached_and_reused(model: EmbeddingModel, model_cache: Path) -> None:
    assert model.model_path.parent == model_cache
    assert model.model_path.name.startswith("efficientnet-lite0-")
    digest = model.model_path.with_name(model.model_path.name + ".sha256").read_text().strip()
    assert hashlib.sha256(model.model_path.read_bytes()).hexdigest() == digest
    again = EmbeddingModel(model_cache)
    assert not again.built
    assert again.model_path == model.model_path


def test_corrupt_cache_is_rebuilt(tmp_path: Path, checkpoint_path: Path) -> None:
    first = EmbeddingModel(tmp_path)
    assert first.built
    good = first.model_path.read_bytes()
    first.model_path.write_bytes(good[: len(good) // 2])
    second = EmbeddingModel(tmp_path)
    assert second.built
    assert second.model_path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_rotations_embed_alike_when_orientation_invariant(model: EmbeddingModel) -> None:
    image = _gradient()
    turned = [image.transpose(t) for t in (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180)]
    out = model.embed([image, *turned])
    assert _distance(out[0], out[1]) < 1e-3
    assert _distance(out[0], out[2]) < 1e-3


def test_embed_path_applies_exif_orientation(model: EmbeddingModel, tmp_path: Path) -> None:
    upright = _gradient()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated; viewers turn it 90° clockwise
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    stored.save(tmp_path / "tagged.jpg", exif=exif, quality=95)
    assert load_image(tmp_path / "tagged.jpg").size == upright.size
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.raises(ImageDecodeError):
        model.embed_path(tmp_path / "bad.jpg")


def _corpus_image(corpus: Path, relative: str) -> Image.Image:
    path = corpus / relative
    if not path.is_file():
        pytest.skip(f"{relative} not in this corpus")
    return load_image(path)


def _variants(original: Image.Image) -> dict[str, Image.Image]:
    w, h = original.size
    return {
        "resized": original.resize((w // 3, h // 3), Image.Resampling.LANCZOS),
        "cropped": original.crop((w // 20, h // 20, w - w // 20, h - h // 20)),
        "mirrored": original.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "flipped": original.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        "rotated": original.transpose(Image.Transpose.ROTATE_90),
    }


def test_copies_are_closer_than_unrelated_photos(model: EmbeddingModel, corpus: Path) -> None:
    original = _corpus_image(corpus, f"{BRIDGE}/bridge-mods/aaa-orig.jpg")
    others = [_corpus_image(corpus, r) for r in UNRELATED]
    variants = _variants(original)
    out = model.embed([original, *variants.values(), *others])
    near = {
        name: _distance(out[0], e)
        for name, e in zip(variants, out[1 : 1 + len(variants)], strict=True)
    }
    far = [_distance(out[0], e) for e in out[1 + len(variants) :]]
    assert max(near.values()) < min(far), (near, far)


def test_raw_embedding_handles_resize_crop_mirror_not_rotation(
    raw_model: EmbeddingModel, corpus: Path
) -> None:
    """Measured: without rotation averaging, a 90° turn moves a photo 0.25-0.5 away."""
    original = _corpus_image(corpus, f"{BRIDGE}/bridge-mods/aaa-orig.jpg")
    others = [_corpus_image(corpus, r) for r in UNRELATED]
    variants = _variants(original)
    out = raw_model.embed([original, *variants.values(), *others])
    near = {
        name: _distance(out[0], e)
        for name, e in zip(variants, out[1 : 1 + len(variants)], strict=True)
    }
    far = min(_distance(out[0], e) for e in out[1 + len(variants) :])
    for name in ("resized", "cropped", "mirrored"):
        assert near[name] < 0.1 < far
    assert near["rotated"] > 0.2
