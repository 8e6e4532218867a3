"""Sticky claims: an agent is promised to at most one ringing callback at a time.

Two callbacks from the same caller a second apart both find the same last agent. Without a claim
both would ring that agent; with it, the second sees the live claim and goes to the queue. The
partial unique index (one live claim per agent) decides, so it holds across router processes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sticky_router.routing_core.store import Executor

# Releasing an expired claim and taking the agent happen in one statement: the row the CTE
# releases no longer counts against the partial unique index for the INSERT of the same statement.
_CLAIM = """
    WITH expired AS (
        UPDATE sticky_claims SET released_at = $3, outcome = 'expired'
        WHERE agent_id = $2 AND released_at IS NULL AND expires_at <= $3
        RETURNING id
    )
    INSERT INTO sticky_claims (call_id, agent_id, claimed_at, expires_at)
    SELECT $1, $2, $3, $4 FROM (SELECT count(*) FROM expired) AS released
    ON CONFLICT DO NOTHING
    RETURNING id
"""
_OURS = """
    SELECT true FROM sticky_claims WHERE call_id = $1 AND agent_id = $2 AND released_at IS NULL
"""


async def claim_agent(
    connection: Executor,
    call_id: str,
    agent_id: int,
    now: datetime,
    hold: timedelta,
) -> bool:
    """True when this call holds the agent now (also if it already did: claiming is idempotent)."""
    claimed = await connection.fetchval(_CLAIM, call_id, agent_id, now, now + hold)
    if claimed is not None:
        return True
    return bool(await connection.fetchval(_OURS, call_id, agent_id))


async def release_claims(connection: Executor, call_id: str, outcome: str, at: datetime) -> int:
    """Let the call's agents go. `outcome` `answered` keeps counting against the hourly cap."""
    status = await connection.execute(
        "UPDATE sticky_claims SET released_at = $3, outcome = $2 "
        "WHERE call_id = $1 AND released_at IS NULL",
        call_id,
        outcome,
        at,
    )
    return int(status.split()[-1])


async def release_claim(
    connection: Executor, call_id: str, agent_id: int, outcome: str, at: datetime
) -> bool:
    """Let one agent go: a candidate passed over while the call tries the next."""
    status = await connection.execute(
        "UPDATE sticky_claims SET released_at = $4, outcome = $3 "
        "WHERE call_id = $1 AND agent_id = $2 AND released_at IS NULL",
        call_id,
        agent_id,
        outcome,
        at,
    )
    return status != "UPDATE 0"
