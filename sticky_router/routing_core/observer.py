"""What the core tells whoever counts (the Prometheus metrics): a decision, the walk over a
sticky decision's candidates, a ring that ended.

A Protocol so the core stays free of any metrics library; the router process passes one
implementation (`sticky_router.metrics.PrometheusObserver`) to `RoutingService` and
`CallRecorder`, so the ARI path and the FastAGI path are counted alike. An observer that raises
is logged and ignored: counting must never cost a call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import structlog

log = structlog.get_logger("sticky_router.observer")


class RoutingObserver(Protocol):
    def decision_made(self, route: str, reason: str, seconds: float, queue: str) -> None:
        """One live decision (previews are not counted): its route, why, how long it took, and
        the queue the call came for."""

    def ring_ended(self, outcome: str) -> None:
        """An agent leg stopped ringing or talking, first report only: ANSWER, BUSY, NOANSWER..."""

    def detour_ended(self, rang: bool, seconds: float, found: Sequence[str]) -> None:
        """A sticky decision's walk over its candidates ended: whether an agent is rung (else
        the queue), the seconds it added to the caller's wait before that (checks, busy
        waits), and what each candidate looked at was found to be (`candidates.FOUND`)."""

    def wait_offered(self, choice: str) -> None:
        """A caller whose agent was busy was offered to wait (or, `not_offered`, would have
        been but for a long estimate): what they chose (`wait_offer.WaitChoice`)."""


def notify_decision(
    observer: RoutingObserver | None, route: str, reason: str, seconds: float, queue: str
) -> None:
    _tell(observer, lambda counted: counted.decision_made(route, reason, seconds, queue))


def notify_ring_ended(observer: RoutingObserver | None, outcome: str) -> None:
    _tell(observer, lambda counted: counted.ring_ended(outcome))


def notify_detour_ended(
    observer: RoutingObserver | None, rang: bool, seconds: float, found: Sequence[str]
) -> None:
    _tell(observer, lambda counted: counted.detour_ended(rang, seconds, found))


def notify_wait_offered(observer: RoutingObserver | None, choice: str) -> None:
    _tell(observer, lambda counted: counted.wait_offered(choice))


def _tell(observer: RoutingObserver | None, report: Callable[[RoutingObserver], None]) -> None:
    """One report to the observer, if any; one that raises is logged, never the caller's."""
    if observer is None:
        return
    try:
        report(observer)
    except Exception as error:
        log.warning("observer_failed", error=type(error).__name__)
