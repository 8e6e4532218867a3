"""What the supervisors' live view reads from the recorded calls: calls still in progress, each
agent's sticky load this hour and last conversation, and the latest callbacks that missed their
agent (the dashboard's definition of a miss, store/reports.py).

Bounded reads only: a call counts as in progress for IN_FLIGHT_HOURS at most (a call whose end
was never heard must not stay on the board for ever), and every list has a limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sticky_router.routing_core.store import Executor
from sticky_router.routing_core.store.agent_talk import LAST_TALK_ENDED
from sticky_router.routing_core.store.reports import ELIGIBLE, EXCLUDED_REASONS

IN_FLIGHT_HOURS = 4
CALLS_SHOWN = 50
MISSES_SHOWN = 10
RING_SECONDS = 300  # no ring lasts longer (the ring timeout is at most 120 s)


@dataclass(frozen=True, slots=True)
class CallInFlight:
    started_at: datetime
    caller_number: str | None
    queue: str
    route: str | None  # None while the router is still deciding
    reason: str | None
    # Why a sticky decision still went to the queue (busy, paused, no_answer...), once known.
    missed_because: str | None
    preferred_agent: str | None
    leg_agent: str | None  # the agent whose phone rings or who talks, newest leg first
    leg_answered: bool
    answered: bool


@dataclass(frozen=True, slots=True)
class AgentRecord:
    name: str
    display_name: str
    member_interface: str
    sticky_this_hour: int
    last_talk_ended_at: datetime | None
    ringing: bool  # a leg of theirs rings now (recorded)
    talking: bool  # a leg of theirs is answered and not ended


@dataclass(frozen=True, slots=True)
class Miss:
    started_at: datetime
    queue: str
    reason: str
    preferred_agent: str | None


async def calls_in_flight(executor: Executor, now: datetime) -> list[CallInFlight]:
    rows = await executor.fetch(
        """
        SELECT i.started_at, i.caller_number, i.queue, i.route, i.route_reason,
               CASE WHEN i.route = 'sticky' AND i.outcome IS DISTINCT FROM 'sticky'
                    THEN i.outcome_reason END AS missed_because,
               i.answered_at IS NOT NULL AS answered, t.display_name AS preferred,
               leg.name AS leg_agent, coalesce(leg.answered, false) AS leg_answered
        FROM interactions i
        LEFT JOIN agents t ON t.id = i.target_agent_id
        LEFT JOIN LATERAL (
            SELECT a.display_name AS name, l.answered_at IS NOT NULL AS answered
            FROM interaction_legs l JOIN agents a ON a.id = l.agent_id
            WHERE l.interaction_id = i.id AND l.ended_at IS NULL
            ORDER BY l.answered_at IS NOT NULL DESC, l.id DESC LIMIT 1
        ) leg ON true
        WHERE i.ended_at IS NULL AND i.started_at > $1
        ORDER BY i.started_at DESC LIMIT $2
        """,
        now - timedelta(hours=IN_FLIGHT_HOURS), CALLS_SHOWN,
    )  # fmt: skip
    return [
        CallInFlight(r["started_at"], r["caller_number"], r["queue"], r["route"],
                     r["route_reason"], r["missed_because"], r["preferred"], r["leg_agent"],
                     r["leg_answered"], r["answered"])
        for r in rows
    ]  # fmt: skip


async def agent_records(executor: Executor, now: datetime) -> list[AgentRecord]:
    rows = await executor.fetch(
        f"""
        WITH load AS (
            SELECT target_agent_id AS agent_id, count(*) AS calls FROM interactions
            WHERE started_at > $1 AND route = 'sticky' AND outcome = 'sticky'
            GROUP BY 1
        )
        SELECT a.name, a.display_name, coalesce(a.queue_interface, a.endpoint) AS member,
               coalesce(load.calls, 0) AS sticky_this_hour,
               {LAST_TALK_ENDED} AS last_talk,
               coalesce(open.ringing, false) AS ringing, coalesce(open.talking, false) AS talking
        FROM agents a LEFT JOIN load ON load.agent_id = a.id
        LEFT JOIN LATERAL (
            -- Legs still open: ringing ones no older than any ring can last, answered ones
            -- within the hours a call counts as in progress.
            SELECT bool_or(l.answered_at IS NULL AND l.rang_at > $2) AS ringing,
                   bool_or(l.answered_at IS NOT NULL AND l.answered_at > $3) AS talking
            FROM interaction_legs l
            WHERE l.agent_id = a.id AND l.ended_at IS NULL AND l.rang_at > $3
        ) open ON true
        WHERE a.active ORDER BY a.name
        """,
        now - timedelta(hours=1), now - timedelta(seconds=RING_SECONDS),
        now - timedelta(hours=IN_FLIGHT_HOURS),
    )  # fmt: skip
    return [AgentRecord(r["name"], r["display_name"], r["member"], r["sticky_this_hour"],
                        r["last_talk"], r["ringing"], r["talking"]) for r in rows]  # fmt: skip


async def latest_misses(executor: Executor, now: datetime) -> list[Miss]:
    rows = await executor.fetch(
        f"""
        SELECT i.started_at, i.queue, t.display_name AS preferred,
               coalesce(CASE WHEN route = 'sticky' THEN outcome_reason END, route_reason,
                        outcome, 'unknown') AS reason
        FROM interactions i LEFT JOIN agents t ON t.id = i.target_agent_id
        WHERE i.started_at > $1
          AND (i.outcome IS NOT NULL OR i.ended_at IS NOT NULL)
          AND (({ELIGIBLE} AND coalesce(outcome, '') <> 'sticky')
               OR route_reason = 'window_expired')
        ORDER BY i.started_at DESC LIMIT $2
        """,
        now - timedelta(hours=IN_FLIGHT_HOURS), MISSES_SHOWN, EXCLUDED_REASONS,
    )  # fmt: skip
    return [Miss(r["started_at"], r["queue"], r["reason"], r["preferred"]) for r in rows]
