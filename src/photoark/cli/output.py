"""Printing for the CLI: JSON for scripts, rich text and progress for people, and the one place
where client errors become a message, a hint and an exit code."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from photoark.client.errors import (
    AuthFailed,
    ClientError,
    IntegrityFailure,
    NotLoggedIn,
    QuotaExceeded,
    ServerUnreachable,
)

__all__ = [
    "EXIT_CODES",
    "console",
    "emit_json",
    "fail",
    "handle_errors",
    "plural",
    "print_problem",
    "stderr",
]

console = Console()
stderr = Console(stderr=True)

EXIT_CODES: dict[type[ClientError], int] = {
    NotLoggedIn: 3,
    AuthFailed: 4,
    ServerUnreachable: 5,
    QuotaExceeded: 6,
    IntegrityFailure: 7,
}

F = TypeVar("F", bound=Callable[..., Any])


def emit_json(value: Any) -> None:
    # ASCII escapes: valid JSON on any terminal encoding, even for non-UTF-8 file names
    sys.stdout.write(json.dumps(value, ensure_ascii=True, indent=2) + "\n")
    sys.stdout.flush()


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``"1 file"``, ``"2 files"``, ``"1,234 files"``: a count with its noun agreeing
    (``nouns`` for an irregular plural: ``plural(n, "copy", "copies")``)."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


def print_problem(message: str, hint: str | None = "", label: str = "error") -> None:
    """Print ``message`` after a red ``label:`` and its ``hint`` below it, on stderr: how every
    error of the CLI reads (:func:`fail`), and a run's reason for stopping short."""
    stderr.print(f"[bold red]{label}:[/] {escape(message)}", highlight=False, markup=True)
    if hint:
        stderr.print(f"[yellow]hint:[/] {escape(hint)}", highlight=False)


def fail(message: str, hint: str = "", code: int = 1) -> NoReturn:
    print_problem(message, hint)
    raise typer.Exit(code)


def _exit_code(err: ClientError) -> int:
    for cls, code in EXIT_CODES.items():
        if isinstance(err, cls):
            return code
    return 1


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn client errors into a clear message, a hint and an exit code (never a traceback)."""
    try:
        yield
    except ClientError as err:
        fail(str(err), err.hint, _exit_code(err))
    except sqlite3.Error as err:
        fail(
            f"the local state database failed: {err}",
            "is another photoark command using this --home, or is the disk full?",
        )
    except KeyboardInterrupt:
        fail("interrupted; nothing is lost, run the same command again to resume", code=130)
