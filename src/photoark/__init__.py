"""photoark: self-hosted, end-to-end encrypted backup for photos and videos."""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:  # one source of truth: pyproject.toml, as installed
    __version__ = version("photoark")
except PackageNotFoundError:  # a source tree put on sys.path without installing it
    __version__ = "0+unknown"
