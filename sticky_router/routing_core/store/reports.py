"""What the dashboard shows, straight from the recorded calls (interactions and their legs).

A callback is *eligible* when the router named a preferred agent for it (route sticky) or had
one and had to exclude them (cap, do-not-pair, inactive); it is *connected* when the preferred
agent took it (outcome sticky). The recorder writes both (routing_core.store.recorder).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sticky_router.routing_core.decision import EXCLUSION_TO_QUEUE_REASON
from sticky_router.routing_core.store import Executor

EXCLUDED_REASONS = sorted({reason.value for reason in EXCLUSION_TO_QUEUE_REASON.values()})
ELIGIBLE = "(route = 'sticky' OR (route = 'queue' AND route_reason = ANY($3::text[])))"


@dataclass(frozen=True, slots=True)
class DayShare:
    day: datetime
    eligible: int
    connected: int

    @property
    def share(self) -> float:
        return self.connected / self.eligible if self.eligible else 0.0


@dataclass(frozen=True, slots=True)
class Outage:
    """An incident in force at some moment of the period (declared, or started by itself)."""

    scope_kind: str
    scope_value: str
    description: str
    started_at: datetime
    ended_at: datetime | None  # None: still in force
    started_by: str  # `automatic` or `admin:name`
    ended_by: str | None


@dataclass(frozen=True, slots=True)
class Dashboard:
    days: list[DayShare]
    misses: list[tuple[str, int]]  # reason, calls; most first
    answer_seconds: list[tuple[str, float, int]]  # kind of call, mean seconds to answer, calls
    load: list[tuple[str, int]]  # agent name, connected sticky callbacks; busiest first
    outages: list[Outage]  # latest first


async def dashboard(executor: Executor, since: datetime, until: datetime) -> Dashboard:
    days = await executor.fetch(
        f"""SELECT date_trunc('day', started_at) AS day,
                   count(*) FILTER (WHERE {ELIGIBLE}) AS eligible,
                   count(*) FILTER (WHERE route = 'sticky' AND outcome = 'sticky') AS connected
            FROM interactions WHERE started_at >= $1 AND started_at < $2
            GROUP BY 1 ORDER BY 1""",
        since, until, EXCLUDED_REASONS,
    )  # fmt: skip
    misses = await executor.fetch(
        f"""SELECT coalesce(CASE WHEN route = 'sticky' THEN outcome_reason END, route_reason,
                            outcome, 'unknown') AS reason, count(*) AS calls
            FROM interactions WHERE started_at >= $1 AND started_at < $2
              AND (({ELIGIBLE} AND coalesce(outcome, '') <> 'sticky')
                   OR route_reason = 'window_expired')
            GROUP BY 1 ORDER BY 2 DESC, 1""",
        since, until, EXCLUDED_REASONS,
    )  # fmt: skip
    answer = await executor.fetch(
        """SELECT CASE WHEN route = 'sticky' AND outcome = 'sticky' THEN 'sticky, connected'
                       WHEN route = 'sticky' THEN 'sticky, missed, then queue'
                       ELSE 'queue' END AS kind,
                  avg(extract(epoch FROM answered_at - started_at))::float8 AS seconds,
                  count(*) AS calls
           FROM interactions WHERE started_at >= $1 AND started_at < $2
             AND answered_at IS NOT NULL AND route IS NOT NULL
           GROUP BY 1 ORDER BY 1""",
        since, until,
    )  # fmt: skip
    load = await executor.fetch(
        """SELECT a.name, count(*) AS calls FROM interactions i
           JOIN agents a ON a.id = i.target_agent_id
           WHERE i.started_at >= $1 AND i.started_at < $2
             AND i.route = 'sticky' AND i.outcome = 'sticky'
           GROUP BY a.name ORDER BY 2 DESC, 1""",
        since, until,
    )  # fmt: skip
    outages = await executor.fetch(
        """SELECT scope_kind, scope_value, description, started_at, ended_at, started_by,
                  ended_by
           FROM incidents WHERE started_at < $2 AND (ended_at IS NULL OR ended_at >= $1)
           ORDER BY started_at DESC LIMIT 100""",
        since, until,
    )  # fmt: skip
    return Dashboard(
        outages=[Outage(**dict(r)) for r in outages],
        days=[DayShare(r["day"], r["eligible"], r["connected"]) for r in days],
        misses=[(r["reason"], r["calls"]) for r in misses],
        answer_seconds=[(r["kind"], r["seconds"], r["calls"]) for r in answer],
        load=[(r["name"], r["calls"]) for r in load],
    )
