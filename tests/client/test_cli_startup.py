"""The CLI imports only what the command being run needs: start-up is most of an unchanged
re-run (bench/rescan_unchanged.py). Each check runs a fresh interpreter, as a user's shell does."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from photoark.cli.main import COMMANDS, UNUSED_OPTIONAL_IMPORTS, _command_of, build_app


def _run(argv: list[str]) -> dict[str, Any]:
    """The modules loaded (not marked absent) once ``photoark ARGV`` has run, and how many
    objects the cycle collector was told to leave alone."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from photoark.cli.main import main
        sys.argv = ["photoark", *{argv!r}]
        try:
            main()
        except SystemExit:
            pass
        import gc
        loaded = [n for n, m in sys.modules.items() if m is not None]
        sys.stderr.write(json.dumps({{"modules": loaded, "frozen": gc.get_freeze_count()}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    found: dict[str, Any] = json.loads(done.stderr.strip().splitlines()[-1])
    return found


def _modules_after(argv: list[str]) -> set[str]:
    return set(_run(argv)["modules"])


def test_a_command_loads_its_own_module_only() -> None:
    loaded = _modules_after(["backup", "--help"])
    assert "photoark.cli.commands.backup" in loaded
    others = {f"photoark.cli.commands.{module}" for module, _ in COMMANDS.values()}
    assert loaded & others == {"photoark.cli.commands.backup"}
    # nor what only other commands use: the ML stack, the daemon, the server
    assert not {"photoark.optimize", "photoark.client.daemon.daemon", "photoark.server"} & loaded
    assert "onnxruntime" not in loaded
    assert "PIL" not in loaded  # the decoders load when a file is described, not at start-up


def test_optional_modules_our_dependencies_probe_for_are_not_loaded() -> None:
    loaded = _modules_after(["backup", "--help"])
    assert "httpx" in loaded  # the backup path does load the HTTP client…
    assert not set(UNUSED_OPTIONAL_IMPORTS) & loaded  # …without what it would probe for


def test_what_start_up_imported_is_frozen_out_of_the_collector() -> None:
    assert _run(["backup", "--help"])["frozen"] > 10_000  # modules, classes, functions


def test_help_still_lists_every_command() -> None:
    app = build_app()
    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert names == set(COMMANDS)


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["backup", "/photos", "--json"], "backup"),
        (["--home", "x", "ls"], None),  # options before the command are not ours: all loaded
        (["free-up-space", "--dry-run"], "free-up-space"),
        (["no-such-command"], None),
        ([], None),
    ],
)
def test_command_of(argv: list[str], command: str | None) -> None:
    assert _command_of(argv) == command
