"""Caller blocks for the admin API: the end of the abuse workflow. An agent's abuse flag (or a
supervisor's own judgement) becomes a block, approved by the admin who sets it, with an expiry
and a destination; it is listed with the flags (GET /api/admin/flags) and can be lifted early.

    POST /api/admin/blocks              {"flag_id" | "customer_id" | "e164", "reason",
                                         "destination_kind", "destination", "expires_at"}
    POST /api/admin/blocks/{id}/lift

Both audited (settings_audit, scope `caller_block`). The blocked caller's next call goes to the
destination: a queue (supervisors, never an ordinary agent) or a policy message, whose names
reach the dialplan and are held to routing_core.dialplan_safe here and in the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sticky_router.routing_core import dialplan_safe
from sticky_router.routing_core.store.blocks import NewBlock, create_block, lift_block
from sticky_router.web import keys
from sticky_router.web.admin_api import InvalidField, read_body, refuse
from sticky_router.web.security import WebError, require_admin
from sticky_router.web.sessions import Principal

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
        if sum(x is not None for x in (self.flag_id, self.customer_id, self.e164)) != 1:
            raise ValueError("name the caller once: flag_id, customer_id or e164")
        safe = (
            dialplan_safe.is_queue if self.destination_kind == "queue" else dialplan_safe.is_sound
        )
        if not safe(self.destination):
            raise ValueError(
                "destination: a queue name (letters, digits, _ -)"
                if self.destination_kind == "queue"
                else "destination: a sound name (letters, digits, _ / -)"
            )
        return self


async def block_caller(request: web.Request, admin: Principal, wanted: BlockRequest) -> int:
    """The block, approved by this admin; its id. The API and the flags page come here.
    Raises InvalidField, or WebError 404 for a flag or customer that does not exist."""
    now = request.app[keys.CLOCK]()
    if wanted.expires_at <= now:
        raise InvalidField("expires_at", "expires_at is in the past")
    if (wanted.expires_at - now).days >= MAX_BLOCK_DAYS:
        raise InvalidField("expires_at", f"a block lasts at most {MAX_BLOCK_DAYS} days")
    customer_id, e164 = wanted.customer_id, wanted.e164
    async with request.app[keys.POOL].acquire() as connection, connection.transaction():
        if wanted.flag_id is not None:
            flag = await connection.fetchrow(
                "SELECT customer_id, e164 FROM do_not_pair WHERE id = $1 AND kind = 'abuse'",
                wanted.flag_id,
            )
            if flag is None:
                raise WebError(404, "no_abuse_flag", "no abuse flag with that id")
            customer_id, e164 = flag["customer_id"], flag["e164"]
        elif customer_id is not None and not await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1)", customer_id
        ):
            raise WebError(404, "no_customer", "no customer with that id")
        block = NewBlock(
            customer_id=customer_id, e164=e164, reason=wanted.reason,
            destination_kind=wanted.destination_kind, destination=wanted.destination,
            expires_at=wanted.expires_at,
        )  # fmt: skip
        return await create_block(connection, block, f"admin:{admin.name}")


async def lift(request: web.Request, admin: Principal, block_id: int) -> None:
    """Ends a block in force (audited). WebError 404 when none has that id."""
    async with request.app[keys.POOL].acquire() as connection, connection.transaction():
        if not await lift_block(connection, block_id, f"admin:{admin.name}"):
            raise WebError(404, "no_block", "no block in force with that id")


@require_admin
async def create(request: web.Request, admin: Principal) -> web.StreamResponse:
    try:
        wanted: BlockRequest = await read_body(request, BlockRequest)
        block_id = await block_caller(request, admin, wanted)
    except InvalidField as error:
        return refuse(error.field, error.message)
    return web.json_response({"ok": True, "id": block_id}, status=201)


@require_admin
async def lift_one(request: web.Request, admin: Principal) -> web.StreamResponse:
    try:
        block_id = int(request.match_info["block_id"])
    except ValueError:
        return refuse("block_id", "a block id is a number")
    await lift(request, admin, block_id)
    return web.json_response({"ok": True, "id": block_id, "lifted": True})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/admin/blocks", create)
    app.router.add_post("/api/admin/blocks/{block_id}/lift", lift_one)
