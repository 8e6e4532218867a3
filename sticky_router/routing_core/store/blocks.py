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
# Where a proposed block would send the caller, and for how long, until a supervisor chooses:
# the supervisors' queue (never an ordinary agent), for a week; a proposal nobody reviewed in
# that week lapses.
PROPOSED_QUEUE = "supervisors"
PROPOSED_DAYS = 7


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


@dataclass(frozen=True)
class Proposal:
    """A block someone asks a supervisor for: whom, why, and the call it came from."""

    customer_id: int | None
    e164: str | None
    reason: str
    interaction_id: int | None
    # Until a supervisor chooses: where and how long, as the flags page suggests them.
    destination_kind: str
    destination: str
    expires_at: datetime


class SelfApproval(PermissionError):
    """A supervisor's own proposal needs another supervisor's approval."""


async def propose_block(connection: Connection, proposal: Proposal, actor: str) -> tuple[int, bool]:
    """A pending block (never honoured by routing until approved); (its id, whether it is new).
    A caller with a proposal already waiting keeps that one: the second proposer is audited."""
    block_id = await connection.fetchval(
        "INSERT INTO caller_blocks (customer_id, e164, reason, destination_kind, destination,"
        " status, set_by, expires_at, interaction_id)"
        " VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8)"
        " ON CONFLICT (coalesce(customer_id, 0), coalesce(e164, '')) WHERE status = 'pending'"
        " DO NOTHING RETURNING id",
        proposal.customer_id, proposal.e164, proposal.reason, proposal.destination_kind,
        proposal.destination, actor, proposal.expires_at, proposal.interaction_id,
    )  # fmt: skip
    new = block_id is not None
    if not new:
        block_id = await connection.fetchval(
            "SELECT id FROM caller_blocks WHERE status = 'pending'"
            " AND coalesce(customer_id, 0) = coalesce($1::bigint, 0)"
            " AND coalesce(e164, '') = coalesce($2::text, '')",
            proposal.customer_id, proposal.e164,
        )  # fmt: skip
    await record_change(
        connection, actor=actor, scope_kind=AUDIT_SCOPE, scope_value=str(block_id),
        key="proposal", old=None, new=as_json({"status": "pending", "reason": proposal.reason}),
    )  # fmt: skip
    return int(block_id), new


async def review_proposal(
    connection: Connection,
    block_id: int,
    actor: str,
    *,
    approve: bool,
    destination_kind: str = "",
    destination: str = "",
    expires_at: datetime | None = None,
) -> bool:
    """Approves (with the supervisor's destination and expiry) or rejects a pending block;
    False when no proposal with that id waits. Raises SelfApproval for the proposer's own."""
    pending = await connection.fetchrow(
        "SELECT set_by FROM caller_blocks WHERE id = $1 AND status = 'pending' FOR UPDATE",
        block_id,
    )
    if pending is None:
        return False
    if approve and pending["set_by"] == actor:
        raise SelfApproval("a supervisor's own proposal is approved by another supervisor")
    if approve and expires_at is None:
        raise ValueError("an approved block needs its expiry")
    decided: dict[str, object] = {"proposed_by": pending["set_by"]}
    if approve and expires_at is not None:
        await connection.execute(
            "UPDATE caller_blocks SET status = 'approved', destination_kind = $2,"
            " destination = $3, expires_at = $4, set_at = now() WHERE id = $1",
            block_id, destination_kind, destination, expires_at,
        )  # fmt: skip
        decided |= {"status": "approved", "destination_kind": destination_kind,
                    "destination": destination, "expires_at": expires_at.isoformat()}  # fmt: skip
    else:
        await connection.execute(
            "UPDATE caller_blocks SET status = 'rejected' WHERE id = $1", block_id
        )
        decided["status"] = "rejected"
    await record_change(
        connection, actor=actor, scope_kind=AUDIT_SCOPE, scope_value=str(block_id),
        key="status", old=as_json("pending"), new=as_json(decided),
    )  # fmt: skip
    return True
