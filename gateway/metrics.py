"""A few Prometheus metrics kept in-process and rendered in the text exposition format."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence

_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(
        f'{n}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for n, v in zip(names, values, strict=True)
    )
    return "{" + pairs + "}"


class Counter:
    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.labels = name, help_text, tuple(labels)
        self.values: dict[tuple[str, ...], float] = defaultdict(float)

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        self.values[tuple(label_values)] += amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for values, number in sorted(self.values.items()):
            lines.append(f"{self.name}{_labels(self.labels, values)} {number:g}")
        return lines


class Gauge(Counter):
    def set(self, value: float, *label_values: str) -> None:
        self.values[tuple(label_values)] = value

    def render(self) -> list[str]:
        lines = super().render()
        lines[1] = f"# TYPE {self.name} gauge"
        return lines


class Histogram:
    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.labels = name, help_text, tuple(labels)
        self.counts: dict[tuple[str, ...], list[int]] = {}
        self.sums: dict[tuple[str, ...], float] = defaultdict(float)

    def observe(self, value_s: float, *label_values: str) -> None:
        key = tuple(label_values)
        counts = self.counts.setdefault(key, [0] * (len(_BUCKETS_S) + 1))
        counts[bisect.bisect_left(_BUCKETS_S, value_s)] += 1
        self.sums[key] += value_s

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, counts in sorted(self.counts.items()):
            running = 0
            for bound, count in zip((*_BUCKETS_S, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(
                    f"{self.name}_bucket{_labels((*self.labels, 'le'), (*key, le))} {running}"
                )
            lines.append(f"{self.name}_sum{_labels(self.labels, key)} {self.sums[key]:g}")
            lines.append(f"{self.name}_count{_labels(self.labels, key)} {running}")
        return lines


class Metrics:
    """The gateway's metrics; one instance per app."""

    def __init__(self) -> None:
        self.requests = Counter(
            "mediagate_http_requests_total",
            "HTTP requests by route and status",
            ("method", "route", "status"),
        )
        self.latency = Histogram(
            "mediagate_http_request_seconds", "HTTP request latency", ("route",)
        )
        self.decisions = Counter(
            "mediagate_publish_decisions_total", "Publish gate decisions", ("decision",)
        )
        self.deliveries = Counter(
            "mediagate_deliveries_total", "Delivery outcomes by platform", ("platform", "outcome")
        )
        self.audit_failures = Counter(
            "mediagate_audit_failures_total", "Audit records that could not be written"
        )
        self.lexicon_version = Gauge("mediagate_lexicon_version", "Applied lexicon version")
        self.up = Gauge("mediagate_dependency_up", "1 if a dependency answers", ("part",))

    def render(self) -> str:
        lines: list[str] = []
        for metric in (
            self.requests,
            self.latency,
            self.decisions,
            self.deliveries,
            self.audit_failures,
            self.lexicon_version,
            self.up,
        ):
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"
