"""``photoark sessions ls|revoke``: the account's logins (one per device that logged in) and
revoking one, e.g. a lost phone's."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from photoark.cli.options import HomeOption, JsonOption, home_of
from photoark.cli.output import console, emit_json, handle_errors
from photoark.client.session import Session

__all__ = ["sessions_app"]

sessions_app = typer.Typer(
    help="The account's logins on every device: list them, revoke one.", no_args_is_help=True
)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


@sessions_app.command("ls")
def ls(home: HomeOption = None, json_output: JsonOption = False) -> None:
    """List the account's logins: when each was made and last used (to the hour), and when it
    expires if unused."""
    with handle_errors(), Session.open(home_of(home)) as session:
        listed = session.api.sessions()
    if json_output:
        emit_json(listed.model_dump(mode="json"))
        return
    for item in listed.sessions:
        mine = "  (this device)" if item.current else ""
        console.print(
            f"#{item.id}  logged in {_when(item.created_at)}, last used {_when(item.last_used_at)}"
            f", expires {_when(item.expires_at)} if unused{mine}",
            highlight=False,
        )
    days = listed.token_idle_days
    if days:
        console.print(f"a login unused for {days:g} {'day' if days == 1 else 'days'} stops working")


@sessions_app.command("revoke")
def revoke(
    session_id: Annotated[int, typer.Argument(help="A login's id (see `photoark sessions ls`).")],
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Revoke one login: that device is logged out at once (its open change stream ends too)."""
    with handle_errors(), Session.open(home_of(home)) as session:
        current = any(s.current and s.id == session_id for s in session.api.sessions().sessions)
        session.api.revoke_session(session_id)
    if json_output:
        emit_json({"revoked": session_id, "current": current})
        return
    console.print(f"revoked login #{session_id}", highlight=False)
    if current:
        console.print("that was this device's login: run `photoark login` to use it again")
