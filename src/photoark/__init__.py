"""photoark: self-hosted, end-to-end encrypted backup for photos and videos."""

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["__version__"]


def _version() -> str:
    """pyproject.toml's version: the checkout's when this package runs from one (a source tree
    on ``sys.path`` reports itself, whatever else is installed), else the installed metadata."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == "photoark":
            return str(project["version"])
    except (OSError, tomllib.TOMLDecodeError, KeyError):
        pass
    try:
        return version("photoark")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _version()
