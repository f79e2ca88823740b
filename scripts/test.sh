#!/usr/bin/env bash
# Install the test dependencies and run lint, types and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[test]'
python3 -m ruff check src tests bench
python3 -m ruff format --check src tests bench
python3 -m mypy
lint-imports  # the package layering (pyproject.toml [tool.importlinter])
python3 -m pytest -q -ra "$@"
