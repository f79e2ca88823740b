#!/usr/bin/env bash
# Install the test dependencies and run lint, types and the test suite (the README's second
# command). Uses the active virtual environment, or creates ./.venv (a Debian or Ubuntu system
# Python refuses pip installs, PEP 668). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/venv.sh
. scripts/lib/venv.sh

use_venv .venv
bin="$(dirname "$PY")"
"$PY" -m pip install -q -e '.[test]'
"$PY" -m ruff check src tests bench
"$PY" -m ruff format --check src tests bench
"$PY" -m mypy
"$bin/lint-imports"  # the package layering (pyproject.toml [tool.importlinter])
# the tests start `python -m photoark…` subprocesses and look for tools on PATH: this env's first
PATH="$bin:$PATH" "$PY" -m pytest -q -ra "$@"
