"""Caller blocks for the admin API: the end of the abuse workflow. An agent's abuse flag (or a
supervisor's own judgement) becomes a block, approved by the admin who sets it, with an expiry
and a destination; it is listed with the flags (GET /api/admin/flags) and can be lifted early.

    POST /api/admin/blocks              {"flag_id" | "customer_id" | "e164", "reason",
                                         "destination_kind", "destination", "expires_at"}
    POST /api/admin/blocks/{id}/lift
    POST /api/admin/blocks/proposals    {"flag_id" | "customer_id" | "e164", "reason"}
    POST /api/admin/blocks/{id}/approve {"destination_kind", "destination", "expires_at"}
    POST /api/admin/blocks/{id}/reject

A proposal (an agent's, from the call on their screen, or a supervisor's) waits, pending and
never honoured by routing, for a supervisor who approves it with a destination and an expiry
or rejects it; a supervisor's own proposal needs another supervisor (four eyes). All audited
(settings_audit, scope `caller_block`). The blocked caller's next call goes to the
destination: a queue (supervisors, never an ordinary agent) or a policy message, whose names
reach the dialplan and are held to routing_core.dialplan_safe here and in the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sticky_router.routing_core import dialplan_safe
from sticky_router.routing_core.store import Connection
from sticky_router.routing_core.store.blocks import (
    PROPOSED_DAYS,
    PROPOSED_QUEUE,
    NewBlock,
    Proposal,
    SelfApproval,
    create_block,
    lift_block,
    propose_block,
    review_proposal,
)
from sticky_router.web import keys
from sticky_router.web.admin.settings_api import asterisk_queues
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.errors import InvalidField, WebError
from sticky_router.web.security import require_admin
from sticky_router.web.validation import read_body

E164 = r"^\+[1-9][0-9]{6,14}$"
MAX_BLOCK_DAYS = 366  # a block that never ends is one nobody remembers


class BlockRequest(BaseModel):
    """Whom to block: an abuse flag (its caller), a customer, or a number in E.164."""

    model_config = ConfigDict(extra="forbid")

    flag_id: int | None = Field(None, description="an agent's abuse flag: block its caller")
    customer_id: int | None = None
    e164: str | None = Field(None, pattern=E164)
    reason: str = Field(min_length=1, max_length=200)
    destination_kind: Literal["queue", "message"]
    destination: str = Field(max_length=200, description="a queue name, or a sound name")
    expires_at: datetime

    @model_validator(mode="after")
    def one_caller_and_a_safe_destination(self) -> Self:
        _one_caller(self.flag_id, self.customer_id, self.e164)
        _safe_destination(self.destination_kind, self.destination)
        return self


class ProposalRequest(BaseModel):
    """A supervisor's proposal: whom (once) and why; another supervisor decides the rest."""

    model_config = ConfigDict(extra="forbid")

    flag_id: int | None = None
    customer_id: int | None = None
    e164: str | None = Field(None, pattern=E164)
    reason: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def one_caller(self) -> Self:
        _one_caller(self.flag_id, self.customer_id, self.e164)
        return self


class ApprovalRequest(BaseModel):
    """Where the proposed block sends the caller, and until when."""

    model_config = ConfigDict(extra="forbid")

    destination_kind: Literal["queue", "message"]
    destination: str = Field(max_length=200)
    expires_at: datetime

    @model_validator(mode="after")
    def a_safe_destination(self) -> Self:
        _safe_destination(self.destination_kind, self.destination)
        return self


def _one_caller(*named: object) -> None:
    if sum(x is not None for x in named) != 1:
        raise ValueError("name the caller once: flag_id, customer_id or e164")


def _safe_destination(kind: str, destination: str) -> None:
    """The destination reaches the dialplan: a queue name or a sound name, nothing else."""
    safe = dialplan_safe.is_queue if kind == "queue" else dialplan_safe.is_sound
    if not safe(destination):
        raise ValueError(
            "destination: a queue name (letters, digits, _ -)"
            if kind == "queue"
            else "destination: a sound name (letters, digits, _ / -)"
        )


def _check_queue_exists(request: web.Request, kind: str, destination: str) -> None:
    """A block to a queue Asterisk does not have would end the caller's call at Queue(): when
    the router knows Asterisk's queues (AMI), a name it lacks is refused."""
    queues = asterisk_queues(request)
    if kind == "queue" and queues is not None and destination not in queues:
        raise InvalidField("destination", f"destination: Asterisk has no queue {destination!r}")


def _check_expiry(now: datetime, expires_at: datetime) -> None:
    if expires_at <= now:
        raise InvalidField("expires_at", "expires_at is in the past")
    if (expires_at - now).days >= MAX_BLOCK_DAYS:
        raise InvalidField("expires_at", f"a block lasts at most {MAX_BLOCK_DAYS} days")


