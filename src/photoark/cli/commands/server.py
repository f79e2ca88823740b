"""``photoark server``: run the API server (embedded SQLite + blob dir by default).

The options are ``python -m photoark.server``'s, described once in
:mod:`photoark.server.options`: this command hands its arguments, untouched, to that module's
parser (which also answers ``--help``), so the server code is imported only when the command
runs, not when the CLI starts.

With neither ``--data`` nor ``--database``, when the client home (``PHOTOARK_HOME`` or the
default) has a local server that ``quickstart`` set up, this serves *that* data at *its* address
(unless ``--port`` is given), and says so: the account made by quickstart lives there, and a
fresh empty server on its port would turn every command into "invalid or revoked token". That
choice is made here, in the CLI: the server knows nothing of clients.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from photoark.cli.output import console, fail

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

    argv = list(args or [])
    if not _names_its_data(argv):
        argv = _local_server_args(argv)
    launch = parse_server_args(argv, prog=PROG)  # usage errors: message, exit 2
    try:
        serve(launch.settings, log_level=launch.log_level)
    except ServerStartError as err:
        fail(str(err), "check --data and --database", code=STARTUP_FAILURE)


def _given(argv: list[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in argv)


def _names_its_data(argv: list[str]) -> bool:
    asks_help = "-h" in argv or "--help" in argv
    return asks_help or _given(argv, "--data") or _given(argv, "--database")


def _local_server_args(argv: list[str]) -> list[str]:
    """``argv`` with the data dir and port of the home's local server put first, when the
    home has one (its account on it, or no account yet); else ``argv`` as it is."""
    from photoark.client.home import resolve_home
    from photoark.client.local.control import local_status
    from photoark.client.local.server import load_account, local_account_server
    from photoark.server.config import ServerSettings
    from photoark.server.options import default_server_dir

    home = resolve_home(None)
    local = local_account_server(home, load_account(home))
    if local is None:
        return argv
    default = default_server_dir().expanduser().resolve()
    default_db = Path(ServerSettings(data_dir=default).db_url.removeprefix("sqlite:///"))
    if default_db.exists() and default != local.data_dir:
        fail(
            f"two server data directories hold a database: {local.data_dir} (the local server "
            f"quickstart set up, client home {home.root}) and {default} (the default)",
            f"say which one to serve: photoark server --data {local.data_dir} (or photoark "
            f"local start), or photoark server --data {default}",
            code=2,
        )
    if local_status(home).running:  # two servers on one data dir would trip over each other
        pid = f"pid {local.pid}" if local.pid else "another process"
        fail(
            f"the local server's data ({local.data_dir}) is already served on {local.url} ({pid})",
            "use that server as it is, or stop it first (photoark local stop)",
        )
    port = [] if _given(argv, "--port") else ["--port", str(local.port)]
    console.print(
        f"serving the local server quickstart set up (client home {home.root}): data "
        f"{local.data_dir}, {f'port {local.port}' if port else 'the --port given'}; "
        "for a separate server, give it its own data: photoark server --data DIR",
        highlight=False,
        markup=False,
    )
    return ["--data", str(local.data_dir), *port, *argv]
