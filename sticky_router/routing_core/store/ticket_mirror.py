"""The local mirror of an external source's open tickets: written by the sync runner, read by
the lookup in one statement, so the decision never waits for the source.

Only open and pending tickets are kept: a ticket the source reports resolved or closed leaves
the mirror, and a full resync drops whatever the source no longer lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from sticky_router.routing_core.model import CallerKey, KeyKind, Ticket
from sticky_router.routing_core.store import Connection
from sticky_router.routing_core.tickets import TicketChange

# The most open tickets one lookup reads: the policy needs the newest, the pop shows five.
MIRROR_TICKETS_READ = 20
# An error text kept as the source's health: bounded (the column's CHECK) and never a secret,
# since adapters build it from a failure kind and an HTTP status, never from the request.
ERROR_TEXT_LIMIT = 200

_UPSERT = """
    INSERT INTO ticket_mirror (source, external_id, customer_ref, customer_class, account_number,
                               phone_numbers, status, owner_login, subject, updated_at, synced_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (source, external_id) DO UPDATE SET
        customer_ref = excluded.customer_ref, customer_class = excluded.customer_class,
        account_number = excluded.account_number, phone_numbers = excluded.phone_numbers,
        status = excluded.status, owner_login = excluded.owner_login, subject = excluded.subject,
        updated_at = excluded.updated_at, synced_at = excluded.synced_at
    -- a late incremental page must not undo a newer state of the same ticket; a full resync
    -- is the source's whole truth, and what it lists must survive its sweep ($12)
    WHERE $12 OR ticket_mirror.updated_at <= excluded.updated_at
"""

# One statement for every key the caller has: the keyed ticket ranks first, then the account,
# then the number (routing.md's caller key order). Each arm can use its own index.
_FIND = f"""
    SELECT m.external_id, m.customer_ref, m.status, m.subject, m.updated_at, a.id AS owner_id,
           CASE WHEN m.external_id = $2 THEN 0 WHEN m.account_number = $3 THEN 1 ELSE 2 END
               AS key_rank
    FROM ticket_mirror m
    LEFT JOIN agents a ON a.name = m.owner_login
    WHERE m.source = $1 AND m.status IN ('open', 'pending')
      AND (m.external_id = $2 OR m.account_number = $3 OR m.phone_numbers @> ARRAY[$4]::text[])
    ORDER BY key_rank, m.updated_at DESC
    LIMIT {MIRROR_TICKETS_READ}
"""


@dataclass(frozen=True, slots=True)
class MirrorMatch:
    """The strongest key the mirror knows, and the open tickets it names (newest first)."""

    key: CallerKey
    tickets: tuple[Ticket, ...]
    customers: int  # how many of the source's customers the key names (2+: a shared number)


@dataclass(frozen=True, slots=True)
class SourceState:
    source: str
    newest_update: datetime | None
    last_sync_at: datetime | None
    last_full_sync_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failures_in_a_row: int


async def find_mirrored(
    connection: Connection, source: str, keys: Sequence[CallerKey]
) -> MirrorMatch | None:
    by_kind = {key.kind: key for key in reversed(keys)}  # the first key of each kind wins
    wanted = [by_kind.get(kind) for kind in (KeyKind.TICKET, KeyKind.ACCOUNT, KeyKind.NUMBER)]
    rows = await connection.fetch(_FIND, source, *(key.value if key else None for key in wanted))
    if not rows:
        return None
    best = rows[0]["key_rank"]
    key = wanted[best]
    assert key is not None  # a row matched on this rank's value
    matched = [row for row in rows if row["key_rank"] == best]
    tickets = tuple(
        Ticket(
            id=0,
            external_id=row["external_id"],
            customer_id=0,
            subject=row["subject"],
            status=row["status"],
            owner_agent_id=row["owner_id"],
            last_faults=None,
            promised_by=None,
            updated_at=row["updated_at"],
            mirrored_from=source,
        )
        for row in matched
    )
    return MirrorMatch(key, tickets, len({row["customer_ref"] for row in matched}))


async def apply_changes(
    pool: asyncpg.Pool,
    source: str,
    changes: Sequence[TicketChange],
    *,
    full: bool,
    synced_at: datetime,
) -> int:
    """Write what the source said in one transaction; returns how many open tickets it holds.
    A full resync also drops the tickets of this source it did not list."""
    open_rows = []
    gone = []
    for change in changes:
        ticket, customer = change.ticket, change.customer
        if not ticket.status.is_open:
            gone.append(ticket.external_id)
            continue
        open_rows.append(
            (
                source, ticket.external_id, customer.ref, customer.class_name,
                customer.account_number, list(customer.phone_numbers), ticket.status.value,
                ticket.owner_login, ticket.subject, ticket.updated_at, synced_at, full,
            )
        )  # fmt: skip
    newest = max((change.ticket.updated_at for change in changes), default=None)
    async with pool.acquire() as connection, connection.transaction():
        if open_rows:
            await connection.executemany(_UPSERT, open_rows)
        if gone:
            await connection.execute(
                "DELETE FROM ticket_mirror WHERE source = $1 AND external_id = ANY($2::text[])",
                source,
                gone,
            )
        if full:
            await connection.execute(
                "DELETE FROM ticket_mirror WHERE source = $1 AND synced_at < $2", source, synced_at
            )
        await connection.execute(
            """
            INSERT INTO ticket_source_state (source, newest_update, last_sync_at,
                                             last_full_sync_at, failures_in_a_row)
            VALUES ($1, $2, $3::timestamptz, CASE WHEN $4::boolean THEN $3::timestamptz END, 0)
            ON CONFLICT (source) DO UPDATE SET
                newest_update = greatest(ticket_source_state.newest_update, excluded.newest_update),
                last_sync_at = excluded.last_sync_at,
                last_full_sync_at = coalesce(excluded.last_full_sync_at,
                                             ticket_source_state.last_full_sync_at),
                failures_in_a_row = 0
            """,
            source,
            newest,
            synced_at,
            full,
        )
    return len(open_rows)


async def record_failure(pool: asyncpg.Pool, source: str, error: str, at: datetime) -> None:
    await pool.execute(
        """
        INSERT INTO ticket_source_state (source, last_error, last_error_at, failures_in_a_row)
        VALUES ($1, $2, $3, 1)
        ON CONFLICT (source) DO UPDATE SET
            last_error = excluded.last_error, last_error_at = excluded.last_error_at,
            failures_in_a_row = ticket_source_state.failures_in_a_row + 1
        """,
        source,
        error[:ERROR_TEXT_LIMIT],
        at,
    )


async def source_state(pool: asyncpg.Pool, source: str) -> SourceState | None:
    row = await pool.fetchrow(
        """
        SELECT source, newest_update, last_sync_at, last_full_sync_at, last_error,
               last_error_at, failures_in_a_row
        FROM ticket_source_state WHERE source = $1
        """,
        source,
    )
    return SourceState(**dict(row)) if row is not None else None