async def block_caller(request: web.Request, admin: Principal, wanted: BlockRequest) -> int:
    """The block, approved by this admin; its id. The API and the flags page come here.
    Raises InvalidField, or WebError 404 for a flag or customer that does not exist."""
    _check_expiry(request.app[keys.CLOCK](), wanted.expires_at)
    _check_queue_exists(request, wanted.destination_kind, wanted.destination)
    async with request.app[keys.POOL].acquire() as connection, connection.transaction():
        customer_id, e164 = await _whom(connection, wanted.flag_id, wanted.customer_id,
                                        wanted.e164)  # fmt: skip
        block = NewBlock(
            customer_id=customer_id, e164=e164, reason=wanted.reason,
            destination_kind=wanted.destination_kind, destination=wanted.destination,
            expires_at=wanted.expires_at,
        )  # fmt: skip
        return await create_block(connection, block, f"admin:{admin.name}")


async def _whom(
    connection: Connection, flag_id: int | None, customer_id: int | None, e164: str | None
) -> tuple[int | None, str | None]:
    """The caller an abuse flag names, or the customer (who must exist), or the number."""
    if flag_id is not None:
        flag = await connection.fetchrow(
            "SELECT customer_id, e164 FROM do_not_pair WHERE id = $1 AND kind = 'abuse'", flag_id
        )
        if flag is None:
            raise WebError(404, "no_abuse_flag", "no abuse flag with that id")
        return flag["customer_id"], flag["e164"]
    if customer_id is not None and not await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1)", customer_id
    ):
        raise WebError(404, "no_customer", "no customer with that id")
    return customer_id, e164


async def propose_as_admin(request: web.Request, admin: Principal, wanted: ProposalRequest) -> int:
    now = request.app[keys.CLOCK]()
    async with request.app[keys.POOL].acquire() as connection, connection.transaction():
        customer_id, e164 = await _whom(connection, wanted.flag_id, wanted.customer_id,
                                        wanted.e164)  # fmt: skip
        proposal = Proposal(
            customer_id=customer_id, e164=e164, reason=wanted.reason, interaction_id=None,
            destination_kind="queue", destination=PROPOSED_QUEUE,
            expires_at=now + timedelta(days=PROPOSED_DAYS),
        )  # fmt: skip
        block_id, _new = await propose_block(connection, proposal, f"admin:{admin.name}")
    return block_id


async def review(
    request: web.Request, admin: Principal, block_id: int, approval: ApprovalRequest | None
) -> None:
    """Approve (with `approval`) or reject (None) a proposal. WebError 404 when none waits,
    403 for the proposer approving their own."""
    if approval is not None:
        _check_expiry(request.app[keys.CLOCK](), approval.expires_at)
        _check_queue_exists(request, approval.destination_kind, approval.destination)
    async with request.app[keys.POOL].acquire() as connection, connection.transaction():
        try:
            found = await review_proposal(
                connection, block_id, f"admin:{admin.name}", approve=approval is not None,
                destination_kind=approval.destination_kind if approval else "",
                destination=approval.destination if approval else "",
                expires_at=approval.expires_at if approval else None,
            )  # fmt: skip
        except SelfApproval as refused:
            raise WebError(403, "self_approval", str(refused)) from None
    if not found:
        raise WebError(404, "no_proposal", "no proposal waiting with that id")


async def lift(request: web.Request, admin: Principal, block_id: int) -> None:
    """Ends a block in force (audited). WebError 404 when none has that id."""
    async with request.app[keys.POOL].acquire() as connection, connection.transaction():
        if not await lift_block(connection, block_id, f"admin:{admin.name}"):
            raise WebError(404, "no_block", "no block in force with that id")


@require_admin
async def create(request: web.Request, admin: Principal) -> web.StreamResponse:
    wanted: BlockRequest = await read_body(request, BlockRequest)
    block_id = await block_caller(request, admin, wanted)
    return web.json_response({"ok": True, "id": block_id}, status=201)


@require_admin
async def lift_one(request: web.Request, admin: Principal) -> web.StreamResponse:
    try:
        block_id = int(request.match_info["block_id"])
    except ValueError:
        raise InvalidField("block_id", "a block id is a number") from None
    await lift(request, admin, block_id)
    return web.json_response({"ok": True, "id": block_id, "lifted": True})


def _block_id(request: web.Request) -> int:
    try:
        return int(request.match_info["block_id"])
    except ValueError:
        raise InvalidField("block_id", "a block id is a number") from None


@require_admin
async def propose_one(request: web.Request, admin: Principal) -> web.StreamResponse:
    wanted: ProposalRequest = await read_body(request, ProposalRequest)
    block_id = await propose_as_admin(request, admin, wanted)
    return web.json_response({"ok": True, "id": block_id, "status": "pending"}, status=201)


@require_admin
async def approve_one(request: web.Request, admin: Principal) -> web.StreamResponse:
    block_id = _block_id(request)
    approval: ApprovalRequest = await read_body(request, ApprovalRequest)
    await review(request, admin, block_id, approval)
    return web.json_response({"ok": True, "id": block_id, "status": "approved"})


@require_admin
async def reject_one(request: web.Request, admin: Principal) -> web.StreamResponse:
    block_id = _block_id(request)
    await review(request, admin, block_id, None)
    return web.json_response({"ok": True, "id": block_id, "status": "rejected"})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/admin/blocks", create)
    app.router.add_post("/api/admin/blocks/proposals", propose_one)
    app.router.add_post("/api/admin/blocks/{block_id}/lift", lift_one)
    app.router.add_post("/api/admin/blocks/{block_id}/approve", approve_one)
    app.router.add_post("/api/admin/blocks/{block_id}/reject", reject_one)
