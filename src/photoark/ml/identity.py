"""What an embedding is an embedding *of*: the model, graph version and options, by name.

Kept apart from :mod:`.graph` and :mod:`.model` (which import onnx and onnxruntime) so that
status reports and caches can name the model without loading it.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DEFAULT_THRESHOLD",
    "EMBEDDING_DIM",
    "GRAPH_VERSION",
    "INPUT_SIZE",
    "MODEL_FAMILY",
    "model_name",
]

MODEL_FAMILY: Final = "efficientnet-lite0"
GRAPH_VERSION: Final = 1  # bump when the built graph changes, so cached models are rebuilt
EMBEDDING_DIM: Final = 1280  # the pooled features before the classifier
INPUT_SIZE: Final = 224  # the square the network looks at, in pixels

# From bench/similar_quality.py on the corpus near-duplicate sets, thumbnail input (what the
# embedder uses): F1 on edits + transforms 0.988 and overall precision 0.991 at 0.35; the F1
# curve is flat from 0.32 to 0.395 and falls off a cliff at 0.40 (6 false pairs at 0.400, 23 at
# 0.425), so the default sits 0.05 below the edge. See bench/README.md.
DEFAULT_THRESHOLD: Final = 0.35
"""Cosine distance under which two photos of this model's embeddings are similar."""


def model_name(orientation_invariant: bool = True) -> str:
    """The name stored beside embeddings of this model and graph version (and whether the
    four turns are averaged): embeddings of different names are never compared."""
    turns = "r4" if orientation_invariant else "r1"
    return f"{MODEL_FAMILY}.g{GRAPH_VERSION}.{turns}"
