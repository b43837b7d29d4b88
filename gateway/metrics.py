"""The gateway's Prometheus metrics, kept with ``prometheus-client`` in a registry per app.

Each app has its own :class:`~prometheus_client.CollectorRegistry` (tests run many apps in one
process), holding the process collector (CPU, memory, open files), the Python platform
collector, ``mediagate_build_info`` and the gateway's own metrics. A gateway of several
processes (``server.processes``, :mod:`gateway.processes`) keeps its values in prometheus-client's
multi-process files and sums them over the processes when rendering; the process collector is
then left out (its figures would be those of whichever process answered). Durations are in
seconds and their names end in ``_duration_seconds``. The small adapters keep the call sites
(``metrics.requests.inc(method, route, status)``) independent of the client library.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from typing import Literal

from prometheus_client import (
    CollectorRegistry,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client import Counter as _PCounter
from prometheus_client import Gauge as _PGauge
from prometheus_client import Histogram as _PHistogram

import gateway

# Request latency buckets: a screened publish takes milliseconds, a slow platform seconds.
_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Counter:
    def __init__(
        self, registry: CollectorRegistry, name: str, help_text: str, labels: Sequence[str] = ()
    ) -> None:
        self._metric = _PCounter(name, help_text, tuple(labels), registry=registry)
        self._labelled = bool(labels)

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        target = self._metric.labels(*label_values) if self._labelled else self._metric
        target.inc(amount)


class Gauge:
    def __init__(
        self,
        registry: CollectorRegistry,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        *,
        across_processes: Literal["livemax", "livemin"] = "livemax",
    ) -> None:
        self._metric = _PGauge(
            name, help_text, tuple(labels), registry=registry, multiprocess_mode=across_processes
        )
        self._labelled = bool(labels)

    def set(self, value: float, *label_values: str) -> None:
        target = self._metric.labels(*label_values) if self._labelled else self._metric
        target.set(value)


class Histogram:
    def __init__(
        self, registry: CollectorRegistry, name: str, help_text: str, labels: Sequence[str] = ()
    ) -> None:
        self._metric = _PHistogram(
            name, help_text, tuple(labels), registry=registry, buckets=_BUCKETS_S
        )
        self._labelled = bool(labels)

    def observe(self, value_s: float, *label_values: str) -> None:
        target = self._metric.labels(*label_values) if self._labelled else self._metric
        target.observe(value_s)


class Metrics:
    """The gateway's metrics; one instance (and one registry) per app."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        # several processes: the values live in files there, summed by MultiProcessCollector
        self._shared: CollectorRegistry | None = None
        shared_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
        if shared_dir:
            self._shared = CollectorRegistry()
            multiprocess.MultiProcessCollector(self._shared, path=shared_dir)
        else:
            ProcessCollector(registry=registry)  # process_cpu_seconds_total, resident memory ...
        # python_info and the build's version: the same in every process, kept in this one
        self._static = registry if self._shared is None else CollectorRegistry()
        PlatformCollector(registry=self._static)
        Info("mediagate_build", "Version of the running gateway", registry=self._static).info(
            {"version": gateway.__version__, "python": platform.python_version()}
        )
        self.requests = Counter(
            registry,
            "mediagate_http_requests_total",
            "HTTP requests by route and status",
            ("method", "route", "status"),
        )
        self.latency = Histogram(
            registry,
            "mediagate_http_request_duration_seconds",
            "HTTP request duration by route",
            ("route",),
        )
        self.decisions = Counter(
            registry, "mediagate_publish_decisions_total", "Publish gate decisions", ("decision",)
        )
        self.deliveries = Counter(
            registry,
            "mediagate_deliveries_total",
            "Delivery outcomes by platform",
            ("platform", "outcome"),
        )
        self.watch_passes = Counter(
            registry,
            "mediagate_watch_passes_total",
            "Bypass reconciler passes by platform and result (ok, unavailable, needs_reauth, "
            "error, busy)",
            ("platform", "result"),
        )
        self.watch_alerts = Counter(
            registry,
            "mediagate_watch_alerts_total",
            "Bypass alerts raised by platform and kind",
            ("platform", "kind"),
        )
        self.audit_failures = Counter(
            registry, "mediagate_audit_failures_total", "Audit records that could not be written"
        )
        self.lexicon_version = Gauge(
            registry, "mediagate_lexicon_version", "Applied lexicon version"
        )
        self.up = Gauge(
            registry,
            "mediagate_dependency_up",
            "1 if a dependency answers",
            ("part",),
            across_processes="livemin",  # several processes: 0 if any of them finds it down
        )

    def render(self) -> str:
        """The text exposition format (version 0.0.4)."""
        if self._shared is None:
            return generate_latest(self.registry).decode()
        return (generate_latest(self._static) + generate_latest(self._shared)).decode()
