"""Register pillow-heif's HEIF opener with Pillow exactly once.

Pillow itself opens AVIF (Pillow >= 11.3); HEIC/HEIF need pillow-heif. Registration is
idempotent and done lazily by whoever is about to open an image.
"""

from __future__ import annotations

from functools import cache

__all__ = ["ensure_heif_registered"]


@cache
def ensure_heif_registered() -> bool:
    """Register the HEIF opener; ``False`` when pillow-heif is unavailable."""
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - a declared dependency
        return False
    pillow_heif.register_heif_opener()
    return True
