"""Options shared by several commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from photoark.client.home import ClientHome, resolve_home

__all__ = ["HomeOption", "JsonOption", "home_of", "read_password"]

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


def read_password(from_stdin: bool, confirm: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    if not password:
        raise typer.BadParameter("the password must not be empty")
    return password
