"""The endpoints, one module each (``search``, ``lookup``, ``records``, ``context``,
``feedback``, ``introspection``, ``docs`` and the search page, ``serve.page``), every route
declared with ``spec.api_route`` so the OpenAPI document describes it. ``Api.routes()`` is the
app's route list, in order, the OpenAPI document's route last (it describes them all).

Metrics come from the app factory; the snapshot comes from the lifespan state
(``request.state.loaded``, leased per request), so a swap between two requests is seen by the
second.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute

from snapsearch.format.feedback import DEFAULT_MAX_BYTES

from .. import page  # the module (it imports these helpers): read at call time
from ..metrics import Metrics
from . import context, docs, feedback, introspection, lookup, records, search
from .common import MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES
from .spec import ApiRoute, api_route

__all__ = ["MAX_BATCH_BODY_BYTES", "MAX_BODY_BYTES", "Api", "ApiRoute", "api_route"]


class Api:
    """The app's routes; metrics come from the factory, the snapshot from the lifespan state,
    and the feedback log is the store's (``feedback_root``), bounded at ``feedback_max_bytes``."""

    def __init__(self, metrics: Metrics, feedback_root: Path,
                 feedback_max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.metrics = metrics
        self.feedback_root = feedback_root
        self.feedback_max_bytes = feedback_max_bytes

    def routes(self) -> list[BaseRoute]:
        out: list[BaseRoute] = [
            *search.routes(self.metrics),
            *lookup.routes(),
            *records.routes(),
            *context.routes(),
            *feedback.routes(self.feedback_root, self.feedback_max_bytes),
            *introspection.routes(self.metrics),
            *page.routes(self.metrics),
        ]
        out += docs.routes(lambda: out)
        return out
