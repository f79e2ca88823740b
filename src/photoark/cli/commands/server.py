"""``photoark server``: run the API server (embedded SQLite + blob dir by default).

The options are ``python -m photoark.server``'s, described once in
:mod:`photoark.server.options`: this command hands its arguments, untouched, to that module's
parser (which also answers ``--help``), so the server code is imported only when the command
runs, not when the CLI starts.
"""

from __future__ import annotations

from typing import Annotated

import typer

from photoark.cli.output import fail

__all__ = ["PROG", "server"]

PROG = "photoark server"

# A group only so that it can take every argument as is (Typer applies context settings to the
# group it makes of a Typer app, not to a command registered by name); it has no subcommands.
server = typer.Typer(
    help="Run the photoark server in the foreground.",
    invoke_without_command=True,
    no_args_is_help=False,
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
)


@server.callback()
def run_server(
    args: Annotated[list[str] | None, typer.Argument(hidden=True, metavar="[OPTIONS]")] = None,
) -> None:
    """Run the photoark server in the foreground."""
    from photoark.server.options import parse_server_args
    from photoark.server.runner import STARTUP_FAILURE, ServerStartError, serve

    launch = parse_server_args(args or [], prog=PROG)  # usage errors: message, exit 2
    try:
        serve(launch.settings, log_level=launch.log_level)
    except ServerStartError as err:
        fail(str(err), "check --data and --database", code=STARTUP_FAILURE)
