"""The electronic-parts catalogue kind."""

from .kind import PartsKind

__all__ = ["PartsKind"]
