"""Run the server in this process with uvicorn (used by the CLI and ``python -m``)."""

from __future__ import annotations

import logging

import uvicorn

from photoark.server.app import create_app
from photoark.server.config import ServerSettings
from photoark.tuning import tune_allocator

__all__ = ["serve"]


def serve(settings: ServerSettings, log_level: str = "info") -> None:
    """Serve the API on ``settings.host:settings.port`` until interrupted."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    tune_allocator()
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level)
