"""Prometheus metrics of the router process, on a registry of its own (no process collectors
from other libraries sneak in), served by the web app at /metrics.

Counts only: routes, reasons, latencies and dial outcomes. No caller number, name or ticket ever
becomes a label.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

# Decisions take a few hundred microseconds; the database budget is 300 ms by default.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.3, 1.0)
# Labels come from closed sets (routes, reasons, dial statuses); anything else is bucketed so a
# strange outcome string cannot grow the number of series without bound.
MAX_LABEL = 32


def _label(value: str) -> str:
    cleaned = "".join(c for c in value.lower() if c.isalnum() or c == "_")[:MAX_LABEL]
    return cleaned or "unknown"


class PrometheusObserver:
    """`routing_core.observer.RoutingObserver` counted in Prometheus metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.calls = Counter(
            "sticky_router_calls",
            "Calls decided by the router, by route (sticky, queue, blocked) and reason",
            ["route", "reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sticky_router_decision_seconds",
            "Time from a call's arrival at the routing service to its decision",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rings = Counter(
            "sticky_router_ring_attempts",
            "Agent legs that ended, by dial outcome (ANSWER, BUSY, NOANSWER, CANCEL, ...)",
            ["outcome"],
            registry=self.registry,
        )

    def decision_made(self, route: str, reason: str, seconds: float) -> None:
        self.calls.labels(route=_label(route), reason=_label(reason)).inc()
        self.latency.observe(seconds)

    def ring_ended(self, outcome: str) -> None:
        self.rings.labels(outcome=_label(outcome)).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text format Prometheus scrapes, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
