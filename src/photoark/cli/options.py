"""Options shared by several commands, and how every command's help shows its parameters."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import DefaultPlaceholder

from photoark.client.home import ClientHome, resolve_home
from photoark.client.state import StateDB

__all__ = [
    "HelpCommand",
    "HelpGroup",
    "HomeOption",
    "JsonOption",
    "VerifyDownloadOption",
    "home_of",
    "plain_help",
    "read_password",
    "state_of",
]

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
VerifyDownloadOption = Annotated[
    bool,
    typer.Option(
        "--verify-download", help="Download and decrypt each server copy before deleting."
    ),
]


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


# -- help -------------------------------------------------------------------------------------


def _plain(param: Any) -> None:
    """Arguments named ``IDS...`` / ``ALBUM``; flags without a value type (``<bool>``)."""
    if param.metavar is not None:
        return
    if isinstance(param, TyperArgument):
        param.metavar = (param.name or "arg").upper() + ("..." if param.nargs != 1 else "")
    elif isinstance(param, TyperOption) and param.is_flag and not param.count:
        param.metavar = ""


def _plain_all(params: list[Any]) -> list[Any]:
    """``params``, each shown plainly (:func:`_plain`): what commands and groups share."""
    for param in params:
        _plain(param)
    return params


def _usage(command: TyperCommand, ctx: Any) -> list[str]:
    """``[OPTIONS] IDS...``, ``[OPTIONS] [ALBUM]``: an optional argument in brackets."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = param.metavar or (param.name or "arg").upper()
            pieces.append(name if param.required else f"[{name}]")
        else:
            pieces.extend(param.get_usage_pieces(ctx))
    return pieces


def _reflowed(text: str | None) -> str | None:
    """Each paragraph of a docstring on one line, for rich to wrap (it keeps line breaks: a
    command list broke summaries mid-sentence); a ``\\b`` paragraph is kept as it is."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


class HelpCommand(TyperCommand):
    """A command whose help reads ``Usage: photoark delete [OPTIONS] FILES...``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _reflowed(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_all(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage(self, ctx)


class HelpGroup(TyperGroup):
    """A group (``photoark``, ``photoark albums``): its options' help reads like its
    commands' (groups take no arguments)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _reflowed(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_all(super().get_params(ctx))


def _default_group(cls: object) -> bool:
    return cls is None or cls is TyperGroup or isinstance(cls, DefaultPlaceholder)


def plain_help(app: typer.Typer) -> typer.Typer:
    """Make every command and group of ``app`` (sub-apps too) show its help as above; returns
    ``app``. Commands given a class of their own keep it."""
    if _default_group(app.info.cls):
        app.info.cls = HelpGroup
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):  # typer's default, given or not
            command.cls = HelpCommand
    for group in app.registered_groups:
        if _default_group(group.cls):
            group.cls = HelpGroup
        if isinstance(group.typer_instance, typer.Typer):
            plain_help(group.typer_instance)
    return app
