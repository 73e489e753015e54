"""Prometheus metrics, one ``CollectorRegistry`` per app (several apps may live in a process)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# request latencies are milliseconds to a few seconds (a cold query embedding)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        labels = ["method", "route", "status"]
        self.request_seconds = Histogram(
            "snapsearch_request_duration_seconds", "Request duration by route template",
            labels, buckets=LATENCY_BUCKETS, registry=r,
        )
        self.requests = Counter("snapsearch_requests", "Requests answered", labels, registry=r)
        self.errors = Counter(
            "snapsearch_errors", "Error responses by error code", ["route", "code"], registry=r
        )
        self.searches = Counter(
            "snapsearch_searches", "Searches by mode and match quality", ["mode", "match"],
            registry=r,
        )
        self.snapshot_info = Gauge(
            "snapsearch_snapshot_info", "The snapshot being served (value 1)",
            ["snapshot_id", "model_id", "built_at"], registry=r,
        )
        self.snapshot_loaded = Gauge(
            "snapsearch_snapshot_loaded_timestamp_seconds",
            "When the snapshot being served was loaded (unix time)", registry=r,
        )
        self.reloads = Counter(
            "snapsearch_snapshot_reloads", "Attempts to switch to a newly published snapshot",
            ["result"], registry=r,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "OTHER"
        self.request_seconds.labels(method, route, str(status)).observe(seconds)
        self.requests.labels(method, route, str(status)).inc()

    def set_snapshot(self, snapshot_id: str, model_id: str, built_at: str) -> None:
        self.snapshot_info.clear()
        self.snapshot_info.labels(snapshot_id, model_id, built_at).set(1)
        self.snapshot_loaded.set(time.time())

    def render(self) -> bytes:
        return generate_latest(self.registry)
