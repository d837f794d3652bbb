"""The guard server's Prometheus metrics, kept by ``prometheus_client``.

Each app has its own :class:`~prometheus_client.CollectorRegistry` (two apps in one process,
as in the tests, never share counts). What is exported, with its type:

================================================  =========  ===============================
name                                              type       labels
================================================  =========  ===============================
``valign_guard_requests_total``                   counter    ``path``, ``status``
``valign_guard_request_duration_seconds``         histogram  ``path`` (latency, seconds)
``valign_guard_requests_in_progress``             gauge      ``path``
``valign_guard_inputs_total``                     counter    ``path``
``valign_guard_flagged_total``                    counter
``valign_guard_batches_total``                    counter    ``model``
``valign_guard_batch_items_total``                counter    ``model``
``valign_guard_batch_splits_total``               counter    ``model``
``valign_guard_failed_inputs_total``              counter    ``model``
``valign_guard_start_time_seconds``               gauge      (Unix time the app was built)
``valign_guard_uptime_seconds``                   gauge
================================================  =========  ===============================

The batch counters are read from the micro-batchers when scraped (a custom collector), so
the batchers keep plain integer counts and know nothing of Prometheus.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "ServerMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Request latency buckets, seconds: a cached health check takes well under a millisecond,
#: a full batch of long inputs on a CPU about a second, a timeout-bound request more.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: (metric name without ``_total``, help, batcher attribute) of the batch counters.
_BATCH_COUNTERS = (
    ("valign_guard_batches", "Model batches run.", "batches"),
    ("valign_guard_batch_items", "Inputs the model saw in batches.", "items"),
    ("valign_guard_batch_splits", "Failing batches split to isolate inputs.", "splits"),
    ("valign_guard_failed_inputs", "Inputs the model failed on, alone.", "failed"),
)


class _BatcherCollector(Collector):
    """Counters of the micro-batchers and the uptime, read at scrape time."""

    def __init__(self, batchers: Mapping[str, Any], started: float) -> None:
        self.batchers, self.started = batchers, started

    def collect(self) -> Iterator[Metric]:
        for name, doc, attr in _BATCH_COUNTERS:
            family = CounterMetricFamily(name, doc, labels=["model"])
            for model, batcher in sorted(self.batchers.items()):
                family.add_metric([model], getattr(batcher, attr))
            yield family
        yield GaugeMetricFamily(
            "valign_guard_uptime_seconds",
            "Seconds since the app was built.",
            value=time.time() - self.started,
        )


class ServerMetrics:
    """The metrics of one guard app; ``render()`` is the ``/metrics`` body."""

    def __init__(self, batchers: Mapping[str, Any]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "valign_guard_requests",
            "HTTP requests by path and status.",
            ["path", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "valign_guard_request_duration_seconds",
            "Time to answer a request, by path.",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_progress = Gauge(
            "valign_guard_requests_in_progress",
            "Requests being served, by path.",
            ["path"],
            registry=r,
        )
        self.inputs = Counter(
            "valign_guard_inputs", "Inputs received, by path.", ["path"], registry=r
        )
        self.flagged = Counter(
            "valign_guard_flagged", "Inputs the guard flagged as unsafe.", registry=r
        )
        started = time.time()
        start = Gauge("valign_guard_start_time_seconds", "Unix time the app was built.", registry=r)
        start.set(started)
        r.register(_BatcherCollector(batchers, started))

    def observe(self, path: str, status: int, seconds: float) -> None:
        """One answered request."""
        self.requests.labels(path=path, status=str(status)).inc()
        self.latency.labels(path=path).observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
