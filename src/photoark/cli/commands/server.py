"""``photoark server``: run the API server (embedded SQLite + blob dir by default)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from photoark.cli.output import fail

__all__ = ["default_server_dir", "server"]


def default_server_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "photoark-server"


def server(
    data: Annotated[Path | None, typer.Option(help="Data directory (database and blobs).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    database: Annotated[
        str | None, typer.Option(help="Database URL (postgresql://…); default SQLite in DATA.")
    ] = None,
    default_quota: Annotated[str, typer.Option(help="Quota of new accounts.")] = "10GiB",
    login_hash: Annotated[
        str, typer.Option(hidden=True, help="Argon2 limits of the login hash (interactive|min).")
    ] = "interactive",
    trash_days: Annotated[
        float, typer.Option(min=0, help="Days a trashed file is kept before it is deleted.")
    ] = 30.0,
    trash_sweep_seconds: Annotated[
        float, typer.Option(hidden=True, min=0.01, help="How often expired trash is deleted.")
    ] = 3600.0,
) -> None:
    """Run the photoark server in the foreground."""
    from photoark.server.config import ServerSettings, parse_size
    from photoark.server.runner import serve

    try:
        quota = parse_size(default_quota)
    except ValueError as err:
        fail(str(err), "sizes look like 10GiB, 500MB or 1TiB")
    if login_hash not in ("interactive", "min"):
        fail("--login-hash must be interactive or min")
    data_dir = (data or default_server_dir()).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = ServerSettings(
        data_dir=data_dir,
        database_url=database,
        host=host,
        port=port,
        default_quota=quota,
        login_hash=login_hash,  # type: ignore[arg-type]
        trash_days=trash_days,
        trash_sweep_seconds=trash_sweep_seconds,
    )
    serve(settings)
