"""Where a client keeps its state: one directory per client (a "device").

``--home DIR`` or ``PHOTOARK_HOME`` pick it; the default follows XDG
(``$XDG_DATA_HOME/photoark``, i.e. ``~/.local/share/photoark``). Several homes on one machine
behave as several devices. The home holds key material (the state DB): it is created 0700.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClientHome", "default_home_dir", "resolve_home"]


def default_home_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    if env.get("PHOTOARK_HOME"):
        return Path(env["PHOTOARK_HOME"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(
        Path(env.get("HOME", "~")).expanduser() / ".local" / "share"
    )
    return Path(base).expanduser() / "photoark"


def resolve_home(home: str | Path | None, env: dict[str, str] | None = None) -> ClientHome:
    path = Path(home).expanduser() if home else default_home_dir(env)
    return ClientHome(path.resolve())


@dataclass(frozen=True)
class ClientHome:
    root: Path

    @property
    def state_db(self) -> Path:
        return self.root / "state.db"

    @property
    def server_dir(self) -> Path:
        """Data dir of the embedded local server that ``quickstart`` starts."""
        return self.root / "server"

    @property
    def local_server_record(self) -> Path:
        """``{"url", "pid", …}`` of that server (see :mod:`photoark.client.local.server`)."""
        return self.server_dir / "local-server.json"

    @property
    def local_credentials(self) -> Path:
        """The password and recovery key of the account ``quickstart`` made (0600)."""
        return self.root / "local-account.txt"

    @property
    def models_dir(self) -> Path:
        """The on-device model, built from the installed weights and cached (checksummed)."""
        return self.root / "models"

    @property
    def cache_dir(self) -> Path:
        """What the web app keeps to serve faster (thumbnails still encrypted, originals
        decrypted for the session only); inside the 0700 home, safe to delete."""
        return self.root / "cache"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    def ensure(self) -> ClientHome:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        return self
