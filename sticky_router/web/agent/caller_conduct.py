"""What an agent does about an abusive caller, beyond flagging abuse towards themselves: warn
them (recorded on the caller, shown on every later pop) and propose a temporary block, which
waits for a supervisor who chooses its destination and expiry (admin_blocks_api). Neither
changes routing by itself: only an approved block does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from sticky_router.routing_core.store.blocks import (
    PROPOSED_DAYS,
    PROPOSED_QUEUE,
    Proposal,
    propose_block,
)
from sticky_router.web.agent.actions import CallOfAgent, text_field, trail
from sticky_router.web.errors import WebError


def _caller(call: CallOfAgent) -> tuple[int | None, str | None]:
    if call.customer_id is None and call.caller_number is None:
        raise WebError(409, "caller_unknown", "caller: no customer and no number")
    return call.customer_id, None if call.customer_id is not None else call.caller_number


async def warn(pool: asyncpg.Pool, call: CallOfAgent, body: dict[str, Any]) -> None:
    _caller(call)
    note = text_field(body, "note", 500, required=False)
    async with pool.acquire() as connection, connection.transaction():
        await trail(connection, call, "warning", note=note)


async def propose(
    pool: asyncpg.Pool, call: CallOfAgent, body: dict[str, Any], now: datetime
) -> None:
    customer_id, e164 = _caller(call)
    reason = text_field(body, "reason", 200)
    proposal = Proposal(
        customer_id=customer_id, e164=e164, reason=reason, interaction_id=call.interaction_id,
        destination_kind="queue", destination=PROPOSED_QUEUE,
        expires_at=now + timedelta(days=PROPOSED_DAYS),
    )  # fmt: skip
    async with pool.acquire() as connection, connection.transaction():
        block_id, _new = await propose_block(connection, proposal, f"agent:{call.agent_name}")
        await trail(connection, call, "propose_block", block_id=block_id, reason=reason)
