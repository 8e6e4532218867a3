"""Finished calls waiting to be told to the ticket source, once per call id.

A call is queued at most once (`ticket_call_reports` is keyed by call id), so an end reported
twice (ARI and AMI, a replayed journal) queues nothing new. A reporter claims a batch for a
while before sending (FOR UPDATE SKIP LOCKED), so two processes never send the same call at
once; a sent report is never sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from sticky_router.routing_core.tickets import CallReport

# What the reporter tells the source about the agent's notes: the newest, bounded.
NOTE_LIMIT = 2000

_QUEUE = """
    INSERT INTO ticket_call_reports (call_id, source, queued_at)
    SELECT i.call_id, $1, $4 FROM interactions i
    WHERE i.ended_at IS NOT NULL AND i.ended_at >= $2 AND i.ended_at <= $3
    ON CONFLICT (call_id) DO NOTHING
"""

_CLAIM = """
    UPDATE ticket_call_reports r SET claimed_until = $3, attempts = r.attempts + 1
    WHERE r.call_id IN (
        SELECT call_id FROM ticket_call_reports
        WHERE source = $1 AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < $2)
        ORDER BY queued_at LIMIT $4
        FOR UPDATE SKIP LOCKED)
    RETURNING r.call_id, r.attempts, r.queued_at
"""

# The agent who talked last (or, nobody answered, the last one rung), the ticket's external id
# (a mirrored ticket's, or a built-in one's) and the newest note.
_REPORT = f"""
    SELECT i.call_id, i.caller_number, i.started_at, i.answered_at, i.ended_at,
           i.route, i.route_reason AS reason,
           coalesce(i.ticket_ref, t.external_id) AS ticket,
           (SELECT a.name FROM interaction_legs l JOIN agents a ON a.id = l.agent_id
            WHERE l.interaction_id = i.id
            ORDER BY l.answered_at IS NOT NULL DESC, l.ended_at DESC NULLS LAST LIMIT 1)
               AS agent_login,
           left(coalesce(
               (SELECT n.body FROM interaction_notes n WHERE n.interaction_id = i.id
                ORDER BY n.created_at DESC LIMIT 1), i.note), {NOTE_LIMIT}) AS note
    FROM interactions i LEFT JOIN tickets t ON t.id = i.ticket_id
    WHERE i.call_id = ANY($1::text[])
"""


@dataclass(frozen=True, slots=True)
class ClaimedReport:
    report: CallReport
    attempts: int
    queued_at: datetime


async def start_reporting(pool: asyncpg.Pool, source: str, at: datetime) -> datetime:
    """The time from which this source is told about calls: set once, the first time."""
    since = await pool.fetchval(
        """
        INSERT INTO ticket_source_state (source, reports_since) VALUES ($1, $2)
        ON CONFLICT (source) DO UPDATE
            SET reports_since = coalesce(ticket_source_state.reports_since, excluded.reports_since)
        RETURNING reports_since
        """,
        source,
        at,
    )
    assert isinstance(since, datetime)
    return since


async def queue_ended_calls(
    pool: asyncpg.Pool, source: str, since: datetime, settled_before: datetime, at: datetime
) -> int:
    """Queue the calls that ended after `since` and before `settled_before` (the wait lets an
    agent finish the note in wrap-up). Returns how many were new."""
    status = await pool.execute(_QUEUE, source, since, settled_before, at)
    return int(status.rsplit(" ", 1)[1])


async def claim_reports(
    pool: asyncpg.Pool, source: str, now: datetime, hold: timedelta, limit: int
) -> list[ClaimedReport]:
    async with pool.acquire() as connection, connection.transaction():
        claimed = {
            row["call_id"]: (row["attempts"], row["queued_at"])
            for row in await connection.fetch(_CLAIM, source, now, now + hold, limit)
        }
        if not claimed:
            return []
        rows = await connection.fetch(_REPORT, list(claimed))
    return [
        ClaimedReport(
            CallReport(
                call_id=row["call_id"],
                started_at=row["started_at"],
                ended_at=row["ended_at"],
                route=row["route"],
                reason=row["reason"],
                caller_number=row["caller_number"],
                ticket=row["ticket"],
                agent_login=row["agent_login"],
                answered_at=row["answered_at"],
                note=row["note"],
            ),
            *claimed[row["call_id"]],
        )
        for row in rows
    ]


async def mark_sent(pool: asyncpg.Pool, call_id: str, at: datetime) -> None:
    await pool.execute(
        "UPDATE ticket_call_reports SET status = 'sent', sent_at = $2, claimed_until = NULL, "
        "last_error = NULL WHERE call_id = $1",
        call_id,
        at,
    )


async def mark_failed(
    pool: asyncpg.Pool, call_id: str, error: str, *, retry_at: datetime | None
) -> None:
    """Try the report again from `retry_at` on (the claim doubles as "not before"), or give it
    up (`failed`, kept with its error) when `retry_at` is None."""
    await pool.execute(
        "UPDATE ticket_call_reports SET claimed_until = $3, last_error = $2, "
        "status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE status END "
        "WHERE call_id = $1",
        call_id,
        error[:200],
        retry_at,
    )
