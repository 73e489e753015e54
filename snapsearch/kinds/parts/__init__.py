"""The electronic-parts catalogue kind."""

from .kind import PartsKind, si_spellings

__all__ = ["PartsKind", "si_spellings"]
