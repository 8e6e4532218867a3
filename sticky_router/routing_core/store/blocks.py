"""Caller blocks: a supervisor's decision that an abusive caller reaches a destination of their
choosing (a supervisors' queue, or a policy message) instead of any agent, until it expires or is
lifted. The lookup honours approved ones (store/lookup.py); this is where they are made and ended,
each change audited in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sticky_router.routing_core.store import Connection
from sticky_router.routing_core.store.audit import as_json, record_change

AUDIT_SCOPE = "caller_block"


@dataclass(frozen=True)
class NewBlock:
    """Who (a customer, a number, or both), why, where their calls go, and until when. The
    destination is a queue name or a sound name, checked by the caller against
    routing_core.dialplan_safe (and by the database's own constraint)."""

    customer_id: int | None
    e164: str | None
    reason: str
    destination_kind: str  # queue | message
    destination: str
    expires_at: datetime


async def create_block(connection: Connection, block: NewBlock, actor: str) -> int:
    """An approved block, in force from the next call on; its id."""
    block_id = await connection.fetchval(
        "INSERT INTO caller_blocks (customer_id, e164, reason, destination_kind, destination,"
        " status, set_by, expires_at) VALUES ($1, $2, $3, $4, $5, 'approved', $6, $7)"
        " RETURNING id",
        block.customer_id, block.e164, block.reason, block.destination_kind,
        block.destination, actor, block.expires_at,
    )  # fmt: skip
    await record_change(
        connection, actor=actor, scope_kind=AUDIT_SCOPE, scope_value=str(block_id),
        key="status", old=None,
        new=as_json({"status": "approved", "destination_kind": block.destination_kind,
                     "destination": block.destination,
                     "expires_at": block.expires_at.isoformat()}),
    )  # fmt: skip
    return int(block_id)


async def lift_block(connection: Connection, block_id: int, actor: str) -> bool:
    """Ends a block in force before its expiry; False when there is none with that id."""
    lifted = await connection.fetchval(
        "UPDATE caller_blocks SET status = 'lifted' WHERE id = $1 AND status = 'approved'"
        " RETURNING id",
        block_id,
    )
    if lifted is None:
        return False
    await record_change(
        connection, actor=actor, scope_kind=AUDIT_SCOPE, scope_value=str(block_id),
        key="status", old=as_json("approved"), new=as_json("lifted"),
    )  # fmt: skip
    return True
