"""Options shared by several commands."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from photoark.client.home import ClientHome, resolve_home
from photoark.client.state import StateDB

__all__ = ["HomeOption", "JsonOption", "home_of", "read_password", "state_of"]

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar="PHOTOARK_HOME",
        help="Client state directory (one per device). Default: $XDG_DATA_HOME/photoark.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def home_of(home: Path | None) -> ClientHome:
    return resolve_home(home)


@contextmanager
def state_of(home: Path | None) -> Iterator[StateDB]:
    """The home's state DB, for commands that need no server (watches, settings, status)."""
    db = StateDB(home_of(home).ensure().state_db)
    try:
        yield db
    finally:
        db.close()


def read_password(from_stdin: bool, confirm: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    if not password:
        raise typer.BadParameter("the password must not be empty")
    return password
