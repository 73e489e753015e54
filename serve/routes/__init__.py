"""The endpoints, one module each (``search``, ``records``, ``introspection``, ``docs`` and the
search page, ``serve.page``), every route declared with ``spec.api_route`` so the OpenAPI
document describes it. ``Api.routes()`` is the app's route list, in order.

Metrics come from the app factory; the snapshot comes from the lifespan state
(``request.state.holder``), so a swap between two requests is seen by the second.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from .. import page  # the module (it imports these helpers): read at call time
from ..metrics import Metrics
from . import docs, introspection, records, search
from .common import MAX_BODY_BYTES
from .spec import ApiRoute, api_route

__all__ = ["MAX_BODY_BYTES", "Api", "ApiRoute", "api_route"]


class Api:
    """The app's routes; metrics come from the factory, the snapshot from the lifespan state."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def routes(self) -> list[BaseRoute]:
        out: list[BaseRoute] = [
            *search.routes(self.metrics),
            *records.routes(),
            *introspection.routes(self.metrics),
            *page.routes(self.metrics),
        ]
        out += docs.routes(lambda: out)
        return out
