"""``photoark signup`` / ``login`` / ``logout``."""

from __future__ import annotations

from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of, read_password
from photoark.cli.output import console, emit_json, handle_errors
from photoark.client import auth
from photoark.client.transport import server_url
from photoark.crypto.keys import ARGON2_MIN, ARGON2_MODERATE, Argon2Limits

__all__ = ["login", "logout", "signup"]

ServerOption = Annotated[
    str, typer.Option("--server", help="Server URL, e.g. http://127.0.0.1:8080")
]
EmailOption = Annotated[str, typer.Option("--email", help="Account email.")]
KdfOption = Annotated[
    str,
    typer.Option(
        hidden=True,
        help="Argon2 cost made at signup, and the lowest accepted at login: moderate or min.",
    ),
]
StdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _limits(kdf: str) -> Argon2Limits:
    """``min`` is for tests only (cheap Argon2); anything else is the real cost."""
    return ARGON2_MIN if kdf == "min" else ARGON2_MODERATE


def signup(
    server: ServerOption,
    email: EmailOption,
    password_stdin: StdinOption = False,
    home: HomeOption = None,
    json_output: JsonOption = False,
    kdf: KdfOption = "moderate",
) -> None:
    """Create an account; keys are made on this device and never sent in clear."""
    with handle_errors():  # a mistyped address is said before the password is asked
        server = server_url(server)
    password = read_password(password_stdin, confirm=not password_stdin)
    with handle_errors():
        account, recovery = auth.signup(home_of(home), server, email, password, _limits(kdf))
    if json_output:
        emit_json({"user_id": account.user_id, "email": email, "recovery_key": recovery.hex()})
        return
    console.print(f"Signed up as [bold]{email}[/] on {account.server}.")
    console.print(
        "Recovery key (write it down; it is the only way back in without the password):\n"
        f"  [bold]{recovery.hex()}[/]"
    )


def login(
    server: ServerOption,
    email: EmailOption,
    password_stdin: StdinOption = False,
    home: HomeOption = None,
    json_output: JsonOption = False,
    kdf: KdfOption = "moderate",
) -> None:
    """Log in on this device."""
    with handle_errors():
        server = server_url(server)
    password = read_password(password_stdin, confirm=False)
    with handle_errors():
        account = auth.login(home_of(home), server, email, password, _limits(kdf))
    if json_output:
        emit_json({"user_id": account.user_id, "email": email})
    else:
        console.print(f"Logged in as [bold]{email}[/] on {account.server}.")


def logout(home: HomeOption = None) -> None:
    """Log out: revoke this device's token."""
    with handle_errors():
        done = auth.logout(home_of(home))
    console.print("Logged out." if done else "Not logged in.")
