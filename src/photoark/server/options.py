"""The server's command-line options, described once for both entry points.

``photoark server`` (``cli/commands/server.py``) and ``python -m photoark.server``
(``server/__main__.py``) both parse their arguments with :func:`build_parser` and turn them
into a :class:`ServerLaunch` with :func:`parse_server_args`, so the two accept exactly the same
options, with the same defaults and help. :data:`SERVER_OPTIONS` is the one table: each row
names its flag, the :class:`~photoark.server.config.ServerSettings` field (or
:class:`ServerLaunch` field) it fills, the function that parses its text, its default (as the
user would type it) and its help. Adding an option is adding a row (and the field).

A value that does not parse is a usage error: argparse prints the usage and the parse
function's message (``invalid size '12XB': expected ...``) and exits with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photoark.server.config import JOBS, ServerSettings, parse_jobs, parse_size

__all__ = [
    "DESCRIPTION",
    "SERVER_OPTIONS",
    "ServerLaunch",
    "ServerOption",
    "build_parser",
    "default_server_dir",
    "launch_from_values",
    "parse_server_args",
]

DESCRIPTION = "Run the photoark server in the foreground (embedded SQLite + blob dir by default)."


def default_server_dir() -> Path:
    """``$XDG_DATA_HOME/photoark-server`` (``~/.local/share/photoark-server`` by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "photoark-server"


@dataclass(frozen=True)
class ServerLaunch:
    """What a server entry point needs: the settings, and how much uvicorn should log."""

    settings: ServerSettings
    log_level: str


@dataclass(frozen=True)
class ServerOption:
    """One command-line option of the server.

    ``field`` is the :class:`ServerSettings` field (or else :class:`ServerLaunch` field) the
    parsed value goes to; ``parse`` turns the text into that value, raising :class:`ValueError`
    with a message for the user; ``default`` is text as the user would type it (``None``: no
    value given, see ``field``'s handling in :func:`launch_from_values`).
    """

    flag: str
    field: str
    parse: Callable[[str], Any]
    default: str | None
    help: str
    metavar: str
    choices: tuple[str, ...] = ()
    hidden: bool = False  # accepted, but not listed by --help (test-only settings)
    repeat: bool = False  # may be given several times: the field gets a tuple of the values


# -- parse functions: text -> value, ValueError with a message a user can act on ------------


def _path(text: str) -> Path:
    if not text.strip():
        raise ValueError("expected a directory, got an empty string")
    return Path(text).expanduser()


def _host(text: str) -> str:
    if not text.strip():
        raise ValueError("expected an address to listen on, e.g. 127.0.0.1 or 0.0.0.0")
    return text.strip()


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f"invalid port {text!r}: expected a whole number from 0 to 65535")
    return port


def _database_url(text: str) -> str:
    scheme, sep, _rest = text.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("sqlite", "postgresql", "postgres"):
        raise ValueError(
            f"invalid database URL {text!r}: expected sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST/DATABASE"
        )
    return text


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"invalid number {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise ValueError(f"invalid duration {text!r}: expected a number of seconds above 0")
    return value


def _whole_positive_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"invalid duration {text!r}: expected a whole number of seconds above 0")
    return value


def _seconds_or_zero(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise ValueError(f"invalid duration {text!r}: expected a number of seconds, 0 or more")
    return value


def _whole_positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"invalid number {text!r}: expected a whole number above 0")
    return value


