"""The Lite0 ONNX graph: deterministic, strict about its weights, and classifies sensibly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photoark.ml.checkpoint import Checkpoint
from photoark.ml.errors import CheckpointError
from photoark.ml.graph import LITE0_BLOCKS, build_lite0
from photoark.ml.model import EmbeddingModel
from photoark.ml.preprocess import load_image


def test_build_is_deterministic(checkpoint: Checkpoint) -> None:
    first = build_lite0(checkpoint.tensors).SerializeToString()
    assert build_lite0(checkpoint.tensors).SerializeToString() == first


def test_block_table_matches_the_checkpoint(checkpoint: Checkpoint) -> None:
    assert len(LITE0_BLOCKS) == 16
    for i, spec in enumerate(LITE0_BLOCKS):
        dw = checkpoint.tensors[f"_blocks.{i}._depthwise_conv.weight"]
        assert dw.shape == (spec.cin * spec.expand, 1, spec.kernel, spec.kernel)


def test_missing_or_unexpected_weights_are_refused(checkpoint: Checkpoint) -> None:
    missing = dict(checkpoint.tensors)
    del missing["_blocks.3._bn1.running_var"]
    with pytest.raises(CheckpointError, match="lacks"):
        build_lite0(missing)
    extra = dict(checkpoint.tensors)
    extra["_blocks.3._se_reduce.weight"] = np.zeros((6, 144, 1, 1), dtype=np.float32)
    with pytest.raises(CheckpointError, match="not used"):
        build_lite0(extra)


# Clear single-subject photos in the corpus and the ImageNet-1k classes they show.
CLASSIFIED = [
    ("exif-samples/jpg/exif-org/fujifilm-mx1700.jpg", {327}),  # starfish
    ("exif-samples/jpg/exif-org/sony-powershota5.jpg", {607}),  # jack-o'-lantern
    ("exif-samples/jpg/exif-org/nikon-e950.jpg", {471}),  # cannon
    ("exif-samples/jpg/exif-org/kodak-dc240.jpg", set(range(151, 269))),  # a dog
    ("exif-samples/jpg/exif-org/fujifilm-finepix40i.jpg", set(range(151, 276))),  # dog/dingo
    ("exif-samples/jpg/Kodak_CX7530.jpg", set(range(38, 49))),  # a lizard (agama)
]


@pytest.mark.parametrize(("relative", "classes"), CLASSIFIED)
def test_top1_class_is_sensible(
    raw_model: EmbeddingModel, corpus: Path, relative: str, classes: set[int]
) -> None:
    path = corpus / relative
    if not path.is_file():
        pytest.skip(f"{relative} not in this corpus")
    _, logits = raw_model.embed_with_logits([load_image(path)])
    assert int(np.argmax(logits[0])) in classes
