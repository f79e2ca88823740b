"""Embeddings for every photo in the library, made once and shared by every device.

An embedding is made from the photo's **thumbnail** (the upright ≤ 720 px JPEG a backup makes
and the server keeps, encrypted): any device can make one without the original, and decoding a
thumbnail costs a fraction of decoding a 12 MP JPEG. For the live photos that have none in the
local cache (:mod:`photoark.client.state.embeddings`), in this order:

1. **fetched**: another device made it: ``POST /embeddings/query``, opened with the file key;
2. **reused**: another file with the same content has one here (same thumbnail, same vector);
3. **computed**: the encrypted thumbnail is downloaded (a few in parallel), decrypted, decoded
   and fingerprinted (:mod:`photoark.ml.fingerprint`: its pHashes and how plain it is, from the
   same decoded picture, in the download threads), then run through the model in batches; a
   photo with no thumbnail or an undecodable one is recorded with its reason and not retried
   until asked.

The payload is the vector and the fingerprint together (:mod:`photoark.ml.codec`): the grouping
needs both for every photo, and whatever made one made the other.

Made or reused ones are sealed with each file's key and sent (``PUT /embeddings``); one that
cannot be sent yet (offline) stays marked unsent in the cache and goes with the next run, so no
computation is lost. ``cancel()`` is honoured between batches (the daemon's low priority).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from photoark.client.batches import in_batches
from photoark.client.errors import ApiError, ClientError, ModelUnavailable
from photoark.client.session import Session
from photoark.client.state.embeddings import NO_THUMBNAIL, EmbeddingCache, Missing
from photoark.crypto.boxes import open_box, seal
from photoark.crypto.errors import CryptoError
from photoark.crypto.stream import decrypt_bytes
from photoark.ml.codec import decode_embedding, encode_embedding
from photoark.ml.errors import ModelError
from photoark.ml.fingerprint import Fingerprint, fingerprint
from photoark.ml.identity import EMBEDDING_DIM, model_name
from photoark.ml.preprocess import load_image_bytes
from photoark.protocol.models import MAX_EMBEDDING_QUERY, EmbeddingItem

__all__ = ["EmbedReport", "ImageEmbedder", "embed_library", "embed_missing", "send_unsent"]

_BATCH: Final = 32  # thumbnails decoded and embedded per round (a cancel is seen between rounds)
_STEP: Final = 8  # images embedded per model call: progress moves this often
# embeddings per PUT: ~3.5 KB of JSON each, so ~450 KB, well under the server's 1 MiB body limit
_SEND: Final = 128


@dataclass(frozen=True)
class _Decoded:
    """A decoded thumbnail and its fingerprint, ready for the model."""

    image: Image.Image
    fingerprint: Fingerprint


class ImageEmbedder(Protocol):
    """What :func:`embed_missing` needs of a model (:class:`photoark.ml.EmbeddingModel`)."""

    @property
    def dim(self) -> int: ...

    def embed(self, images: Sequence[Image.Image]) -> npt.NDArray[np.float32]: ...


@dataclass
class EmbedReport:
    computed: int = 0  # embeddings made here, one per distinct content
    fetched: int = 0  # made by another device
    reused: int = 0  # files whose content already had one here
    sent: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)  # {"id", "name", "error"}

    def as_json(self) -> dict[str, Any]:
        return {
            "computed": self.computed,
            "fetched": self.fetched,
            "reused": self.reused,
            "sent": self.sent,
            "failed": self.failed,
        }


def embed_missing(
    session: Session,
    model_name: str,
    dim: int,
    load_model: Callable[[], ImageEmbedder],
    *,
    on_total: Callable[[int], None] = lambda n: None,
    on_done: Callable[[int], None] = lambda n: None,
    on_stage: Callable[[str], None] = lambda what: None,
    cancel: Callable[[], bool] = lambda: False,
    downloads: int = 4,
) -> EmbedReport:
    """Give every live photo an embedding of ``model_name`` (``dim`` values), or a recorded
    reason why it cannot have one. ``load_model`` is called only if something must be computed.
    ``on_total(n)`` once the work is known, then ``on_done(k)`` as files are settled;
    ``on_stage(what)`` says what is being done when it is not yet settling files (loading the
    model takes seconds the first time)."""
    cache = EmbeddingCache(session.db)
    report = EmbedReport()
    report.sent += send_unsent(session, model_name)
    missing = cache.missing(model_name)
    on_total(len(missing))
    if not missing:
        return report
    missing = _fetch(session, cache, model_name, dim, missing, report, on_done)
    missing = _reuse(session, cache, model_name, missing, report, on_done)
    if missing and not cancel():
        _compute(
            session,
            model_name,
            dim,
            load_model,
            missing,
            report,
            (on_done, on_stage),
            cancel,
            downloads,
        )
    report.sent += send_unsent(session, model_name)
    return report


def send_unsent(session: Session, model_name: str) -> int:
    """Send the embeddings made here that the server does not have yet; how many went."""
    cache = EmbeddingCache(session.db)
    sent = 0
    while rows := cache.unsent(model_name, _SEND):
        items = []
        for row in rows:
            library_file = session.mirror.file(row.file_id)
            if library_file is not None:
                items.append(
                    EmbeddingItem(file_id=row.file_id, data=seal(library_file.file_key, row.vector))
                )
        if items:
            items = _put(session, model_name, items)
        with session.db.transaction() as conn:
            EmbeddingCache.mark_sent(conn, model_name, [r.file_id for r in rows])
        sent += len(items)
    return sent


def _put(session: Session, model_name: str, items: list[EmbeddingItem]) -> list[EmbeddingItem]:
    """Send ``items``; those of files deleted for good meanwhile (the server names them in its
    404) are dropped and the rest sent again. Returns what the server took."""
    try:
        session.api.put_embeddings(model_name, items)
    except ApiError as err:
        ids = err.details.get("file_ids") if err.status == 404 else None
        gone = {int(i) for i in ids} if isinstance(ids, list) else set()
        if not gone:
            raise
        items = [i for i in items if i.file_id not in gone]
        if items:
            session.api.put_embeddings(model_name, items)
    return items


def _fetch(
    session: Session,
    cache: EmbeddingCache,
    model_name: str,
    dim: int,
    missing: list[Missing],
    report: EmbedReport,
    on_done: Callable[[int], None],
) -> list[Missing]:
    """Take what the server has (made by another device); returns the rest."""
    found: set[int] = set()
    for chunk in in_batches(missing, MAX_EMBEDDING_QUERY):
        items = session.api.query_embeddings(model_name, [m.file_id for m in chunk])
        rows: list[tuple[int, bytes]] = []
        for item in items:
            library_file = session.mirror.file(item.file_id)
            if library_file is None:
                continue
            try:
                vector = open_box(library_file.file_key, item.data)
                decode_embedding(vector, dim)
            except (CryptoError, ModelError):
                continue  # damaged or forged: made again here, and replaced on the server
            rows.append((item.file_id, vector))
        with session.db.transaction() as conn:
            EmbeddingCache.put(conn, model_name, rows, sent=True)
        found.update(file_id for file_id, _ in rows)
        report.fetched += len(rows)
        on_done(len(rows))
    return [m for m in missing if m.file_id not in found]


def _reuse(
    session: Session,
    cache: EmbeddingCache,
    model_name: str,
    missing: list[Missing],
    report: EmbedReport,
    on_done: Callable[[int], None],
) -> list[Missing]:
    """Files whose content already has an embedding here take it; returns the rest."""
    known = cache.by_hash(model_name, sorted({m.hash for m in missing}))
    rows = [(m.file_id, known[m.hash]) for m in missing if m.hash in known]
    if rows:
        with session.db.transaction() as conn:
            EmbeddingCache.put(conn, model_name, rows, sent=False)
        report.reused += len(rows)
        on_done(len(rows))
    return [m for m in missing if m.hash not in known]


def _compute(
    session: Session,
    model_name: str,
    dim: int,
    load_model: Callable[[], ImageEmbedder],
    missing: list[Missing],
    report: EmbedReport,
    progress: tuple[Callable[[int], None], Callable[[str], None]],
    cancel: Callable[[], bool],
    downloads: int,
) -> None:
    on_done, on_stage = progress
    by_hash: dict[str, list[Missing]] = {}
    for m in missing:
        by_hash.setdefault(m.hash, []).append(m)
    # one file per content: the one with a thumbnail, if any has one
    firsts = [max(group, key=lambda m: m.thumbnail_size > 0) for group in by_hash.values()]
    model: ImageEmbedder | None = None
    batches = [firsts[i : i + _BATCH] for i in range(0, len(firsts), _BATCH)]
    with ThreadPoolExecutor(max_workers=max(1, downloads)) as pool:

        def fetch(batch: list[Missing]) -> list[Future[_Decoded | str]]:
            return [pool.submit(_thumbnail_image, session, m) for m in batch]

        upcoming = fetch(batches[0]) if batches else []
        for n, batch in enumerate(batches):
            if cancel():
                for future in upcoming:
                    future.cancel()
                return
            loaded = [future.result() for future in upcoming]
            # the next batch downloads and decodes while this one is embedded
            upcoming = fetch(batches[n + 1]) if n + 1 < len(batches) else []
            ready = [
                (m, decoded)
                for m, decoded in zip(batch, loaded, strict=True)
                if not isinstance(decoded, str)
            ]
            failures = [
                (m, why) for m, why in zip(batch, loaded, strict=True) if isinstance(why, str)
            ]
            rows: list[tuple[int, bytes]] = []
            if ready:
                if model is None:
                    on_stage("loading the image model")
                    model = load_model()
                    on_stage("embedding photos")
                    if model.dim != dim:
                        raise ClientError(
                            f"the model makes {model.dim}-d embeddings, {dim} expected"
                        )
                for start in range(0, len(ready), _STEP):
                    step = ready[start : start + _STEP]
                    vectors = model.embed([decoded.image for _, decoded in step])
                    before = len(rows)
                    for (m, decoded), vector in zip(step, vectors, strict=True):
                        encoded = encode_embedding(vector, decoded.fingerprint)
                        rows.extend((same.file_id, encoded) for same in by_hash[m.hash])
                    on_done(len(rows) - before)
            failed = [(same.file_id, why) for m, why in failures for same in by_hash[m.hash]]
            with session.db.transaction() as conn:
                EmbeddingCache.put(conn, model_name, rows, sent=False)
                EmbeddingCache.put_failed(conn, model_name, failed)
            report.computed += len(ready)
            report.reused += len(rows) - len(ready)
            for file_id, why in failed:
                library_file = session.mirror.file(file_id)
                name = library_file.name if library_file is not None else ""
                report.failed.append({"id": file_id, "name": name, "error": why})
            on_done(len(failed))


def _thumbnail_image(session: Session, m: Missing) -> _Decoded | str:
    """The decoded thumbnail of ``m``'s file and its fingerprint, or why there is none
    (network errors raise)."""
    if m.thumbnail_size <= 0:
        return NO_THUMBNAIL
    library_file = session.mirror.file(m.file_id)
    if library_file is None:
        return "no longer in the library"
    try:
        data = decrypt_bytes(library_file.file_key, session.api.thumbnail(m.file_id))
        image = load_image_bytes(data, f"the thumbnail of {library_file.name!r}")
    except CryptoError:
        return "its thumbnail failed authentication (damaged or altered on the server)"
    except ModelError as err:
        return str(err)
    except ApiError as err:
        if err.status == 404:
            return NO_THUMBNAIL
        raise
    return _Decoded(image, fingerprint(image))


def embed_library(
    session: Session,
    *,
    threads: int = 2,
    on_total: Callable[[int], None] = lambda n: None,
    on_done: Callable[[int], None] = lambda n: None,
    on_stage: Callable[[str], None] = lambda what: None,
    cancel: Callable[[], bool] = lambda: False,
) -> EmbedReport:
    """Give every live photo of the (already synced) library an embedding (see
    :func:`embed_missing`); the model is built or loaded from ``<home>/models`` only if needed."""
    name, dim = model_name(), EMBEDDING_DIM

    def load() -> ImageEmbedder:
        from photoark.ml.model import EmbeddingModel

        try:
            return EmbeddingModel(session.home.models_dir, threads=threads)
        except ModelError as err:
            raise ModelUnavailable(f"the image model cannot be loaded: {err}") from err

    return embed_missing(
        session,
        name,
        dim,
        load,
        on_total=on_total,
        on_done=on_done,
        on_stage=on_stage,
        cancel=cancel,
    )
