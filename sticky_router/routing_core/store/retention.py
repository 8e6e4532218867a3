"""Retention: delete personal data older than its kind's setting, in short batches.

Each batch is a transaction of its own over at most `batch_rows` rows, taken with SKIP LOCKED
and a short lock timeout: a row a live call is writing is left for the next run, and the purge
never makes the routing's statements wait behind it. Old calls are added to
`interaction_daily_counts` in the same statement that deletes them, so a purged day keeps the
numbers the dashboard shows (calls by queue, route, reason, outcome and agent; answer times).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

# The calls' legs, notes and action trail go with them (ON DELETE CASCADE); what the dashboard
# counts stays, without any column that names a caller.
_CALLS = """
    WITH doomed AS (
        SELECT id FROM interactions WHERE started_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM interactions i USING doomed WHERE i.id = doomed.id
        RETURNING i.started_at, i.answered_at, i.queue, i.route, i.route_reason, i.outcome,
                  i.outcome_reason, i.target_agent_id
    ), counted AS (
        INSERT INTO interaction_daily_counts AS d (day, queue, route, route_reason, outcome,
            outcome_reason, target_agent, calls, answered, answer_seconds)
        SELECT (g.started_at AT TIME ZONE 'UTC')::date, g.queue, coalesce(g.route, ''),
               coalesce(g.route_reason, ''), coalesce(g.outcome, ''),
               coalesce(g.outcome_reason, ''), coalesce(a.name, ''), count(*),
               count(g.answered_at),
               coalesce(sum(extract(epoch FROM g.answered_at - g.started_at)), 0)::float8
        FROM gone g LEFT JOIN agents a ON a.id = g.target_agent_id
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (day, queue, route, route_reason, outcome, outcome_reason, target_agent)
        DO UPDATE SET calls = d.calls + excluded.calls, answered = d.answered + excluded.answered,
                      answer_seconds = d.answer_seconds + excluded.answer_seconds
    )
    SELECT count(*) FROM gone
"""


def _delete_older(table: str, older: str, key: str = "id") -> str:
    """One batch of `table`'s rows matching `older` ($1 the cutoff, $2 the batch size)."""
    return f"""
        WITH doomed AS (
            SELECT {key} AS doomed_key FROM {table} WHERE {older} LIMIT $2 FOR UPDATE SKIP LOCKED
        ), gone AS (
            DELETE FROM {table} t USING doomed WHERE t.{key} = doomed.doomed_key RETURNING 1
        )
        SELECT count(*) FROM gone
    """


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days each kind of data is kept (0: for ever), and rows per batch."""

    calls_days: int = 365
    notes_days: int = 365
    pops_days: int = 30
    expired_flags_days: int = 90
    audit_days: int = 1095
    batch_rows: int = 1000


@dataclass(frozen=True, slots=True)
class _Kind:
    name: str  # the metric's label: a closed set
    days: str  # the RetentionPolicy field
    statement: str


KINDS = (
    _Kind("calls", "calls_days", _CALLS),
    _Kind("notes", "notes_days", _delete_older("interaction_notes", "created_at < $1")),
    _Kind("actions", "notes_days", _delete_older("agent_actions", "at < $1")),
    # agent_pops has a two-column key; the row's physical address is enough inside one statement
    # that locked the row.
    _Kind("pops", "pops_days", _delete_older("agent_pops", "rang_at < $1", key="ctid")),
    # A ban or block still in force is kept whatever its age; a rejected request from its review.
    _Kind(
        "do_not_pair",
        "expired_flags_days",
        _delete_older(
            "do_not_pair",
            "(expires_at < $1"
            " OR (status = 'rejected' AND coalesce(reviewed_at, requested_at) < $1))",
        ),
    ),
    _Kind("caller_blocks", "expired_flags_days", _delete_older("caller_blocks", "expires_at < $1")),
    # A callback still owed is kept; a done, failed or expired one from when it closed.
    _Kind(
        "callbacks",
        "expired_flags_days",
        _delete_older(
            "callbacks",
            "coalesce(closed_at, expires_at) < $1 AND status NOT IN ('pending', 'dialling')",
        ),
    ),
    _Kind("settings_audit", "audit_days", _delete_older("settings_audit", "at < $1")),
    _Kind("erasure_audit", "audit_days", _delete_older("erasure_audit", "at < $1")),
)
KIND_NAMES = tuple(kind.name for kind in KINDS)
# Long enough for a batch's row locks, short enough that a live call's write is never queued
# behind a purge for longer than a decision's database budget would notice twice.
LOCK_TIMEOUT = "500ms"


@dataclass
class Purged:
    """What one purge did: rows deleted by kind, batches run, kinds put off (a lock was held)."""

    rows: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    deferred: list[str] = field(default_factory=list)


async def purge(
    pool: asyncpg.Pool, policy: RetentionPolicy, now: datetime, *, pause: float = 0.01
) -> Purged:
    """Delete what is older than each kind's retention, batch after batch; `pause` seconds
    between batches let the routing's queries through."""
    purged = Purged()
    for kind in KINDS:
        days: int = getattr(policy, kind.days)
        purged.rows[kind.name] = 0
        if days == 0:
            continue
        cutoff = now - timedelta(days=days)
        while True:
            try:
                async with pool.acquire() as connection, connection.transaction():
                    await connection.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    deleted = await connection.fetchval(kind.statement, cutoff, policy.batch_rows)
            except asyncpg.LockNotAvailableError:
                purged.deferred.append(kind.name)  # next run; a live call comes first
                break
            purged.batches += 1
            purged.rows[kind.name] += deleted
            if deleted < policy.batch_rows:
                break
            await asyncio.sleep(pause)
    return purged
