"""The on-device image embedding model: EfficientNet-Lite0 run by onnxruntime on the CPU.

The ONNX model is built from the packaged torch checkpoint (see :mod:`.checkpoint` and
:mod:`.graph`) the first time, then cached as ``<cache_dir>/efficientnet-lite0-g<graph
version>-<sha256 of checkpoint>.onnx`` next to a ``.sha256`` file holding the ONNX file's own
digest. Both are written atomically (temporary file, fsync, rename). A cached file whose digest
does not match is rebuilt, so a truncated or altered cache can never be run.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from PIL import Image

from photoark.ml.checkpoint import load_checkpoint, packaged_checkpoint_path
from photoark.ml.errors import ModelError
from photoark.ml.graph import build_lite0
from photoark.ml.identity import EMBEDDING_DIM, GRAPH_VERSION, MODEL_FAMILY, model_name
from photoark.ml.preprocess import load_image, to_pixels

__all__ = ["DEFAULT_BATCH", "MODEL_FAMILY", "EmbeddingModel", "cached_model_path", "model_name"]


DEFAULT_BATCH: Final = 8  # measured fastest on 2 cores (16: -20 %, 32: -50 %)
_CHUNK: Final = 1 << 20


def cached_model_path(cache_dir: Path, checkpoint_sha256: str) -> Path:
    """Where the ONNX model built from a checkpoint with this digest is cached."""
    return cache_dir / f"efficientnet-lite0-g{GRAPH_VERSION}-{checkpoint_sha256}.onnx"


class EmbeddingModel:
    """Image → 1280-d L2-normalised embedding (float32); cosine similarity is a dot product.

    Construction finds the packaged checkpoint (``ModelNotInstalledError`` if absent), loads or
    builds the cached ONNX model in ``cache_dir`` and opens an onnxruntime session on the CPU
    with ``threads`` intra-op threads. Instances are not shared across processes; ``embed`` may
    be called from several threads (onnxruntime sessions are thread-safe for ``run``).

    With ``orientation_invariant`` (the default) each embedding is the normalised mean of the
    embeddings of the image turned by 0, 90, 180 and 270 degrees, so a photo and its rotated
    copy embed alike (flips nearly so: the network is close to mirror-invariant already). It
    costs four inferences per image; the raw embedding alone puts rotations at cosine distance
    0.25-0.5 from the original, as far as some unrelated photos.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        threads: int = 2,
        checkpoint: Path | None = None,
        batch_size: int = DEFAULT_BATCH,
        orientation_invariant: bool = True,
    ) -> None:
        self._orientation_invariant = orientation_invariant
        self._checkpoint_path = packaged_checkpoint_path() if checkpoint is None else checkpoint
        self._batch_size = max(1, batch_size)
        checkpoint_sha256 = _file_sha256(self._checkpoint_path)
        self.model_path = cached_model_path(cache_dir, checkpoint_sha256)
        self.built = False  # True when this instance had to (re)build the ONNX file
        model_bytes = self._load_cached()
        if model_bytes is None:
            model_bytes = self._build_and_cache(cache_dir)
            self.built = True
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own untyped failures
            raise ModelError(f"onnxruntime cannot load {self.model_path}: {err}") from err

    @property
    def name(self) -> str:
        """What produced these embeddings, as stored beside them (the server's ``model``):
        embeddings of different names are never compared."""
        return model_name(self._orientation_invariant)

    @property
    def dim(self) -> int:
        """Length of each embedding (1280)."""
        return EMBEDDING_DIM

    def embed(self, images: Sequence[Image.Image]) -> npt.NDArray[np.float32]:
        """Embeddings of ``images`` (any size/mode; centre-cropped to 224), shape (n, 1280).

        Images should already be upright (see :func:`.preprocess.load_image`). Pure.
        """
        embeddings, _ = self._run(images)
        return embeddings

    def embed_with_logits(
        self, images: Sequence[Image.Image]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Embeddings and ImageNet-1k logits (n, 1000), for sanity checks of the weights."""
        return self._run(images)

    def embed_path(self, path: Path) -> npt.NDArray[np.float32]:
        """Embedding (1280,) of an image file, decoded small and upright (``load_image``)."""
        embedding: npt.NDArray[np.float32] = self.embed([load_image(path)])[0]
        return embedding

    def _run(
        self, images: Sequence[Image.Image]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        embeddings = np.empty((len(images), EMBEDDING_DIM), dtype=np.float32)
        logits = np.empty((len(images), 1000), dtype=np.float32)
        for start in range(0, len(images), self._batch_size):
            chunk = images[start : start + self._batch_size]
            emb, log = self._infer(to_pixels(chunk))
            embeddings[start : start + len(chunk)] = emb
            logits[start : start + len(chunk)] = log
        return embeddings, logits

    def _infer(
        self, pixels: npt.NDArray[np.uint8]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Run the session; with orientation invariance, once per rotation (4 runs).

        Logits are always those of the upright image.
        """
        if not self._orientation_invariant:
            emb, log = self._session.run(["embedding", "logits"], {"pixels": pixels})
            return emb, log
        # One run per rotation: a single batch of 4n is slower (measured: cache pressure).
        outputs = [
            self._session.run(
                ["embedding", "logits"],
                {"pixels": np.ascontiguousarray(np.rot90(pixels, k, axes=(1, 2)))},
            )
            for k in range(4)
        ]
        log = outputs[0][1]
        mean = np.mean([emb for emb, _ in outputs], axis=0)
        norms = np.linalg.norm(mean, axis=1, keepdims=True)
        return (mean / np.maximum(norms, 1e-12)).astype(np.float32), log

    def _load_cached(self) -> bytes | None:
        """The cached ONNX bytes if present and matching their recorded digest, else None."""
        try:
            data = self.model_path.read_bytes()
            recorded = _digest_path(self.model_path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return data if hashlib.sha256(data).hexdigest() == recorded else None

    def _build_and_cache(self, cache_dir: Path) -> bytes:
        checkpoint = load_checkpoint(self._checkpoint_path)
        data: bytes = build_lite0(checkpoint.tensors).SerializeToString()
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            _write_atomic(self.model_path, data)
            digest = hashlib.sha256(data).hexdigest() + "\n"
            _write_atomic(_digest_path(self.model_path), digest.encode("ascii"))
        except OSError as err:
            raise ModelError(f"cannot cache the model in {cache_dir}: {err}") from err
        return data


def _digest_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name + ".sha256")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except OSError as err:
        raise ModelError(f"cannot read checkpoint {path}: {err}") from err
    return digest.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
