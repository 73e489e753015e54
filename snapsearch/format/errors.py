"""One error vocabulary for the snapshot format.

Every error carries a one-line message saying what is wrong and, where there is one, the fix.
The CLI prints ``str(err)``; the server turns them into its JSON error shape.
"""

from __future__ import annotations


class SnapshotError(Exception):
    """Base class: something about a snapshot or the store is wrong."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(message if not fix else f"{message} (fix: {fix})")


class ManifestError(SnapshotError):
    """The manifest is missing, unreadable or not of a supported schema."""


class IntegrityError(SnapshotError):
    """A file is missing, has the wrong size or the wrong checksum."""


class ModelMismatchError(SnapshotError):
    """The installed embedding model does not reproduce the snapshot's model pin."""


class StoreError(SnapshotError):
    """The snapshot store (current/previous links, publish log, lock) is in a bad state."""


class SourceError(SnapshotError):
    """A source could not be fetched or parsed."""


class GateError(SnapshotError):
    """A snapshot's gates failed or never ran."""