def _days(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise ValueError(f"invalid number of days {text!r}: expected 0 or more")
    return value


def _store_url(text: str) -> str:
    scheme, sep, rest = text.strip().partition("://")
    if scheme != "s3" or not sep or not rest.split("/", 1)[0].split("?", 1)[0]:
        raise ValueError(
            f"invalid blob store URL {text!r}: expected "
            "s3://BUCKET[/PREFIX]?endpoint=URL[&region=R][&public_endpoint=URL][&profile=P]"
        )
    return text.strip()


def _choice(text: str) -> str:
    return text  # argparse checks ``choices``


SERVER_OPTIONS: tuple[ServerOption, ...] = (
    ServerOption(
        "--data",
        "data_dir",
        _path,
        None,
        "Data directory (database and blobs); default $XDG_DATA_HOME/photoark-server, "
        "i.e. ~/.local/share/photoark-server.",
        "DIR",
    ),
    ServerOption("--host", "host", _host, "127.0.0.1", "Address to listen on.", "ADDRESS"),
    ServerOption("--port", "port", _port, "8080", "Port to listen on (0: any free port).", "PORT"),
    ServerOption(
        "--database",
        "database_url",
        _database_url,
        None,
        "Database URL (sqlite:///PATH or postgresql://...); default SQLite in the data directory.",
        "URL",
    ),
    ServerOption(
        "--default-quota",
        "default_quota",
        parse_size,
        "10GiB",
        "Quota of new accounts, e.g. 500MB, 10GiB, 1TiB.",
        "SIZE",
    ),
    ServerOption(
        "--login-hash",
        "login_hash",
        _choice,
        "interactive",
        "Argon2 limits of the login hash (min: fast and weak, for tests only).",
        "LEVEL",
        choices=("interactive", "min"),
        hidden=True,
    ),
    ServerOption(
        "--upload-expiry",
        "upload_expiry_seconds",
        _whole_positive_seconds,
        "86400",
        "Seconds an unfinished upload session is kept before it is collected (its parts stop"
        " counting towards the quota).",
        "SECONDS",
    ),
    ServerOption(
        "--gc-interval",
        "gc_interval_seconds",
        _positive_seconds,
        "3600",
        "Seconds between two sweeps of expired upload sessions and crash leftovers.",
        "SECONDS",
    ),
    ServerOption(
        "--sweep-grace",
        "sweep_grace_seconds",
        _seconds_or_zero,
        "3600",
        "A leftover (temporary file, unreferenced object) younger than this is never swept.",
        "SECONDS",
    ),
    ServerOption(
        "--body-timeout",
        "body_idle_seconds",
        _positive_seconds,
        "30",
        "Seconds a request body may stay silent before the request is refused (408).",
        "SECONDS",
    ),
    ServerOption(
        "--bodies-per-account",
        "bodies_per_account",
        _whole_positive,
        "4",
        "Large request bodies (parts, bundles) one account may send at once.",
        "N",
    ),
    ServerOption(
        "--login-workers",
        "login_hash_workers",
        _whole_positive,
        "2",
        "Login hashes (Argon2, 64 MiB each) computed at once; more logins wait, then get 503.",
        "N",
    ),
    ServerOption(
        "--login-wait",
        "login_wait_seconds",
        _positive_seconds,
        "2",
        "Seconds a login waits for a hash worker before it is told to retry (503).",
        "SECONDS",
    ),
    ServerOption(
        "--token-idle-days",
        "token_idle_days",
        _days,
        "90",
        "Days a login token may go unused before it stops working (0: never).",
        "DAYS",
    ),
    ServerOption(
        "--trash-days",
        "trash_days",
        _days,
        "30",
        "Days a trashed file is kept before it is deleted for good.",
        "DAYS",
    ),
    ServerOption(
        "--trash-sweep-seconds",
        "trash_sweep_seconds",
        _positive_seconds,
        "3600",
        "Seconds between two deletions of expired trash.",
        "SECONDS",
    ),
    ServerOption(
        "--blobs",
        "blobs_url",
        _store_url,
        None,
        "Keep file bytes in S3 instead of the data directory: "
        "s3://BUCKET[/PREFIX]?endpoint=URL[&region=R][&public_endpoint=URL][&profile=P]"
        "[&verify=etag|size] (credentials from the AWS_* variables or the profile). Clients then"
        " send and fetch bytes with presigned URLs; the server never carries them.",
        "URL",
    ),
    ServerOption(
        "--replicate-to",
        "replicate_to",
        _store_url,
        None,
        "Copy every committed object to this store too (an s3:// URL as --blobs); reads fall"
        " back to it when the primary copy is missing or damaged. May be given several times.",
        "URL",
        repeat=True,
    ),
    ServerOption(
        "--presign-seconds",
        "presign_seconds",
        _positive_seconds,
        "3600",
        "How long a presigned upload or download URL works.",
        "SECONDS",
    ),
    ServerOption(
        "--replication-workers",
        "replication_workers",
        _whole_positive,
        "4",
        "Copies to --replicate-to stores this process makes at once.",
        "N",
    ),
    ServerOption(
        "--replication-lease",
        "replication_lease_seconds",
        _positive_seconds,
        "300",
        "A copy claimed by a server process that died (killed, crashed) is taken up by another"
        " after this long; a live process renews its claims every third of it.",
        "SECONDS",
    ),
    ServerOption(
        "--jobs",
        "jobs",
        parse_jobs,
        "all",
        "The background jobs this process runs: all, none (a replica that only serves the"
        f" API), or a comma-separated list of {', '.join(JOBS)}.",
        "JOBS",
    ),
    ServerOption(
        "--log-level",
        "log_level",
        _choice,
        "info",
        "How much the server logs.",
        "LEVEL",
        choices=("debug", "info", "warning", "error"),
    ),
)


def _argparse_type(option: ServerOption) -> Callable[[str], Any]:
    """``option.parse`` with its ValueError message shown as is (argparse would otherwise
    print only ``invalid <function name> value``)."""

    def convert(text: str) -> Any:
        try:
            return option.parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from err

    convert.__name__ = option.metavar.lower()
    return convert


def _help(option: ServerOption) -> str:
    if option.hidden:
        return argparse.SUPPRESS
    text = option.help
    if option.choices:
        text += f" One of: {', '.join(option.choices)}."
    if option.default is not None:
        text += f" Default: {option.default}."
    return text.replace("%", "%%")  # argparse formats help with %


def build_parser(prog: str) -> argparse.ArgumentParser:
    """An argparse parser for :data:`SERVER_OPTIONS`, named ``prog`` in usage and errors."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, allow_abbrev=False)
    for option in SERVER_OPTIONS:
        parser.add_argument(
            option.flag,
            dest=option.field,
            type=_argparse_type(option),
            default=option.default,  # argparse parses a text default with ``type``
            choices=option.choices or None,
            metavar=option.metavar,
            help=_help(option),
            action="append" if option.repeat else "store",
        )
    return parser


_SETTINGS_FIELDS = frozenset(f.name for f in dataclasses.fields(ServerSettings))


def launch_from_values(values: Mapping[str, Any]) -> ServerLaunch:
    """A :class:`ServerLaunch` from parsed values keyed by option ``field``.

    The data directory defaults to :func:`default_server_dir` and is made absolute.
    Raises :class:`ValueError` when the values do not make valid settings.
    """
    settings_values: dict[str, Any] = {}
    launch_values: dict[str, Any] = {}
    for option in SERVER_OPTIONS:
        value = values[option.field]
        if option.repeat:
            value = tuple(value or ())
        if option.field in _SETTINGS_FIELDS:
            settings_values[option.field] = value
        else:
            launch_values[option.field] = value
    data_dir: Path | None = settings_values["data_dir"]
    settings_values["data_dir"] = (data_dir or default_server_dir()).expanduser().resolve()
    return ServerLaunch(settings=ServerSettings(**settings_values), **launch_values)


def parse_server_args(argv: Sequence[str] | None, prog: str) -> ServerLaunch:
    """Parse a server command line (``sys.argv[1:]`` when ``argv`` is None).

    ``--help`` prints the help and exits 0; a bad value prints the usage and a message and
    exits 2 (``SystemExit``), as argparse does.
    """
    parser = build_parser(prog)
    namespace = parser.parse_args(argv)
    try:
        return launch_from_values(vars(namespace))
    except ValueError as err:
        parser.error(str(err))
