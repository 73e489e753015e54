"""The read-only search server: the app factory and its lifespan.

The lifespan opens the snapshot ``<root>/current`` points at (verified, model pin checked,
warmed up: ``serve.holder``) and yields ``{"holder": SnapshotHolder, "search_limiter": ...,
"policy": Policy}`` as the lifespan state; the routes (``serve.routes`` and the lookup,
collections and feedback APIs) read the snapshot and the exclusion policy from there. Nothing is
opened before the lifespan runs, and the holder closes everything when it ends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware

from snapsearch.format.errors import SnapshotError
from snapsearch.format.model import Encoder, load_encoder
from snapsearch.settings import ServeSettings

from .collections_api import CollectionsApi
from .errors import exception_handlers
from .feedback_api import FeedbackApi
from .holder import EncoderFactory, SnapshotHolder
from .logging import SERVE_LOGGER
from .lookup_api import LookupApi
from .metrics import Metrics
from .middleware import RequestMiddleware
from .policy import Policy
from .routes import Api

log = logging.getLogger(SERVE_LOGGER)


def default_encoder_factory() -> Encoder:
    """The pinned model, one per process (torch loads on the first call, ~6 s)."""
    return load_encoder("minilm")


def create_app(
    settings: ServeSettings, *, encoder_factory: EncoderFactory | None = None
) -> Starlette:
    """The server for ``settings.root``; nothing is opened until the lifespan runs."""
    metrics = Metrics()
    holder = SnapshotHolder(settings, encoder_factory or default_encoder_factory, metrics)
    policy = Policy.create(settings.policy_rules(), metrics.registry)
    routes = [
        *Api(metrics).routes(),
        *LookupApi().routes(),
        *CollectionsApi(metrics).routes(),
        *FeedbackApi(settings.root, settings.feedback_max_bytes).routes(),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        try:
            await anyio.to_thread.run_sync(holder.load_initial)
        except SnapshotError as exc:
            log.error("refusing to start: %s", exc)
            raise
        try:
            async with anyio.create_task_group() as tg:
                holder.start(tg)
                limiter = anyio.CapacityLimiter(settings.search_threads)
                yield {"holder": holder, "search_limiter": limiter, "policy": policy}
                tg.cancel_scope.cancel()
        finally:
            holder.close()

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(RequestMiddleware, metrics=metrics, routes=routes)],
        exception_handlers=exception_handlers(routes),
    )
