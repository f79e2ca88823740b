#!/usr/bin/env bash
# Install photoark for this user and back up the folders given (the README's first command):
#
#   bash scripts/install.sh ~/Pictures
#
# Installs into a virtual environment (~/.local/share/photoark-venv, or the one that is active),
# links ~/.local/bin/photoark to it, then runs `photoark quickstart FOLDER...` when folders are
# given. Run it again to upgrade; the library, the account and the server data are not touched.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib/venv.sh
. "$here/scripts/lib/venv.sh"

use_venv "${PHOTOARK_VENV:-${XDG_DATA_HOME:-$HOME/.local/share}/photoark-venv}"
echo "installing photoark with $PY ..."
"$PY" -m pip install -q "$here"
bin="$(dirname "$PY")/photoark"

link_dir="$HOME/.local/bin"
mkdir -p "$link_dir"
ln -sf "$bin" "$link_dir/photoark"
case ":$PATH:" in
    *":$link_dir:"*) ;;
    *) echo "note: $link_dir is not on your PATH yet: open a new terminal (Debian and Ubuntu add" \
            "it at login when it exists) or run: export PATH=\"$link_dir:\$PATH\"" ;;
esac
echo "installed: $link_dir/photoark -> $bin ($("$bin" --version))"

if [ "$#" -gt 0 ]; then
    exec "$bin" quickstart "$@"
fi
