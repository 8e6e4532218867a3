"""Callbacks owned by an agent (migration 0016): the dialer's queue of work, and what the
agent's screen and the admin pages list.

States: pending (waiting for the agent to be free) -> dialling (one router took it; atomic, so
two routers never dial one callback) -> done (the caller answered) | back to pending after a
miss, not before `next_attempt_at` | failed (MAX_ATTEMPTS misses) | expired (its time ran out
while pending: it goes to the admin pages' list).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sticky_router.routing_core.store import Executor
from sticky_router.routing_core.store.agent_talk import LAST_TALK_ENDED

MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=2)  # after the caller did not answer, or the agent's phone
# A router that died while dialling leaves the row in `dialling`: taken back after this.
STUCK_AFTER = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class DueCallback:
    id: int
    agent_id: int
    agent: str  # name
    endpoint: str
    member_interface: str
    number: str
    queue: str
    # The agent pressed "call now": neither their pause nor their wrap-up holds it back.
    asked_now: bool = False
    last_talk_ended_at: datetime | None = None  # the end of their last answered call (wrap-up)


_DUE = f"""
    SELECT DISTINCT ON (c.agent_id)
           c.id, c.agent_id, a.name AS agent, a.endpoint,
           coalesce(a.queue_interface, a.endpoint) AS member_interface, c.number, c.queue,
           c.call_now_at IS NOT NULL AS asked_now,
           {LAST_TALK_ENDED} AS last_talk_ended_at
    FROM callbacks c JOIN agents a ON a.id = c.agent_id
    WHERE c.status = 'pending' AND c.expires_at > $1 AND a.active
      AND (c.next_attempt_at IS NULL OR c.next_attempt_at <= $1 OR c.call_now_at IS NOT NULL)
    ORDER BY c.agent_id, c.requested_at
"""


async def due(executor: Executor, now: datetime) -> list[DueCallback]:
    """The oldest callback each agent owns that may be dialled now."""
    return [DueCallback(**dict(row)) for row in await executor.fetch(_DUE, now)]


async def take(executor: Executor, callback_id: int, now: datetime) -> bool:
    """This process dials it; False when another took it first."""
    taken = await executor.fetchval(
        "UPDATE callbacks SET status = 'dialling', attempts = attempts + 1, last_attempt_at = $2,"
        " call_now_at = NULL WHERE id = $1 AND status = 'pending' RETURNING id",
        callback_id, now,
    )  # fmt: skip
    return taken is not None


async def finish(executor: Executor, callback_id: int, outcome: str, now: datetime) -> str:
    """How an attempt ended: `connected` closes it; a miss puts it back for later, until the
    attempts run out. The status it is left in."""
    status = await executor.fetchval(
        """
        UPDATE callbacks SET
            outcome = $2,
            status = CASE WHEN $2 = 'connected' THEN 'done'
                          WHEN attempts >= $4 THEN 'failed' ELSE 'pending' END,
            next_attempt_at = CASE WHEN $2 = 'connected' THEN NULL ELSE $3::timestamptz + $5 END,
            closed_at = CASE WHEN $2 = 'connected' OR attempts >= $4 THEN $3 END
        WHERE id = $1 AND status = 'dialling'
        RETURNING status
        """,
        callback_id, outcome, now, MAX_ATTEMPTS, RETRY_AFTER,
    )  # fmt: skip
    return str(status or "")


async def expire(executor: Executor, now: datetime) -> int:
    """Pending callbacks past their time, and attempts a dead router left `dialling`."""
    await executor.execute(
        "UPDATE callbacks SET status = 'pending' WHERE status = 'dialling'"
        " AND last_attempt_at < $1",
        now - STUCK_AFTER,
    )
    result = await executor.execute(
        "UPDATE callbacks SET status = 'expired', closed_at = $1"
        " WHERE status = 'pending' AND expires_at <= $1",
        now,
    )
    return int(result.split()[-1])


async def call_now(executor: Executor, callback_id: int, agent_id: int, now: datetime) -> bool:
    """The owning agent asks for it now: dialled at the next look, before a retry's time and
    even while they are paused (their phone must still be free)."""
    found = await executor.fetchval(
        "UPDATE callbacks SET call_now_at = $3 WHERE id = $1 AND agent_id = $2"
        " AND status = 'pending' RETURNING id",
        callback_id, agent_id, now,
    )  # fmt: skip
    return found is not None


_LISTED = """
    SELECT c.id, c.status, c.requested_at, c.expires_at, c.attempts, c.outcome, c.closed_at,
           c.next_attempt_at, a.name AS agent, cu.name AS customer, t.external_id AS ticket,
           right(c.number, 4) AS number_tail
    FROM callbacks c
    JOIN agents a ON a.id = c.agent_id
    LEFT JOIN customers cu ON cu.id = c.customer_id
    LEFT JOIN interactions i ON i.call_id = c.call_id
    LEFT JOIN tickets t ON t.id = i.ticket_id
"""


async def owed_by(executor: Executor, agent_id: int) -> list[dict[str, object]]:
    """What the agent's screen lists: the callbacks they owe, oldest first (the caller shown by
    name, ticket and the last four digits of the number)."""
    rows = await executor.fetch(
        _LISTED + " WHERE c.agent_id = $1 AND c.status IN ('pending', 'dialling')"
        " ORDER BY c.requested_at LIMIT 50",
        agent_id,
    )
    return [dict(row) for row in rows]


async def lapsed(executor: Executor, since: datetime) -> list[dict[str, object]]:
    """What the admin pages list: callbacks that expired or ran out of attempts since `since`,
    latest first; someone has to call these callers."""
    rows = await executor.fetch(
        _LISTED + " WHERE c.status IN ('expired', 'failed') AND c.closed_at >= $1"
        " ORDER BY c.closed_at DESC LIMIT 200",
        since,
    )
    return [dict(row) for row in rows]
