"""``photoark config set|get|ls``: settings of this client (stored in its state DB)."""

from __future__ import annotations

from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, state_of
from photoark.cli.output import console, emit_json, handle_errors
from photoark.client.settings import SETTINGS, Settings

__all__ = ["config_app"]

config_app = typer.Typer(help="Settings of this client.", no_args_is_help=True)


@config_app.command("set")
def set_(
    key: Annotated[str, typer.Argument(help="e.g. upload.on_metered")],
    value: Annotated[str, typer.Argument(help="e.g. true")],
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Change a setting (the daemon picks it up within seconds)."""
    with handle_errors(), state_of(home) as db:
        stored = Settings(db).set(key, value)
    if json_output:
        emit_json({key: stored})
    else:
        console.print(f"{key} = {stored!r}", highlight=False)


@config_app.command("get")
def get(
    key: Annotated[str, typer.Argument()],
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print one setting."""
    with handle_errors(), state_of(home) as db:
        value = Settings(db).get(key)
    if json_output:
        emit_json({key: value})
    else:
        console.print(repr(value), highlight=False)


@config_app.command("ls")
def ls(home: HomeOption = None, json_output: JsonOption = False) -> None:
    """List every setting with its value."""
    with handle_errors(), state_of(home) as db:
        values = Settings(db).all()
    if json_output:
        emit_json(values)
        return
    for key, value in values.items():
        console.print(f"{key} = {value!r}    [dim]{SETTINGS[key].help}[/]", highlight=False)
