"""Every command's help reads like a command line's: arguments as ``IDS...`` / ``[ALBUM]``,
flags without a value type (typer's own style showed ``{ids}...`` and ``--json <bool>``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from photoark.cli.main import COMMANDS, build_app


def _command_paths() -> Iterator[list[str]]:
    """Every command and subcommand, as the words typed after ``photoark``."""
    root = typer.main.get_command(build_app())

    def walk(command: Any, path: list[str]) -> Iterator[list[str]]:
        yield path
        if hasattr(command, "commands"):  # a group (typer may bring its own click)
            for name, sub in command.commands.items():
                if not sub.hidden:
                    yield from walk(sub, [*path, name])

    yield from walk(root, [])


PATHS = list(_command_paths())


def test_every_command_is_walked() -> None:
    assert {p[0] for p in PATHS if p} == set(COMMANDS)
    assert ["trash", "restore"] in PATHS and ["similar", "apply"] in PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "photoark")
def test_help_shows_no_type_placeholders(path: list[str]) -> None:
    result = CliRunner().invoke(build_app(), [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    # (`photoark server --help` is the server's own argparse help: `usage:`)
    usage = next(line for line in result.output.splitlines() if "usage:" in line.lower())
    assert "{" not in usage and "<" not in usage, usage
    assert "<bool>" not in result.output
    # flags are bare: `--json  Print one JSON document.`
    for flag in ("--help", "--json"):
        for line in result.output.splitlines():
            assert not re.search(rf"{flag}\s+<", line), line


def test_arguments_are_named_in_capitals() -> None:
    out = CliRunner().invoke(build_app(), ["delete", "--help"], env={"COLUMNS": "200"}).output
    assert re.search(r"Usage: \S+ delete \[OPTIONS\] FILES\.\.\.", out), out
    out = CliRunner().invoke(build_app(), ["ls", "--help"], env={"COLUMNS": "200"}).output
    assert re.search(r"Usage: \S+ ls \[OPTIONS\] \[ALBUM\]", out), out


def test_summaries_wrap_where_the_terminal_ends_not_where_the_docstring_did() -> None:
    """Rich keeps a docstring's line breaks: `photoark --help` broke `rm`'s summary after
    "no other album" whatever the width."""
    out = CliRunner().invoke(build_app(), ["--help"], env={"COLUMNS": "250"}).output
    rm = next(line for line in out.splitlines() if re.search(r"(^|\W)rm\s{2,}", line))
    assert "Remove files from one album" in rm and "goes to Uncategorized" in rm, rm
