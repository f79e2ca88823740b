"""``photoark local start|stop|status``: the local server quickstart set up (being written)."""

from __future__ import annotations

import typer

__all__ = ["local_app"]

local_app = typer.Typer(help="Start, stop and show the local server quickstart set up.")
