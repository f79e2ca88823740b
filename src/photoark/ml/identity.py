"""What an embedding is an embedding *of*: the model, graph version and options, by name.

Kept apart from :mod:`.graph` and :mod:`.model` (which import onnx and onnxruntime) so that
status reports and caches can name the model without loading it.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "EMBEDDING_DIM",
    "GRAPH_VERSION",
    "INPUT_SIZE",
    "MODEL_FAMILY",
    "NEAR_IDENTICAL_THRESHOLD",
    "PAYLOAD_VERSION",
    "SIMILAR_THRESHOLD",
    "model_name",
]

MODEL_FAMILY: Final = "efficientnet-lite0"
GRAPH_VERSION: Final = 1  # bump when the built graph changes, so cached models are rebuilt
# bump when what is stored beside a photo changes (ml/codec.py's layout, or what
# ml/fingerprint.py measures): the name changes, so every device makes new payloads once.
# 1: the vector alone; 2: the vector and the thumbnail's fingerprint.
PAYLOAD_VERSION: Final = 2
EMBEDDING_DIM: Final = 1280  # the pooled features before the classifier
INPUT_SIZE: Final = 224  # the square the network looks at, in pixels

# Chosen by bench/similar_quality.py on the tuning half of a labelled set of 255 pictures (split
# by scene), reported on the other half (bench/README.md, "Similar-image quality"). Grouping is
# complete linkage: every member of a group within its tier's threshold of every other. A
# near-identical pair must also have thumbnails within NEAR_IDENTICAL_MAX_BITS of perceptual
# hash (photoark.ml.fingerprint): another shot of a moment can be as close to the model as a
# copy (0.02-0.18), never that close in pixels. Held out: near_identical precision 1.000,
# recall 0.990; no pair of different scenes within 0.25.
NEAR_IDENTICAL_THRESHOLD: Final = 0.25
"""Cosine distance within which two photos may be the same picture (transformed, re-encoded)."""
SIMILAR_THRESHOLD: Final = 0.25
"""Cosine distance within which two photos are other shots of the same moment."""


def model_name(orientation_invariant: bool = True) -> str:
    """The name stored beside embeddings of this model and graph version (and whether the
    four turns are averaged), in this payload version: embeddings of different names are never
    compared, and one made under another name is neither fetched nor reused. Payload 1 had no
    suffix (``efficientnet-lite0.g1.r4``)."""
    turns = "r4" if orientation_invariant else "r1"
    return f"{MODEL_FAMILY}.g{GRAPH_VERSION}.{turns}.p{PAYLOAD_VERSION}"
