"""Until when an agent may read and write a call's data: the access window.

An agent reads a call's pop (caller, tickets, the customer's history, notes) and acts on it
(notes, tickets, requests) only while the call rings or talks to them, and a while after:

- A leg they answered: while it is up, and `agent_access` (STICKY_AGENT_ACCESS_HOURS, default 4)
  after it ended - the wrap-up, a callback promised, a note written after the call. The leg's
  own end counts: an agent who handed the caller over loses the call 4 h after their part,
  however long the colleague talks. If the leg's end was never heard, the call's end counts;
  if neither was, the leg is taken as over `STALE_CALL` after it was answered (a lost event
  must not mean access for ever).
- A ring they did not answer (a ring-all queue's other members, a missed sticky ring): while
  it rings, and `RING_GRACE` after the ring was over - their leg ended, somebody answered the
  call after it began ringing for them, or the call ended, whichever came first (at the latest
  `LONGEST_RING` after it began). The pop on their screen was for deciding whether to pick up;
  once a colleague has the caller, the call is the colleague's. The grace lets a click already
  on its way when the colleague answered end normally.
- Several legs (rung twice, transferred back): the latest window of any of them.

Outside the window the call is answered as one that never rang the agent (NotYourCall: 404
`not_your_call`, the same body), so nothing tells that it exists. The customer's history is
shown only inside the pop of a call the agent may read now: it is the context for serving this
caller, never a page of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sticky_router.routing_core.store import Executor

RING_GRACE = timedelta(minutes=1)
LONGEST_RING = timedelta(minutes=10)
STALE_CALL = timedelta(hours=12)

# One row per ring of the agent: their legs, and their pop (a pop without a leg is a ring whose
# leg was not recorded: it counts as a ring that was not answered).
_ACCESS_UNTIL = """
    WITH call AS (SELECT id, started_at, ended_at FROM interactions WHERE id = $1),
    rings AS (
        SELECT coalesce(l.rang_at, l.answered_at, c.started_at) AS rang_at,
               l.answered_at, l.ended_at
        FROM interaction_legs l, call c
        WHERE l.interaction_id = c.id AND l.agent_id = $2
        UNION ALL
        SELECT p.rang_at, NULL, NULL FROM agent_pops p WHERE p.call_id = $3 AND p.agent_id = $2
    )
    SELECT max(CASE
        WHEN r.answered_at IS NOT NULL THEN
            coalesce(r.ended_at, c.ended_at, r.answered_at + $5::interval) + $4::interval
        ELSE
            -- least() skips NULLs: the first of the ends that are known
            least(r.ended_at, c.ended_at, r.rang_at + $6::interval,
                  (SELECT min(o.answered_at) FROM interaction_legs o
                   WHERE o.interaction_id = c.id AND o.answered_at >= r.rang_at))
            + $7::interval
        END)
    FROM rings r, call c
"""


async def access_until(
    connection: Executor, interaction_id: int, call_id: str, agent_id: int, access: timedelta
) -> datetime | None:
    """The end of the agent's window on this call; None if it never rang them."""
    until: datetime | None = await connection.fetchval(
        _ACCESS_UNTIL,
        interaction_id,
        agent_id,
        call_id,
        access,
        STALE_CALL,
        LONGEST_RING,
        RING_GRACE,
    )
    return until


async def may_access(
    connection: Executor,
    interaction_id: int,
    call_id: str,
    agent_id: int,
    now: datetime,
    access: timedelta,
) -> bool:
    until = await access_until(connection, interaction_id, call_id, agent_id, access)
    return until is not None and now < until
