"""The embedding cache's fingerprints: read from the payloads' ends, by id, for one model, in
chunks; a file with no embedding, a failure or a payload that is not one is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from photoark.client.state.db import StateDB
from photoark.client.state.embeddings import EmbeddingCache
from photoark.ml.codec import decode_fingerprint
from tests.ml.builders import a_fingerprint, encoded


def test_fingerprints_of_some_files(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    vector = np.ones(16, dtype=np.float32) / 4
    rows = [(i, encoded(vector, seed=i)) for i in range(1, 1201)]
    damaged = bytearray(encoded(vector, seed=2000))
    damaged[0] ^= 1
    with db.transaction() as conn:
        EmbeddingCache.put(conn, "m", rows, sent=True)
        EmbeddingCache.put(conn, "m", [(2000, bytes(damaged)), (2001, b"short")], sent=True)
        EmbeddingCache.put(conn, "other", [(5, encoded(vector, seed=99))], sent=True)
        EmbeddingCache.put_failed(conn, "m", [(3000, "no thumbnail on the server")])
    cache = EmbeddingCache(db)
    ids = [*range(1, 1201), 2000, 2001, 3000, 4000]
    found = cache.fingerprints_of("m", ids)
    assert sorted(found) == list(range(1, 1201))  # more than one chunk of 500
    assert all(found[i] == a_fingerprint(i) for i in (1, 500, 501, 1200))
    assert found[7] == decode_fingerprint(rows[6][1])
    assert cache.fingerprints_of("other", [5, 6]) == {5: a_fingerprint(99)}
    assert cache.fingerprints_of("m", []) == {}
    db.close()
