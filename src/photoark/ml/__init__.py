"""On-device image embeddings for similar-photo grouping (the server never sees images).

- :mod:`.checkpoint`: the packaged EfficientNet-Lite0 torch checkpoint read into numpy, no torch.
- :mod:`.graph`: those weights as an ONNX graph (BN folded), 1280-d pooled embedding + logits.
- :mod:`.preprocess`: upright, draft-decoded, centre-cropped 224x224 RGB input.
- :mod:`.model`: :class:`EmbeddingModel`, the cached ONNX model run by onnxruntime on the CPU.
"""

from photoark.ml.errors import (
    CheckpointError,
    ImageDecodeError,
    ModelError,
    ModelNotInstalledError,
)
from photoark.ml.model import EmbeddingModel

__all__ = [
    "CheckpointError",
    "EmbeddingModel",
    "ImageDecodeError",
    "ModelError",
    "ModelNotInstalledError",
]
