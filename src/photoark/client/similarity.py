"""Similar photos on this client: the library's embeddings, then the groups.

This wires the on-device model (:mod:`photoark.ml`, imported only when used: onnxruntime is
slow to import) to the embedder and the grouping, for ``photoark similar`` and the daemon.
"""

from __future__ import annotations

from collections.abc import Callable

from photoark.client import sync
from photoark.client.embedder import EmbedReport, ImageEmbedder, embed_missing
from photoark.client.session import Session
from photoark.optimize.neighbours import IndexParams
from photoark.optimize.similar import DEFAULT_THRESHOLD, SimilarScan, find_similar

__all__ = ["embed_library", "scan_similar"]


def _model_identity() -> tuple[str, int]:
    from photoark.ml.graph import EMBEDDING_DIM
    from photoark.ml.model import model_name

    return model_name(), EMBEDDING_DIM


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
    name, dim = _model_identity()

    def load() -> ImageEmbedder:
        from photoark.ml.model import EmbeddingModel

        return EmbeddingModel(session.home.models_dir, threads=threads)

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
    name, dim = _model_identity()
    return find_similar(session.db, session.mirror, name, dim, threshold, params), report
