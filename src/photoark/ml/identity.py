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
    "SIMILAR_THRESHOLD",
    "model_name",
]

MODEL_FAMILY: Final = "efficientnet-lite0"
GRAPH_VERSION: Final = 1  # bump when the built graph changes, so cached models are rebuilt
EMBEDDING_DIM: Final = 1280  # the pooled features before the classifier
INPUT_SIZE: Final = 224  # the square the network looks at, in pixels

# Chosen by bench/similar_quality.py on the tuning half of a labelled set, reported on the other
# half (bench/README.md, "Similar-image quality"). Grouping is complete linkage: every member
# of a group within its tier's threshold of every other.
NEAR_IDENTICAL_THRESHOLD: Final = 0.20
"""Cosine distance within which two photos are the same picture (transformed, re-encoded)."""
SIMILAR_THRESHOLD: Final = 0.30
"""Cosine distance within which two photos are other shots of the same moment."""


def model_name(orientation_invariant: bool = True) -> str:
    """The name stored beside embeddings of this model and graph version (and whether the
    four turns are averaged): embeddings of different names are never compared."""
    turns = "r4" if orientation_invariant else "r1"
    return f"{MODEL_FAMILY}.g{GRAPH_VERSION}.{turns}"
