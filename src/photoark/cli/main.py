"""The ``photoark`` Typer application: registers one command per module.

Only the module of the command being run is imported (``photoark backup`` does not load the
daemon, doctor or similar-photo code); ``photoark`` alone or ``--help`` loads them all to list
them. Start-up is most of an unchanged re-run's second (bench/rescan_unchanged.py).
"""

from __future__ import annotations

import gc
import importlib
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import Annotated, Final

import typer

import photoark
from photoark.cli.options import HelpCommand, plain_help

__all__ = ["COMMANDS", "build_app", "main"]

# Optional modules our dependencies import eagerly when they happen to be installed, and that
# photoark never uses: httpcore loads trio for async code (our client is synchronous; ~50 ms),
# httpx loads its own command line (click, rich, pygments; ~18 ms). Marked absent in the
# CLI's process only, before anything imports httpx.
UNUSED_OPTIONAL_IMPORTS: Final = ("trio", "httpx._main")

# command name -> (module under photoark.cli.commands, the command function or Typer app)
COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "server": ("server", "server"),
    "local": ("local", "local_app"),
    "quickstart": ("quickstart", "quickstart"),
    "signup": ("account", "signup"),
    "login": ("account", "login"),
    "logout": ("account", "logout"),
    "sessions": ("sessions", "sessions_app"),
    "backup": ("backup", "backup_command"),
    "sync": ("library", "sync"),
    "albums": ("albums", "albums_app"),
    "add": ("albums", "add_command"),
    "ls": ("library", "ls"),
    "export": ("export", "export_command"),
    "usage": ("library", "usage"),
    "watch": ("watch", "watch_app"),
    "daemon": ("daemon", "daemon_command"),
    "status": ("status", "status_command"),
    "config": ("config", "config_app"),
    "dedup": ("dedup", "dedup_command"),
    "similar": ("similar", "similar_app"),
    "free-up-space": ("freeup", "free_up_command"),
    "devices": ("devices", "devices_command"),
    "import": ("importdevice", "import_command"),
    "trash": ("trash", "trash_app"),
    "rm": ("trash", "rm_command"),
    "delete": ("trash", "delete_command"),
    "doctor": ("doctor", "doctor_command"),
    "web": ("web", "web_command"),
}


def build_app(names: Iterable[str] | None = None) -> typer.Typer:
    """The application with the commands ``names`` (default: every command)."""
    app = typer.Typer(
        name="photoark",
        help="Self-hosted, end-to-end encrypted backup for photos and videos.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _group(
        version: Annotated[
            bool,
            typer.Option(
                "--version",
                is_eager=True,
                callback=_print_version,
                help="Print photoark's version and exit.",
            ),
        ] = False,
    ) -> None:
        # a group even with one command registered (Typer would run a lone command directly);
        # no docstring: the help is the app's
        pass

    for name in COMMANDS if names is None else names:
        module, attribute = COMMANDS[name]
        target = getattr(importlib.import_module(f"photoark.cli.commands.{module}"), attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name, cls=HelpCommand)(target)
    # help reads `IDS...` and `--json`, not `{ids}...` and `--json <bool>` (typer's own style)
    return plain_help(app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"photoark {photoark.__version__}")
        raise typer.Exit()


def _command_of(args: Sequence[str]) -> str | None:
    """The command named on the command line (its first word), if it is one of ours."""
    first = next((a for a in args if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def _skip_unused_optional_imports() -> None:
    for name in UNUSED_OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "not installed"


def main() -> None:
    _skip_unused_optional_imports()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    command = _command_of(sys.argv[1:])
    app = build_app(None if command is None else [command])
    # what the imports made lives as long as the process: out of the cycle collector's sight,
    # its full passes walk only what the command makes (an unchanged re-run of 20 000 files
    # builds ~30 000 objects on top of ~45 000 from imports)
    gc.freeze()
    app()


if __name__ == "__main__":
    main()
