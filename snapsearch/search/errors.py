"""What a search request can get wrong; the server answers each in its one error shape."""

from __future__ import annotations

from collections.abc import Sequence


class SearchError(ValueError):
    """A request the engine cannot answer as asked: ``code`` and ``field`` name what is wrong."""

    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class UnknownCollection(SearchError):
    code = "unknown_collection"

    def __init__(self, name: str | None, available: Sequence[str]) -> None:
        self.name = name
        self.available = list(available)
        super().__init__(
            f"collection {name!r} is not in this snapshot; collections: {', '.join(available)}",
            field="collection",
        )


class FilterNotSupported(SearchError):
    """A filter the collection's kind does not have; the message names the ones it has."""

    code = "filter_not_supported"

    def __init__(self, name: str, collection: str, kind: str, available: Sequence[str]) -> None:
        self.available = list(available)
        have = ", ".join(available) if available else "none"
        super().__init__(
            f"filter {name!r} is not available for collection {collection!r} (kind {kind!r}); "
            f"its filters: {have}",
            field=f"filters.{name}",
        )


class InvalidFilter(SearchError):
    """A filter the kind has, given a value of the wrong type or out of range."""
