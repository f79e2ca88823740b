"""``python -m photoark.server [--data DIR] [--port P] ...``: start a server without the CLI.

End-to-end tests and the client's local server (``client/local/server.py``) spawn real server
processes this way. The options are ``photoark server``'s, from :mod:`photoark.server.options`.
"""

from __future__ import annotations

import sys

from photoark.server.options import parse_server_args
from photoark.server.runner import STARTUP_FAILURE, ServerStartError, serve

__all__ = ["PROG", "main"]

PROG = "python -m photoark.server"


def main(argv: list[str] | None = None) -> None:
    launch = parse_server_args(argv, prog=PROG)
    try:
        serve(launch.settings, log_level=launch.log_level)
    except ServerStartError as err:
        sys.stderr.write(f"{PROG}: error: {err}\n")
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
