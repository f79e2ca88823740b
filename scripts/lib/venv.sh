# shellcheck shell=bash
# Sourced by scripts/install.sh and scripts/test.sh: choose the Python environment to install
# photoark into. A Debian or Ubuntu system Python refuses `pip install` (PEP 668), so unless one
# is already active, a virtual environment is created (python3 -m venv) and used.
#
#   use_venv DIR    sets PY to that environment's python (DIR is created when missing);
#                   an active virtual environment ($VIRTUAL_ENV) is used instead of DIR.

use_venv() {
    local dir="$1"
    if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
        PY="$VIRTUAL_ENV/bin/python"
        return
    fi
    local base="${PHOTOARK_PYTHON:-python3}"
    if ! command -v "$base" >/dev/null 2>&1; then
        echo "error: $base was not found; photoark needs Python 3.11 or newer" >&2
        echo "hint: sudo apt install python3 python3-venv" >&2
        exit 1
    fi
    if ! "$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "error: photoark needs Python 3.11 or newer; $base is $("$base" -V 2>&1)" >&2
        echo "hint: run with PHOTOARK_PYTHON=/path/to/python3.11 (or newer)" >&2
        exit 1
    fi
    if [ ! -x "$dir/bin/python" ]; then
        if ! "$base" -m venv "$dir" >/dev/null 2>&1; then
            rm -rf "$dir"
            echo "error: could not create a virtual environment in $dir" >&2
            echo "hint: on Debian or Ubuntu, sudo apt install python3-venv, then run this again" >&2
            exit 1
        fi
        "$dir/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    fi
    PY="$dir/bin/python"
}
