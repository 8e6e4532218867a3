"""Prometheus metrics of the router process, on a registry of its own (no process collectors
from other libraries sneak in), served by the web app at /metrics.

Counts only: routes, reasons, latencies and dial outcomes. No caller number, name or ticket ever
becomes a label.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.exposition import generate_latest

from sticky_router.routing_core.attempt import dial_status
from sticky_router.routing_core.callback_dialer import OUTCOMES
from sticky_router.routing_core.candidates import FOUND
from sticky_router.routing_core.tickets import SourceFailure
from sticky_router.routing_core.wait_offer import WaitChoice

if TYPE_CHECKING:
    from sticky_router.process.journaling import Journaling

# Decisions take a few hundred microseconds; the database budget is 300 ms by default.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.3, 0.4, 1.0)
# A walk is a few ARI or AGI round trips (milliseconds) unless it waits for a busy agent, up to
# the detour budget (20 s by default, 300 s at most).
# With the wait offer, a caller who chose to wait may add up to 900 s.
DETOUR_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900
)  # fmt: skip
WAIT_CHOICES = tuple(choice.value for choice in WaitChoice)
# Labels come from closed sets (routes, reasons, dial statuses); anything else is bucketed so a
# strange outcome string cannot grow the number of series without bound.
MAX_LABEL = 32


# Queue names come from the dialplan (an admin's, checked by routing_core.dialplan_safe), but a
# forged AGI request or a misconfigured PBX could bring any number of them: the first ones seen
# get their own series, the rest count as `other`.
MAX_QUEUES = 50


def _label(value: str) -> str:
    cleaned = "".join(c for c in value.lower() if c.isalnum() or c == "_")[:MAX_LABEL]
    return cleaned or "unknown"


class _BoundedLabel:
    """Label values as they come, up to `limit` distinct ones; `other` after that."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        label = _label(value)
        if label in self._seen or len(self._seen) < self._limit:
            self._seen.add(label)
            return label
        return "other"


