"""``python -m photoark.server --data DIR [--port P] ...``: start a server without the CLI.

End-to-end tests spawn real server processes this way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from photoark.server.config import ServerSettings, parse_size
from photoark.server.runner import serve

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m photoark.server", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="data directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--database", default=None, help="sqlite:///... or postgresql://...")
    parser.add_argument("--default-quota", type=parse_size, default=10 * 2**30)
    parser.add_argument("--login-hash", choices=["interactive", "min"], default="interactive")
    parser.add_argument("--upload-expiry", type=int, default=7 * 86400, help="seconds")
    parser.add_argument("--gc-interval", type=float, default=3600, help="seconds")
    parser.add_argument(
        "--trash-days", type=float, default=30.0, help="days before trash is deleted for good"
    )
    parser.add_argument(
        "--trash-sweep-seconds", type=float, default=3600, help="how often expired trash goes"
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = ServerSettings(
        data_dir=args.data,
        database_url=args.database,
        host=args.host,
        port=args.port,
        default_quota=args.default_quota,
        login_hash=args.login_hash,
        upload_expiry_seconds=args.upload_expiry,
        gc_interval_seconds=args.gc_interval,
        trash_days=args.trash_days,
        trash_sweep_seconds=args.trash_sweep_seconds,
    )
    serve(settings, log_level=args.log_level)


if __name__ == "__main__":
    main()
