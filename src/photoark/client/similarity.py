"""Similar photos on this client: the library's embeddings, then the groups.

This wires the on-device model (:mod:`photoark.ml`, imported only when used: onnxruntime is
slow to import) to the embedder and the grouping, for ``photoark similar`` and the daemon.
"""

from __future__ import annotations

from collections.abc import Callable

from photoark.client import sync
from photoark.client.embedder import EmbedReport, ImageEmbedder, embed_missing
from photoark.client.errors import ModelUnavailable
from photoark.client.session import Session
from photoark.ml.identity import EMBEDDING_DIM, model_name
from photoark.optimize.neighbours import IndexParams
from photoark.optimize.similar import DEFAULT_THRESHOLD, SimilarScan, find_similar

__all__ = ["embed_library", "scan_similar"]


def embed_library(
    session: Session,
    *,
    threads: int = 2,
    on_total: Callable[[int], None] = lambda n: None,
    on_done: Callable[[int], None] = lambda n: None,
    cancel: Callable[[], bool] = lambda: False,
) -> EmbedReport:
    """Give every live photo of the (already synced) library an embedding (see
    :mod:`.embedder`); the model is built or loaded from ``<home>/models`` only if needed."""
    name, dim = model_name(), EMBEDDING_DIM

    def load() -> ImageEmbedder:
        from photoark.ml.errors import ModelError
        from photoark.ml.model import EmbeddingModel

        try:
            return EmbeddingModel(session.home.models_dir, threads=threads)
        except ModelError as err:
            raise ModelUnavailable(f"the image model cannot be loaded: {err}") from err

    return embed_missing(
        session, name, dim, load, on_total=on_total, on_done=on_done, cancel=cancel
    )


def scan_similar(
    session: Session,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    on_total: Callable[[int], None] = lambda n: None,
    on_done: Callable[[int], None] = lambda n: None,
    params: IndexParams = IndexParams(),
) -> tuple[SimilarScan, EmbedReport]:
    """Sync, make the missing embeddings, then group the whole library."""
    sync.pull(session)
    report = embed_library(session, on_total=on_total, on_done=on_done)
    scan = find_similar(session.db, session.mirror, model_name(), EMBEDDING_DIM, threshold, params)
    return scan, report
