"""A ticket source's state from its row: a failure in a row wins, then whether it ever synced."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sticky_router.routing_core.store.ticket_health import HealthState, SourceHealth

SYNCED = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def health(last_sync_at: datetime | None, failures_in_a_row: int) -> SourceHealth:
    return SourceHealth(
        source="http", last_sync_at=last_sync_at, last_full_sync_at=last_sync_at,
        newest_update=None, last_error="timeout: tickets: no answer in time",
        last_error_at=SYNCED, failures_in_a_row=failures_in_a_row, reports_since=None,
        open_tickets=0, reports_pending=0, reports_given_up=0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("last_sync_at", "failures", "state"),
    [
        (SYNCED, 0, HealthState.HEALTHY),  # an old error after a good sync is history
        (SYNCED, 3, HealthState.FAILING),
        (None, 1, HealthState.FAILING),
        (None, 0, HealthState.NEVER_SYNCED),
    ],
)
def test_the_state_of_a_source_row(
    last_sync_at: datetime | None, failures: int, state: HealthState
) -> None:
    assert health(last_sync_at, failures).state is state
