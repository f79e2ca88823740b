"""The photoark API server: stores ciphertext and metadata, never holds user keys.

Entry points: :func:`photoark.server.app.create_app` (ASGI app for settings),
:func:`photoark.server.runner.serve` (run with uvicorn), ``python -m photoark.server``.
Rooms: ``api/`` routes, ``services/`` domain rules, ``store/`` SQL, ``blobs/`` file bytes.
"""

from photoark.server.config import ServerSettings, parse_size

__all__ = ["ServerSettings", "parse_size"]
