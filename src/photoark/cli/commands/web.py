"""``photoark web``: the library, the reviews, free-up, trash and status in a local browser."""

from __future__ import annotations

import json
import sys
import webbrowser
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of, state_of
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

    When the daemon serves the app (`photoark config set web.enabled true`), or another
    `photoark web` runs for this home, prints a new link to that one and exits. Photos are
    decrypted here, on this machine, with this device's keys: the browser talks to this
    process only, and the server still sees nothing."""
    from photoark.web.runner import WebOptions, running_app_link, serve

    def announce(url: str) -> None:
        if json_output:
            print(json.dumps({"url": url}), flush=True)
        else:
            console.print(f"photoark web: open {url}", highlight=False, soft_wrap=True)
            console.print("(the link works once; Ctrl-C stops the app)", highlight=False)
        sys.stdout.flush()

    with handle_errors():
        with state_of(home) as db:
            link = running_app_link(db)
        if link is not None:  # the daemon (or another `photoark web`) serves it already
            announce(link)
            if not no_open:
                webbrowser.open(link)
            return
        serve(home_of(home), WebOptions(host, port, not no_open), announce)
