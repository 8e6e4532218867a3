"""What an agent may do about a call that rang them, as database writes.

Only within the agent's access window on the call (web/pops/call_access.py): `call_of_agent` is the
gate every action passes.

Notes, tickets (link, open, resolve, promise a follow-up) apply at once. "Don't route this
caller to me" and abuse flags are requests: they wait, `pending`, for a supervisor's review
(the admin pages), and the routing core only honours approved ones, so one agent alone never
blocks anyone. Every action is also written to `agent_actions`, the trail a supervisor reads.
Each function refuses with a WebError (an InvalidField naming the field at fault); nothing is
half-written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from sticky_router.routing_core.store import Connection
from sticky_router.web.errors import InvalidField, WebError
from sticky_router.web.i18n.screen import ABUSE_REASONS
from sticky_router.web.pops.call_access import may_access

MAX_NOTE = 4000
MAX_SUBJECT = 200
MAX_PROMISE_AHEAD = timedelta(days=90)


@dataclass(frozen=True)
class CallOfAgent:
    """A call that rang this agent: what the actions need of it."""

    interaction_id: int
    call_id: str
    agent_id: int
    agent_name: str
    customer_id: int | None
    caller_number: str | None
    ticket_id: int | None


async def call_of_agent(
    pool: asyncpg.Pool,
    call_id: str,
    agent_id: int,
    agent_name: str,
    now: datetime,
    access: timedelta,
) -> CallOfAgent | None:
    """The call, if it is in this agent's access window (web/pops/call_access.py): it rings or
    talks to them now, or did so recently enough; None otherwise, as for a call that never rang
    them."""
    row = await pool.fetchrow(
        "SELECT i.id, i.customer_id, i.caller_number, i.ticket_id FROM interactions i "
        "WHERE i.call_id = $1",
        call_id,
    )
    if row is None or not await may_access(pool, row["id"], call_id, agent_id, now, access):
        return None
    return CallOfAgent(
        row["id"], call_id, agent_id, agent_name, row["customer_id"], row["caller_number"],
        row["ticket_id"],
    )  # fmt: skip


def text_field(body: dict[str, Any], name: str, limit: int, required: bool = True) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise InvalidField(name, f"{name}: must be text", status=400)
    value = value.strip()
    if required and not value:
        raise InvalidField(name, f"{name}: must not be empty", status=400)
    if len(value) > limit:
        raise InvalidField(name, f"{name}: at most {limit} characters", status=400)
    return value


async def trail(connection: Connection, call: CallOfAgent, action: str, **detail: Any) -> None:
    await connection.execute(
        "INSERT INTO agent_actions (interaction_id, agent_id, action, detail) "
        "VALUES ($1, $2, $3, $4::jsonb)",
        call.interaction_id,
        call.agent_id,
        action,
        json.dumps(detail, default=str),
    )


async def add_note(pool: asyncpg.Pool, call: CallOfAgent, body: dict[str, Any]) -> None:
    text = text_field(body, "text", MAX_NOTE)
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            "INSERT INTO interaction_notes (interaction_id, agent_id, body) VALUES ($1, $2, $3)",
            call.interaction_id,
            call.agent_id,
            text,
        )
        await trail(connection, call, "note")


def _need_customer(call: CallOfAgent) -> int:
    if call.customer_id is None:
        raise WebError(
            409, "customer_unknown", "customer: choose who is calling first (shared or unknown)"
        )
    return call.customer_id


def _need_ticket(call: CallOfAgent) -> int:
    if call.ticket_id is None:
        raise WebError(409, "no_ticket", "ticket: link the call to a ticket or open one first")
    return call.ticket_id


async def link_ticket(pool: asyncpg.Pool, call: CallOfAgent, body: dict[str, Any]) -> None:
    customer_id = _need_customer(call)
    external_id = text_field(body, "ticket", 64)
    async with pool.acquire() as connection, connection.transaction():
        ticket_id = await connection.fetchval(
            "SELECT id FROM tickets WHERE external_id = $1 AND customer_id = $2",
            external_id,
            customer_id,
        )
        if ticket_id is None:
            raise WebError(404, "unknown_ticket", f"ticket: no ticket {external_id} of this caller")
        await connection.execute(
            "UPDATE interactions SET ticket_id = $2 WHERE id = $1", call.interaction_id, ticket_id
        )
        await trail(connection, call, "link_ticket", ticket=external_id)


async def open_ticket(
    pool: asyncpg.Pool, call: CallOfAgent, body: dict[str, Any], now: datetime
) -> str:
    customer_id = _need_customer(call)
    subject = text_field(body, "subject", MAX_SUBJECT)
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            """
            INSERT INTO tickets (external_id, customer_id, subject, owner_agent_id,
                                 created_at, updated_at)
            VALUES ('T-' || nextval('ticket_numbers'), $1, $2, $3, $4, $4)
            RETURNING id, external_id
            """,
            customer_id,
            subject,
            call.agent_id,
            now,
        )
        assert row is not None
        await connection.execute(
            "UPDATE interactions SET ticket_id = $2 WHERE id = $1", call.interaction_id, row["id"]
        )
        await trail(connection, call, "open_ticket", ticket=row["external_id"])
    return str(row["external_id"])


async def resolve(pool: asyncpg.Pool, call: CallOfAgent, now: datetime) -> None:
    ticket_id = _need_ticket(call)
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            "UPDATE tickets SET status = 'resolved', updated_at = $2 WHERE id = $1", ticket_id, now
        )
        await trail(connection, call, "resolve", ticket_id=ticket_id)


async def promise(
    pool: asyncpg.Pool, call: CallOfAgent, body: dict[str, Any], now: datetime
) -> None:
    ticket_id = _need_ticket(call)
    raw = body.get("by")
    try:
        by = datetime.fromisoformat(str(raw))
    except ValueError:
        raise InvalidField("by", "by: expected a date and time", status=400) from None
    if by.tzinfo is None:
        raise InvalidField("by", "by: the time must carry its time zone", status=400)
    if not now < by <= now + MAX_PROMISE_AHEAD:
        raise InvalidField("by", "by: must be in the future, within 90 days", status=400)
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            "UPDATE tickets SET promised_by = $2, updated_at = $3 WHERE id = $1", ticket_id, by, now
        )
        await trail(connection, call, "promise", ticket_id=ticket_id, by=by.isoformat())


async def _request_pairing_ban(
    pool: asyncpg.Pool, call: CallOfAgent, kind: str, reason: str, comment: str
) -> None:
    if call.customer_id is None and call.caller_number is None:
        raise WebError(409, "caller_unknown", "caller: no customer and no number to flag")
    async with pool.acquire() as connection, connection.transaction():
        exists = await connection.fetchval(
            """
            SELECT 1 FROM do_not_pair
            WHERE agent_id = $1 AND kind = $2 AND status IN ('pending', 'approved')
              AND customer_id IS NOT DISTINCT FROM $3 AND e164 IS NOT DISTINCT FROM $4
            """,
            call.agent_id,
            kind,
            call.customer_id,
            None if call.customer_id is not None else call.caller_number,
        )
        if not exists:
            await connection.execute(
                """
                INSERT INTO do_not_pair (customer_id, e164, agent_id, kind, reason, status,
                                         requested_by, interaction_id)
                VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)
                """,
                call.customer_id,
                None if call.customer_id is not None else call.caller_number,
                call.agent_id,
                kind,
                reason,
                call.agent_name,
                call.interaction_id,
            )
        await trail(connection, call, kind, reason=reason, comment=comment)


async def ask_not_to_pair(pool: asyncpg.Pool, call: CallOfAgent, body: dict[str, Any]) -> None:
    comment = text_field(body, "comment", 500, required=False)
    await _request_pairing_ban(pool, call, "agent_request", comment or "agent request", comment)


async def flag_abuse(pool: asyncpg.Pool, call: CallOfAgent, body: dict[str, Any]) -> None:
    reason = body.get("reason")
    if reason not in ABUSE_REASONS:
        raise InvalidField("reason", f"reason: one of {', '.join(ABUSE_REASONS)}", status=400)
    comment = text_field(body, "comment", 500, required=False)
    await _request_pairing_ban(pool, call, "abuse", str(reason), comment)


async def pick_customer(pool: asyncpg.Pool, call: CallOfAgent, body: dict[str, Any]) -> None:
    """For a shared number: the agent says who is calling; then tickets can be attached."""
    customer_id = body.get("customer_id")
    if not isinstance(customer_id, int) or isinstance(customer_id, bool):
        raise InvalidField("customer_id", "customer_id: expected a number", status=400)
    if call.customer_id is not None:
        raise WebError(409, "customer_known", "customer_id: this call's customer is known")
    async with pool.acquire() as connection, connection.transaction():
        shares = await connection.fetchval(
            "SELECT 1 FROM phone_numbers WHERE e164 = $1 AND customer_id = $2",
            call.caller_number,
            customer_id,
        )
        if not shares:
            raise InvalidField(
                "customer_id", "customer_id: not one of this number's customers", status=400
            )
        await connection.execute(
            "UPDATE interactions SET customer_id = $2 WHERE id = $1 AND customer_id IS NULL",
            call.interaction_id,
            customer_id,
        )
        await trail(connection, call, "pick_customer", customer_id=customer_id)
