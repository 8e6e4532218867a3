"""Metric labels stay bounded whatever a peer sends: queue names count per queue up to a limit,
and what a walk found is one of a closed set."""

from __future__ import annotations

from sticky_router.process.metrics import MAX_QUEUES, PrometheusObserver


def calls(metrics: PrometheusObserver, queue: str) -> float | None:
    return metrics.registry.get_sample_value(
        "sticky_router_calls_total", {"route": "queue", "reason": "busy", "queue": queue}
    )


def test_decisions_count_per_queue() -> None:
    metrics = PrometheusObserver()
    metrics.decision_made("queue", "busy", 0.001, "support")
    metrics.decision_made("queue", "busy", 0.001, "support")
    metrics.decision_made("queue", "busy", 0.001, "Billing-2")
    assert calls(metrics, "support") == 2
    assert calls(metrics, "billing2") == 1  # the label keeps letters, digits and _


def test_queues_beyond_the_limit_count_as_other() -> None:
    """A forged AGI request naming a new queue every time cannot grow the series without end."""
    metrics = PrometheusObserver()
    for number in range(MAX_QUEUES + 25):
        metrics.decision_made("queue", "busy", 0.001, f"q{number}")
    metrics.decision_made("queue", "busy", 0.001, "q0")  # a known one keeps its own series
    assert calls(metrics, "q0") == 2
    assert calls(metrics, f"q{MAX_QUEUES - 1}") == 1
    assert calls(metrics, f"q{MAX_QUEUES}") is None
    assert calls(metrics, "other") == 25


def test_a_walk_counts_its_wait_by_ending_and_its_candidates_by_what_they_were() -> None:
    metrics = PrometheusObserver()
    sample = metrics.registry.get_sample_value
    assert sample("sticky_router_candidate_checks_total", {"found": "offline"}) == 0
    assert sample("sticky_router_detour_seconds_count", {"ending": "queue"}) == 0
    metrics.detour_ended(True, 2.5, ["busy", "claimed_elsewhere", "free"])
    metrics.detour_ended(False, 0.004, ["offline", "no such state"])
    assert sample("sticky_router_detour_seconds_count", {"ending": "rang"}) == 1
    assert sample("sticky_router_detour_seconds_sum", {"ending": "rang"}) == 2.5
    assert sample("sticky_router_detour_seconds_bucket", {"ending": "queue", "le": "0.005"}) == 1
    for found in ("busy", "claimed_elsewhere", "free", "offline", "other"):
        assert sample("sticky_router_candidate_checks_total", {"found": found}) == 1
