"""photoark: self-hosted, end-to-end encrypted backup for photos and videos."""

__all__ = ["__version__"]

__version__ = "0.1.0"
