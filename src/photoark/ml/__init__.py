"""On-device image embeddings for similar-photo grouping (the server never sees images).

- :mod:`.checkpoint`: the packaged EfficientNet-Lite0 torch checkpoint read into numpy, no torch.
- :mod:`.graph`: those weights as an ONNX graph (BN folded), 1280-d pooled embedding + logits.
- :mod:`.preprocess`: upright, draft-decoded, centre-cropped 224x224 RGB input.
- :mod:`.model`: :class:`EmbeddingModel`, the cached ONNX model run by onnxruntime on the CPU.
- :mod:`.fingerprint`: the thumbnail's pHashes in 8 orientations and how plain it is (numpy,
  Pillow): what tells a copy from another shot, and guards featureless pictures.
- :mod:`.codec`: an embedding's bytes (float16 vector + fingerprint), as cached and sealed
  for the server.

``EmbeddingModel`` is imported on first use: onnxruntime and onnx take a third of a second to
import, which commands that never run the model should not pay.
"""

from typing import TYPE_CHECKING, Any

from photoark.ml.errors import (
    CheckpointError,
    EmbeddingFormatError,
    ImageDecodeError,
    ModelError,
    ModelNotInstalledError,
)

if TYPE_CHECKING:
    from photoark.ml.model import EmbeddingModel

__all__ = [
    "CheckpointError",
    "EmbeddingFormatError",
    "EmbeddingModel",
    "ImageDecodeError",
    "ModelError",
    "ModelNotInstalledError",
]


def __getattr__(name: str) -> Any:
    if name == "EmbeddingModel":
        from photoark.ml.model import EmbeddingModel

        return EmbeddingModel
    raise AttributeError(name)
