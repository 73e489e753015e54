"""The plain text corpus kind."""

from .kind import TextKind

__all__ = ["TextKind"]
