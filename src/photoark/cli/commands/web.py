"""``photoark web``: the library, the reviews, free-up, trash and status in a local browser."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, handle_errors

__all__ = ["web_command"]


def web_command(
    host: Annotated[
        str, typer.Option("--host", help="Address to serve (loopback keeps it on this machine).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free one).", min=0)] = 8421,
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a browser.")] = False,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Serve the web app in the foreground until Ctrl-C. Prints a one-time login link.

    Photos are decrypted here, on this machine, with this device's keys: the browser talks to
    this process only, and the server still sees nothing."""
    from photoark.web.runner import WebOptions, serve

    def announce(url: str) -> None:
        if json_output:
            print(json.dumps({"url": url}), flush=True)
        else:
            console.print(f"photoark web: open {url}", highlight=False, soft_wrap=True)
            console.print("(the link works once; Ctrl-C stops the app)", highlight=False)
        sys.stdout.flush()

    with handle_errors():
        serve(home_of(home), WebOptions(host, port, not no_open), announce)
