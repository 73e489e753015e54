"""The read-only search server, HTTP only (the engine is ``snapsearch.search``; no dagster, no
pipelines): ``serve.app.create_app(ServeSettings())``; ``python -m serve`` runs it.

app         the factory and its lifespan
holder      the snapshot being served: load, verify, pin check, warm-up, swap, retire
middleware  request ids, the access log line, request metrics
routes      the endpoints, JSON bodies with a size limit, ETags
errors      the one JSON error shape and the exception handlers
validation  request validation errors told in words
runner      uvicorn in one process (SIGTERM drains), and the worker of ``--workers N``
supervisor  the ``--workers N`` supervisor process: the standard library only, none of the app
metrics, logging
"""