class PrometheusObserver:
    """`routing_core.observer.RoutingObserver` counted in Prometheus metrics."""

    def __init__(self) -> None:
        self.worst_loop_lag = 0.0
        self.registry = CollectorRegistry(auto_describe=True)
        self.calls = Counter(
            "sticky_router_calls",
            "Calls decided by the router, by route (sticky, queue, blocked), reason and the "
            f"queue they came for (the first {MAX_QUEUES} queues seen; `other` after them)",
            ["route", "reason", "queue"],
            registry=self.registry,
        )
        self._queue_label = _BoundedLabel(MAX_QUEUES)
        self.latency = Histogram(
            "sticky_router_decision_seconds",
            "Time from a call's arrival at the routing service to its decision",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.agi_refusals = Counter(
            "sticky_router_agi_refused_connections",
            "FastAGI connections cut before any command: `address` (not an allowed Asterisk "
            "host) or `secret` (the AGI URL lacked the shared secret)",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("address", "secret"):  # a closed set: shown at 0 before the first one
            self.agi_refusals.labels(reason=reason)
        self.rings = Counter(
            "sticky_router_ring_attempts",
            "Agent legs that ended, by dial outcome (ANSWER, BUSY, NOANSWER, CANCEL, ...)",
            ["outcome"],
            registry=self.registry,
        )
        self.detour = Histogram(
            "sticky_router_detour_seconds",
            "What a sticky decision's walk over its candidates added to the caller's wait "
            "(availability checks, busy waits) before an agent rang (`ending=rang`) or the "
            "call went to the queue (`ending=queue`)",
            ["ending"],
            buckets=DETOUR_BUCKETS,
            registry=self.registry,
        )
        for ending in ("rang", "queue"):
            self.detour.labels(ending=ending)
        self.wait_offers = Counter(
            "sticky_router_wait_offers",
            "Callers whose own agent was on another call, by what they chose when offered to "
            "wait (wait, declined, no_key; not_offered: the estimate was longer than the wait "
            "allowed)",
            ["choice"],
            registry=self.registry,
        )
        for choice in WAIT_CHOICES:
            self.wait_offers.labels(choice=choice)
        self.candidates_found = Counter(
            "sticky_router_candidate_checks",
            "Sticky candidates looked at during a walk, by what they were found to be (free, "
            "busy, paused, wrap_up, offline, unreachable, claimed_elsewhere)",
            ["found"],
            registry=self.registry,
        )
        for found in FOUND:  # a closed set: shown at 0 before the first one
            self.candidates_found.labels(found=found)
        self.loop_lag = Histogram(
            "sticky_router_event_loop_lag_seconds",
            "How late the event loop ran a 100 ms timer: what every decision waits behind",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self._journaling: Journaling | None = None
        self._journal_gauges()
        # Retention: rows the purge job deleted, by kind of data (a closed set of table names).
        self.purged_rows = Counter(
            "sticky_router_purged_rows",
            "Rows of personal data the retention job deleted, by kind (calls, pops, ...)",
            ["kind"],
            registry=self.registry,
        )
        self._ticket_metrics()
        self.callback_attempts = Counter(
            "sticky_router_callback_attempts",
            "Callbacks the router dialled (the agent first, then the caller), by how each "
            "attempt ended: connected, agent_no_answer, caller_no_answer, caller_busy, failed, "
            "not_placed",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in OUTCOMES:
            self.callback_attempts.labels(outcome=outcome)
        self.outages = Gauge(
            "sticky_router_outages_in_force",
            "Outages in force (incidents: stickiness steps aside), declared by a supervisor or "
            "started by a queue's backlog; read every few seconds by the process watching the "
            "queues over AMI",
            ["started"],
            registry=self.registry,
        )
        self.connected = Gauge(
            "sticky_router_connected",
            "1 while the connection to this part is up (ari, ami), 0 while it is being re-made",
            ["part"],
            registry=self.registry,
        )

    def callback_attempt_ended(self, outcome: str) -> None:
        self.callback_attempts.labels(outcome=outcome if outcome in OUTCOMES else "other").inc()

    def outages_in_force(self, declared: int, automatic: int) -> None:
        """Incidents in force as the outage watch last read them (only where it runs)."""
        self.outages.labels(started="declared").set(declared)
        self.outages.labels(started="automatic").set(automatic)

    def watch_connection(self, part: str, is_up: Callable[[], bool]) -> None:
        """Report whether `part` (ari, ami) is connected, read at every scrape."""
        self.connected.labels(part=_label(part)).set_function(lambda: 1.0 if is_up() else 0.0)

    def _ticket_metrics(self) -> None:
        """An external ticket source's health: failures by operation and kind, syncs of the
        mirror, when it last succeeded (alert on its age), calls reported back."""
        self.ticket_failures = Counter(
            "sticky_router_ticket_source_failures",
            "Ticket source requests that failed, by operation (sync, record_call) and failure "
            "(unavailable, timeout, invalid, refused); calls are routed from the mirror anyway",
            ["source", "operation", "failure"],
            registry=self.registry,
        )
        self.ticket_syncs = Counter(
            "sticky_router_ticket_mirror_syncs",
            "Successful syncs of the local ticket mirror, by kind (full, incremental)",
            ["source", "kind"],
            registry=self.registry,
        )
        self.node_identity = Gauge(
            "sticky_router_node_identity",
            "1 while this router's Asterisk reports the systemname the router was told "
            "(STICKY_NODE), 0 when it reports another or none: two nodes' call ids could then "
            "be the same (checked at every connect to ARI)",
            ["node"],
            registry=self.registry,
        )
        self.ticket_last_sync = Gauge(
            "sticky_router_ticket_mirror_last_sync_timestamp_seconds",
            "When the ticket mirror last synced successfully (Unix time)",
            ["source"],
            registry=self.registry,
        )
        self.ticket_reports = Counter(
            "sticky_router_ticket_call_reports",
            "Finished calls reported to the ticket source, by outcome (sent, failed)",
            ["source", "outcome"],
            registry=self.registry,
        )

    def node_checked(self, node: str, matches: bool) -> None:
        self.node_identity.labels(node).set(1 if matches else 0)

    def ticket_source_configured(self, source: str) -> None:
        """Every failure series of this source shown at 0 before the first failure, so a panel
        or an `increase()` sees a source that never failed rather than no source at all."""
        for operation in ("sync", "record_call", "lookup"):
            for failure in SourceFailure:
                self.ticket_failures.labels(
                    source=_label(source), operation=operation, failure=failure.value
                )

    def ticket_source_failed(self, source: str, operation: str, failure: str) -> None:
        self.ticket_failures.labels(
            source=_label(source), operation=_label(operation), failure=_label(failure)
        ).inc()

    def ticket_mirror_synced(self, source: str, full: bool, tickets: int) -> None:
        kind = "full" if full else "incremental"
        self.ticket_syncs.labels(source=_label(source), kind=kind).inc()
        self.ticket_last_sync.labels(source=_label(source)).set_to_current_time()

    def ticket_mirror_fresh(self, source: str, synced_at: datetime) -> None:
        self.ticket_last_sync.labels(source=_label(source)).set(synced_at.timestamp())

    def ticket_call_reported(self, source: str, outcome: str) -> None:
        self.ticket_reports.labels(source=_label(source), outcome=_label(outcome)).inc()

    async def watch_loop_lag(self, interval: float = 0.1) -> None:
        """Until cancelled: each lateness is observed, and the worst kept in `worst_loop_lag`
        (for the fault benchmark)."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(interval)
            lag = max(loop.time() - started - interval, 0.0)
            self.loop_lag.observe(lag)
            self.worst_loop_lag = max(self.worst_loop_lag, lag)

    def watch_journal(self, journaling: Journaling) -> None:
        """Report this journal from now on (a router restarted in-process has a new one)."""
        self._journaling = journaling

    def _journal_gauges(self) -> None:
        """The call journal's backlog, as this process sees it: what waits for PostgreSQL, how
        old the oldest of it is, and anything refused or set aside (each worth an alert)."""

        def journal_value(read: Callable[[Journaling], float]) -> Callable[[], float]:
            def value() -> float:
                journaling = self._journaling
                if journaling is None:
                    return 0.0
                try:
                    return read(journaling)
                except RuntimeError:  # closed: nothing waits in this process
                    return 0.0

            return value

        gauges = (
            ("backlog_events", "Events in the journal not yet applied to PostgreSQL",
             lambda j: j.journal.backlog),
            ("oldest_event_age_seconds", "Age of the oldest event not yet applied",
             lambda j: j.applier.oldest_age if j.applier else 0.0),
            ("capacity_ratio", "Journal backlog over its limit (events are refused at 1)",
             lambda j: j.journal.backlog / j.journal.max_events),
            ("refused_events", "Events refused since start (journal full or unwritable)",
             lambda j: j.journal.refused),
            ("set_aside_events", "Events set aside since start: unreadable or failing (alert)",
             lambda j: j.applier.set_aside if j.applier else 0),
            ("orphaned_events", "Events set aside since start for a call that never started "
             "here (an agent's own outbound call, say)",
             lambda j: j.applier.orphaned if j.applier else 0),
            ("applied_events", "Events applied to PostgreSQL since start",
             lambda j: j.applier.applied if j.applier else 0),
        )  # fmt: skip
        for name, documentation, read in gauges:
            gauge = Gauge(f"sticky_router_journal_{name}", documentation, registry=self.registry)
            gauge.set_function(journal_value(read))

    def decision_made(self, route: str, reason: str, seconds: float, queue: str) -> None:
        self.calls.labels(
            route=_label(route), reason=_label(reason), queue=self._queue_label(queue)
        ).inc()
        self.latency.observe(seconds)

    def ring_ended(self, outcome: str) -> None:
        # A closed set whoever reported the leg (ARI, AMI, an AGI peer, the queue_log).
        self.rings.labels(outcome=_label(dial_status(outcome))).inc()

    def detour_ended(self, rang: bool, seconds: float, found: Sequence[str]) -> None:
        self.detour.labels(ending="rang" if rang else "queue").observe(seconds)
        for value in found:
            self.candidates_found.labels(found=value if value in FOUND else "other").inc()

    def wait_offered(self, choice: str) -> None:
        self.wait_offers.labels(choice=choice if choice in WAIT_CHOICES else "other").inc()

    def rows_purged(self, kind: str, rows: int) -> None:
        self.purged_rows.labels(kind=_label(kind)).inc(rows)

    def agi_refused(self, reason: str) -> None:
        self.agi_refusals.labels(reason=_label(reason)).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text format Prometheus scrapes, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
