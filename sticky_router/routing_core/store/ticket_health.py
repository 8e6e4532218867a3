"""An external ticket source's health, as the admin API and the admin page show it: one read of
`ticket_source_state` with the mirror's and the call reports' counts, and what state that is.

Only sources that ever synced or reported have a row: the built-in tables have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import asyncpg

_HEALTH = """
    SELECT s.source, s.last_sync_at, s.last_full_sync_at, s.newest_update, s.last_error,
           s.last_error_at, s.failures_in_a_row, s.reports_since,
           (SELECT count(*) FROM ticket_mirror m WHERE m.source = s.source) AS open_tickets,
           (SELECT count(*) FROM ticket_call_reports r
            WHERE r.source = s.source AND r.status = 'pending') AS reports_pending,
           (SELECT count(*) FROM ticket_call_reports r
            WHERE r.source = s.source AND r.status = 'failed') AS reports_given_up
    FROM ticket_source_state s ORDER BY s.source
"""


class HealthState(StrEnum):
    HEALTHY = "healthy"
    # The last sync failed; a success resets the count (ticket_mirror.apply_changes).
    FAILING = "failing"
    # A row without a sync: the call reporter started first, or no sync has finished yet.
    NEVER_SYNCED = "never_synced"


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """The field names are the admin API's JSON keys."""

    source: str
    last_sync_at: datetime | None
    last_full_sync_at: datetime | None
    newest_update: datetime | None
    last_error: str | None  # a failure kind and an HTTP status at most: never a token or data
    last_error_at: datetime | None
    failures_in_a_row: int
    reports_since: datetime | None
    open_tickets: int
    reports_pending: int
    reports_given_up: int

    @classmethod
    def not_yet(cls, source: str) -> SourceHealth:
        """A source configured but without a row: nothing has run yet."""
        return cls(source, None, None, None, None, None, 0, None, 0, 0, 0)

    @property
    def state(self) -> HealthState:
        if self.failures_in_a_row > 0:
            return HealthState.FAILING
        if self.last_sync_at is None:
            return HealthState.NEVER_SYNCED
        return HealthState.HEALTHY


async def source_health(pool: asyncpg.Pool) -> list[SourceHealth]:
    """Every source with a row, by name; empty with the built-in tables."""
    return [SourceHealth(**dict(row)) for row in await pool.fetch(_HEALTH)]
