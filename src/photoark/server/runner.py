"""Run the server in this process with uvicorn (used by the CLI and ``python -m``).

Shutdown (SIGINT/SIGTERM): uvicorn stops accepting, waits for open requests, and only then ends
the app's lifespan. A ``GET /events`` stream never ends by itself, so :class:`_Server` closes
the change feed (every stream ends at once, cleanly) as shutdown BEGINS; other requests get
:data:`GRACEFUL_SHUTDOWN_SECONDS` to finish before uvicorn cancels them.

The server process runs with umask 077: every file and directory it makes (database, blobs,
temporaries) is private to its user, on top of the explicit 0600/0700 modes of the app.

A start that fails for a reason the user can fix (the data directory cannot be written, the
database cannot be opened or reached, a blob store URL is wrong, its bucket cannot be reached or
its credentials are missing) raises :class:`ServerStartError` with a message; the
entry points print it without a traceback and exit with :data:`STARTUP_FAILURE`.
"""

from __future__ import annotations

import logging
import os
import socket
import sys

import sqlalchemy.exc
import uvicorn
from fastapi import FastAPI

from photoark.server.app import create_app
from photoark.server.blobs import BlobStoreError
from photoark.server.config import ServerSettings
from photoark.server.errors import StorageFull
from photoark.server.services import Services
from photoark.tuning import tune_allocator

__all__ = [
    "GRACEFUL_SHUTDOWN_SECONDS",
    "STARTUP_FAILURE",
    "ServerStartError",
    "build_server",
    "serve",
]

GRACEFUL_SHUTDOWN_SECONDS = 5
STARTUP_FAILURE = 3  # uvicorn's exit status when the server could not start


class ServerStartError(Exception):
    """The server could not start for a reason the message names (not a bug)."""


class _Server(uvicorn.Server):
    """uvicorn's server, ending the app's event streams when shutdown begins."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        services: Services = self._app.state.services
        services.events.close()
        await super().shutdown(sockets)


def build_server(app: FastAPI, host: str, port: int, log_level: str = "info") -> uvicorn.Server:
    """A uvicorn server for an app made by :func:`create_app` (``serve`` runs one; tests run
    one in a thread and stop it with ``should_exit``)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return _Server(config, app)


def serve(settings: ServerSettings, log_level: str = "info") -> None:
    """Serve the API on ``settings.host:settings.port`` until interrupted."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    tune_allocator()
    os.umask(0o077)  # the whole process serves private data: nothing it makes is for others
    try:
        app = create_app(settings)
    except BlobStoreError as err:
        raise ServerStartError(f"cannot use the blob store: {err.message}") from err
    except OSError as err:
        raise ServerStartError(f"cannot create or open the server's files: {err}") from err
    except StorageFull as err:  # the database could not even be migrated
        raise ServerStartError(f"cannot start: {err.message}; free some space") from err
    except (ValueError, sqlalchemy.exc.ArgumentError, sqlalchemy.exc.OperationalError) as err:
        raise ServerStartError(f"cannot open the database: {_first_line(err)}") from err
    server = build_server(app, settings.host, settings.port, log_level)
    server.run()
    if not server.started:  # e.g. the port is taken: fail as uvicorn.run does
        sys.exit(STARTUP_FAILURE)


def _first_line(err: Exception) -> str:
    """SQLAlchemy appends the statement and a documentation link on further lines."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
