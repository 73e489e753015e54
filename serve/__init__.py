"""The read-only search server (no dagster, no pipelines): ``create_app(ServeSettings())``.

``serve.search`` (the engine) is shared with eval; importing it must not pull in the web stack,
so ``create_app`` is imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
