"""The read-only search server: the app factory and its lifespan.

The lifespan opens the snapshot ``<root>/current`` points at (verified, model pin checked,
warmed up: ``serve.holder``) and yields ``{"holder": SnapshotHolder, "search_limiter": ...,
"policy": Policy}`` as the lifespan state; the routes (``serve.routes``) read the snapshot (each
request's lease on it: ``serve.lifecycle``) and the exclusion policy from there. Nothing is
opened before the lifespan runs, and the holder closes everything when it ends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware

from snapsearch.format.errors import SnapshotError
from snapsearch.format.model import Encoder
from snapsearch.format.model_query import load_query_encoder
from snapsearch.format.reader import Snapshot
from snapsearch.settings import ServeSettings

from .auth import AccessControl, AccessPolicy
from .errors import ErrorGuard, exception_handlers
from .holder import EncoderFactory, SnapshotHolder
from .lifecycle import SnapshotLeases
from .logging import SERVE_LOGGER
from .metrics import Metrics
from .middleware import RequestMiddleware
from .policy import Policy
from .routes import Api

log = logging.getLogger(SERVE_LOGGER)


def default_encoder_factory(snapshot: Snapshot, threads: int = 1) -> Encoder:
    """The query encoder ``snapshot`` carries (its manifest names it: the ONNX export of the
    pinned model, or the tests' hashing encoder), its files checked against the pin (without
    hashing them again when the snapshot was opened with checksums). No torch."""
    verified = (
        {name: f.sha256 for name, f in snapshot.manifest.files.items()}
        if snapshot.checksummed else None
    )
    return load_query_encoder(
        snapshot.path, snapshot.manifest.model, verified=verified, threads=threads
    )


def create_app(
    settings: ServeSettings, *, encoder_factory: EncoderFactory | None = None
) -> Starlette:
    """The server for ``settings.root``; nothing is opened until the lifespan runs."""
    metrics = Metrics()
    factory = encoder_factory or partial(default_encoder_factory,
                                         threads=settings.encoder_threads())
    holder = SnapshotHolder(settings, factory, metrics)
    policy = Policy.create(settings.policy_rules(), metrics.registry)
    routes = Api(metrics, settings.root, settings.feedback_max_bytes).routes()

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

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(ErrorGuard),  # outermost: no exception reaches the server
            Middleware(RequestMiddleware, metrics=metrics, routes=routes),
            Middleware(AccessControl, policy=AccessPolicy.from_settings(settings)),
            Middleware(SnapshotLeases),  # each request's lease on the snapshot it answers from
        ],
        exception_handlers=exception_handlers(routes),
    )
    app.state.holder = holder  # the runner drains it on SIGTERM (serve.runner)
    return app
