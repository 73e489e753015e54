"""Prometheus metrics, one ``CollectorRegistry`` per app (several apps may live in a process)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

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
        self.rejected = Counter(
            "snapsearch_snapshot_rejected",
            "Published snapshots refused (never swapped in; the loaded one kept answering), "
            "by the error that refused them", ["reason"], registry=r,
        )

    def watch(self, read: Callable[[], HolderFigures]) -> None:
        """Figures read from the holder at each scrape: the query-embedding cache (counts
        that only grow, across snapshot swaps) and the replaced snapshots still open."""
        self.registry.register(_HolderCollector(read))

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


@dataclass(frozen=True)
class HolderFigures:
    query_cache_hits: int
    query_cache_misses: int
    query_cache_entries: int
    retiring: int  # replaced snapshots kept open for requests still using them


class _HolderCollector(Collector):
    def __init__(self, read: Callable[[], HolderFigures]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        f = self._read()
        hits = CounterMetricFamily(
            "snapsearch_query_cache_hits", "Query embeddings answered from the cache")
        hits.add_metric([], f.query_cache_hits)
        misses = CounterMetricFamily(
            "snapsearch_query_cache_misses", "Query embeddings the encoder had to compute")
        misses.add_metric([], f.query_cache_misses)
        entries = GaugeMetricFamily(
            "snapsearch_query_cache_entries", "Query embeddings held in the cache")
        entries.add_metric([], f.query_cache_entries)
        retiring = GaugeMetricFamily(
            "snapsearch_snapshots_retiring",
            "Replaced snapshots still open because requests in flight use them")
        retiring.add_metric([], f.retiring)
        yield from (hits, misses, entries, retiring)

    def describe(self) -> Iterator[Metric]:
        return iter(())
