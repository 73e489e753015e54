"""The read-only search server, HTTP only (the engine is ``snapsearch.search``; no dagster, no
pipelines): ``create_app(ServeSettings())``.

app         the factory and its lifespan
holder      the snapshot being served: load, verify, pin check, warm-up, swap, retire
middleware  request ids, the access log line, request metrics
routes      the endpoints, JSON bodies with a size limit, ETags
errors      the one JSON error shape and the exception handlers
validation  request validation errors told in words
metrics, logging, settings

``create_app`` is imported on first use, so ``import serve.settings`` (read first by
``python -m serve``, which fails fast on a bad setting) does not load the web stack.
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
