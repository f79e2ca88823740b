"""The ``photoark`` Typer application: registers one command per module."""

from __future__ import annotations

import logging

import typer

from photoark.cli.commands.account import login, logout, signup
from photoark.cli.commands.albums import add_command, albums_app
from photoark.cli.commands.backup import backup_command
from photoark.cli.commands.config import config_app
from photoark.cli.commands.daemon import daemon_command
from photoark.cli.commands.dedup import dedup_command
from photoark.cli.commands.doctor import doctor_command
from photoark.cli.commands.export import export_command
from photoark.cli.commands.freeup import free_up_command
from photoark.cli.commands.library import ls, sync, usage
from photoark.cli.commands.quickstart import quickstart
from photoark.cli.commands.server import server
from photoark.cli.commands.similar import similar_app
from photoark.cli.commands.status import status_command
from photoark.cli.commands.trash import delete_command, rm_command, trash_app
from photoark.cli.commands.watch import watch_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="photoark",
    help="Self-hosted, end-to-end encrypted backup for photos and videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("server")(server)
app.command("quickstart")(quickstart)
app.command("signup")(signup)
app.command("login")(login)
app.command("logout")(logout)
app.command("backup")(backup_command)
app.command("sync")(sync)
app.add_typer(albums_app, name="albums")
app.command("add")(add_command)
app.command("ls")(ls)
app.command("export")(export_command)
app.command("usage")(usage)
app.add_typer(watch_app, name="watch")
app.command("daemon")(daemon_command)
app.command("status")(status_command)
app.add_typer(config_app, name="config")
app.command("dedup")(dedup_command)
app.add_typer(similar_app, name="similar")
app.command("free-up-space")(free_up_command)
app.add_typer(trash_app, name="trash")
app.command("rm")(rm_command)
app.command("delete")(delete_command)
app.command("doctor")(doctor_command)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
