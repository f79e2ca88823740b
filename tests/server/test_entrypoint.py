"""The two server entry points, ``photoark server`` and ``python -m photoark.server``, take the
same options (one table, :data:`photoark.server.options.SERVER_OPTIONS`), with the same defaults
and help; each option reaches :class:`ServerSettings`; a bad value is a clear usage error."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from photoark.cli.main import build_app
from photoark.server import __main__ as server_main
from photoark.server import runner
from photoark.server.config import ServerSettings
from photoark.server.options import (
    SERVER_OPTIONS,
    ServerLaunch,
    build_parser,
    default_server_dir,
    parse_server_args,
)

PYTHON_M = [sys.executable, "-m", "photoark.server"]
PHOTOARK = [sys.executable, "-m", "photoark.cli.main", "server"]
ENTRIES = {"python -m photoark.server": PYTHON_M, "photoark server": PHOTOARK}


def _run(command: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, env={**os.environ}
    )


def _launch_python_m(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> ServerLaunch:
    seen: list[ServerLaunch] = []
    monkeypatch.setattr(
        server_main,
        "serve",
        lambda settings, log_level: seen.append(ServerLaunch(settings, log_level)),
    )
    server_main.main(argv)
    (launch,) = seen
    return launch


def _launch_cli(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> ServerLaunch:
    seen: list[ServerLaunch] = []
    monkeypatch.setattr(
        runner, "serve", lambda settings, log_level: seen.append(ServerLaunch(settings, log_level))
    )
    result = CliRunner().invoke(build_app(["server"]), ["server", *argv])
    assert result.exit_code == 0, result.output
    (launch,) = seen
    return launch


# -- one set of options ----------------------------------------------------------------------


def _help_options(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", help_text))


def _options_section(help_text: str) -> str:
    return help_text[help_text.index("options:") :]


def test_both_help_texts_list_the_same_options_with_the_same_help() -> None:
    helps = {}
    for name, command in ENTRIES.items():
        done = _run(command, "--help")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: {name} "), done.stdout
        helps[name] = done.stdout
    python_m, photoark = helps.values()
    visible = {o.flag for o in SERVER_OPTIONS if not o.hidden} | {"--help"}
    assert _help_options(python_m) == _help_options(photoark) == visible
    assert _options_section(python_m) == _options_section(photoark)  # defaults and help too
    for flag in ("--upload-expiry", "--gc-interval", "--log-level", "--trash-sweep-seconds"):
        assert flag in photoark  # once only in python -m


def test_the_parser_has_exactly_the_table_s_options() -> None:
    parser = build_parser("x")
    flags = {s for action in parser._actions for s in action.option_strings}
    assert flags == {o.flag for o in SERVER_OPTIONS} | {"-h", "--help"}


def test_every_settings_field_a_user_may_set_has_an_option() -> None:
    # tuning for tests only
    internal = {"events_poll_seconds", "events_heartbeat_seconds", "replication_health_seconds"}
    fields = {f.name for f in dataclasses.fields(ServerSettings)} - internal
    assert fields | {"log_level"} == {o.field for o in SERVER_OPTIONS}


# -- each option reaches the settings, the same way through both entry points ----------------

# option -> (text given, the ServerSettings/ServerLaunch field, the value expected there)
EXAMPLES: dict[str, tuple[str, str, Any]] = {
    "--host": ("0.0.0.0", "host", "0.0.0.0"),
    "--port": ("9191", "port", 9191),
    "--database": ("sqlite:////tmp/x.db", "database_url", "sqlite:////tmp/x.db"),
    "--default-quota": ("1.5KiB", "default_quota", 1536),
    "--login-hash": ("min", "login_hash", "min"),
    "--upload-expiry": ("120", "upload_expiry_seconds", 120),
    "--gc-interval": ("2.5", "gc_interval_seconds", 2.5),
    "--trash-days": ("0.5", "trash_days", 0.5),
    "--trash-sweep-seconds": ("0.25", "trash_sweep_seconds", 0.25),
    "--log-level": ("debug", "log_level", "debug"),
    "--sweep-grace": ("0", "sweep_grace_seconds", 0.0),
    "--body-timeout": ("1.5", "body_idle_seconds", 1.5),
    "--bodies-per-account": ("2", "bodies_per_account", 2),
    "--login-workers": ("3", "login_hash_workers", 3),
    "--login-wait": ("0.5", "login_wait_seconds", 0.5),
    "--token-idle-days": ("0", "token_idle_days", 0.0),
    "--blobs": (
        "s3://b/p?endpoint=http://127.0.0.1:1",
        "blobs_url",
        "s3://b/p?endpoint=http://127.0.0.1:1",
    ),
    "--replicate-to": (
        "s3://dr?endpoint=http://127.0.0.1:2",
        "replicate_to",
        ("s3://dr?endpoint=http://127.0.0.1:2",),
    ),
    "--presign-seconds": ("60", "presign_seconds", 60.0),
    "--replication-workers": ("2", "replication_workers", 2),
    "--replication-lease": ("30", "replication_lease_seconds", 30.0),
    "--jobs": ("trash,sweeper", "jobs", ("sweeper", "trash")),
}


def test_every_option_has_an_example() -> None:
    assert set(EXAMPLES) | {"--data"} == {o.flag for o in SERVER_OPTIONS}


def _field(launch: ServerLaunch, name: str) -> Any:
    return launch.log_level if name == "log_level" else getattr(launch.settings, name)


@pytest.mark.parametrize("flag", sorted(EXAMPLES))
def test_each_option_parses_into_the_settings(
    flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, field, expected = EXAMPLES[flag]
    argv = ["--data", str(tmp_path), flag, text]
    via_python_m = _launch_python_m(monkeypatch, argv)
    via_cli = _launch_cli(monkeypatch, argv)
    assert via_python_m == via_cli
    assert _field(via_python_m, field) == expected
    assert via_python_m.settings.data_dir == tmp_path.resolve()
    assert _field(parse_server_args(["--data", str(tmp_path)], "x"), field) != expected


def test_defaults_are_the_settings_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    via_python_m = _launch_python_m(monkeypatch, ["--data", str(tmp_path)])
    assert via_python_m == _launch_cli(monkeypatch, ["--data", str(tmp_path)])
    assert via_python_m == ServerLaunch(ServerSettings(data_dir=tmp_path.resolve()), "info")


def test_data_defaults_to_the_xdg_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_server_dir() == tmp_path / "xdg" / "photoark-server"
    for launch in (_launch_python_m(monkeypatch, []), _launch_cli(monkeypatch, [])):
        assert launch.settings.data_dir == (tmp_path / "xdg" / "photoark-server").resolve()


def test_data_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    launch = parse_server_args(["--data", "srv"], "x")
    assert launch.settings.data_dir == tmp_path.resolve() / "srv"
    assert launch.settings.db_url == f"sqlite:///{tmp_path.resolve() / 'srv'}/photoark.db"


def test_the_local_server_launcher_s_arguments_stay_valid(tmp_path: Path) -> None:
    # what client/localserver.py and tests/builders.py pass to python -m photoark.server
    launch = parse_server_args(["--data", str(tmp_path), "--port", "8123"], "x")
    assert (launch.settings.data_dir, launch.settings.port) == (tmp_path.resolve(), 8123)
    launch = parse_server_args(["--data", str(tmp_path), "--login-hash", "min"], "x")
    assert launch.settings.login_hash == "min"


def test_options_are_not_abbreviated(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_server_args(["--gc", "10"], "x")  # click does not take prefixes either
    assert exit_.value.code == 2
    assert "unrecognized arguments: --gc" in capsys.readouterr().err


def test_the_cli_module_does_not_import_the_server() -> None:
    done = _run(
        [sys.executable, "-c"],
        "import sys, photoark.cli.commands.server; print('photoark.server' in sys.modules)",
    )
    assert done.stdout.strip() == "False", done.stderr


# -- bad values: a message, exit status 2, no traceback --------------------------------------

BAD = [
    (["--default-quota", "12XB"], "argument --default-quota: invalid size '12XB'"),
    (["--port", "http"], "argument --port: invalid port 'http'"),
    (["--port", "70000"], "argument --port: invalid port '70000'"),
    (["--upload-expiry", "1.5"], "argument --upload-expiry: invalid duration '1.5'"),
    (["--gc-interval", "0"], "argument --gc-interval: invalid duration '0'"),
    (["--trash-days", "-1"], "argument --trash-days: invalid number of days '-1'"),
    (["--trash-days", "nan"], "argument --trash-days: invalid number 'nan'"),
    (["--trash-sweep-seconds", "0"], "argument --trash-sweep-seconds: invalid duration '0'"),
    (["--log-level", "loud"], "argument --log-level: invalid choice: 'loud'"),
    (["--login-hash", "weak"], "argument --login-hash: invalid choice: 'weak'"),
    (["--database", "mysql://db"], "argument --database: invalid database URL 'mysql://db'"),
    (["--host", ""], "argument --host: expected an address"),
    (["--port"], "argument --port: expected one argument"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_value_is_a_usage_error(
    argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[object] = []
    monkeypatch.setattr(server_main, "serve", lambda *a, **k: served.append(a))
    monkeypatch.setattr(runner, "serve", lambda *a, **k: served.append(a))
    with pytest.raises(SystemExit) as exit_:
        server_main.main(["--data", str(tmp_path), *argv])
    assert exit_.value.code == 2
    result = CliRunner().invoke(build_app(["server"]), ["server", "--data", str(tmp_path), *argv])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert f"photoark server: error: {message}" in result.output
    assert served == []


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_a_bad_value_in_a_real_process_prints_a_message_not_a_traceback(
    entry: str, tmp_path: Path
) -> None:
    done = _run(ENTRIES[entry], "--data", str(tmp_path), "--default-quota", "12XB")
    assert done.returncode == 2
    assert f"{entry}: error: argument --default-quota: invalid size '12XB'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "photoark.db").exists()


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_a_database_that_cannot_be_opened_is_a_clear_start_failure(
    entry: str, tmp_path: Path
) -> None:
    done = _run(ENTRIES[entry], "--data", str(tmp_path), "--database", "sqlite:///:memory:")
    assert done.returncode == runner.STARTUP_FAILURE
    assert "cannot open the database: SQLite needs a file path" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_a_data_dir_that_cannot_be_made_is_a_clear_start_failure(
    entry: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    done = _run(ENTRIES[entry], "--data", str(blocker / "data"))
    assert done.returncode == runner.STARTUP_FAILURE
    assert "cannot create or open the server's files" in done.stderr
    assert "Traceback" not in done.stderr
