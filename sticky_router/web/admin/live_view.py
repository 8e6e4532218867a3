"""The supervisors' live view as data: calls in progress with their decision and state, agents
as the router sees them with their sticky load this hour, and the latest misses with their
reason. JSON for the page's websocket; words are the page's (keys under live., reason.).

What a supervisor sees of a caller is the number's last four digits: enough to tell two calls
apart, not a list of subscribers' numbers on a wall screen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from sticky_router.routing_core.live import AgentState, MemberFacts, agent_state
from sticky_router.routing_core.settings import Scope, ScopedValue, resolve_settings
from sticky_router.routing_core.store.live import (
    AgentRecord,
    CallInFlight,
    agent_records,
    calls_in_flight,
    latest_misses,
)


def masked(number: str | None) -> str:
    digits = "".join(ch for ch in number or "" if ch.isdigit())
    return f"…{digits[-4:]}" if len(digits) >= 4 else "…"


def call_state(call: CallInFlight) -> str:
    """ringing_agent, waiting_agent, in_queue, ringing_queue, talking, blocked or deciding."""
    if call.answered or call.leg_answered:
        return "talking"
    if call.route == "blocked":
        return "blocked"
    if call.route == "sticky":
        return "ringing_agent" if call.leg_agent else "waiting_agent"
    if call.route == "queue":
        return "ringing_queue" if call.leg_agent else "in_queue"
    return "deciding"


def _seconds(since: datetime, now: datetime) -> int:
    return max(0, int((now - since).total_seconds()))


def _agent(
    record: AgentRecord, board: Sequence[MemberFacts] | None, wrap_up: int, now: datetime
) -> dict[str, Any]:
    mine = [m for m in board or () if m.interface.casefold() == record.member_interface.casefold()]
    wrapping_up = bool(
        wrap_up and record.last_talk_ended_at
        and now - record.last_talk_ended_at < timedelta(seconds=wrap_up)
    )  # fmt: skip
    state = (
        agent_state(mine, wrapping_up=wrapping_up, ringing=record.ringing, talking=record.talking)
        if board is not None
        else None
    )
    return {
        "name": record.name,
        "display_name": record.display_name,
        "state": state.value if state is not None else "unknown",
        "queues": sorted(m.queue for m in mine),
        "pause_reason": next((m.pause_reason for m in mine if m.paused and m.pause_reason), ""),
        "sticky_this_hour": record.sticky_this_hour,
    }


async def _wrap_up_seconds(pool: asyncpg.Pool) -> int:
    rows = await pool.fetch(
        "SELECT scope_kind, scope_value, key, value::text AS value FROM routing_settings "
        "WHERE key = 'wrap_up_seconds' AND scope_kind = 'global'"
    )
    resolved = resolve_settings(
        [ScopedValue(Scope(r["scope_kind"]), None, r["key"], json.loads(r["value"]))
         for r in rows],
        queue=None, did=None, customer_class=None,
    )  # fmt: skip
    return resolved.values.wrap_up_seconds


async def snapshot(
    pool: asyncpg.Pool, board: Sequence[MemberFacts] | None, now: datetime
) -> dict[str, Any]:
    calls = await calls_in_flight(pool, now)
    records = await agent_records(pool, now)
    misses = await latest_misses(pool, now)
    wrap_up = await _wrap_up_seconds(pool)
    return {
        "type": "live",
        # Without AMI the router cannot say who is logged in or paused: the page says so.
        "agents_known": board is not None,
        "calls": [
            {
                "caller": masked(c.caller_number),
                "queue": c.queue,
                "state": call_state(c),
                "reason": c.reason or "",
                "missed_because": c.missed_because or "",
                "agent": c.leg_agent or c.preferred_agent or "",
                "seconds": _seconds(c.started_at, now),
            }
            for c in calls
        ],
        "agents": [_agent(r, board, wrap_up, now) for r in records],
        "misses": [
            {
                "at": m.started_at.strftime("%H:%M:%S"),
                "queue": m.queue,
                "reason": m.reason,
                "agent": m.preferred_agent or "",
            }
            for m in misses
        ],
    }


AGENT_STATES = (*(state.value for state in AgentState), "unknown")
CALL_STATES = ("ringing_agent", "waiting_agent", "in_queue", "ringing_queue", "talking",
               "blocked", "deciding")  # fmt: skip
