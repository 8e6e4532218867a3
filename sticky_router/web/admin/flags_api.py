"""The admin JSON API for what agents asked and flagged: do-not-pair requests and abuse flags to
review, with the blocks in force and block proposals waiting (caller blocks themselves are
proposed, approved, made and lifted in blocks_api).

    GET    /api/admin/flags                         requests and flags, blocks in force and
                                                    block proposals waiting
    POST   /api/admin/flags/{id}/approve            {"expires_at": ISO time or null}
    POST   /api/admin/flags/{id}/reject

Admins only, as every /api/admin/ route (web/security.py). A review is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sticky_router.routing_core.store.audit import as_json, record_change
from sticky_router.web import keys
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.errors import InvalidField, WebError
from sticky_router.web.security import require_admin
from sticky_router.web.validation import read_body


class FlagApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_at: datetime | None = Field(None, description="when the flag stops holding")


@require_admin
async def flags(request: web.Request, _admin: Principal) -> web.StreamResponse:
    pool = request.app[keys.POOL]
    now = request.app[keys.CLOCK]()
    requests = await pool.fetch(
        "SELECT d.id, d.kind, d.status, d.reason, d.requested_by, d.requested_at, d.reviewed_by,"
        " d.reviewed_at, d.expires_at, d.customer_id, a.name AS agent FROM do_not_pair d"
        " JOIN agents a ON a.id = d.agent_id"
        " WHERE d.status = 'pending' OR (d.status = 'approved'"
        "   AND (d.expires_at IS NULL OR d.expires_at > $1)) ORDER BY d.id",
        now,
    )
    blocks = await pool.fetch(
        "SELECT id, customer_id, e164, reason, destination_kind, destination, set_by, set_at,"
        " expires_at, status FROM caller_blocks"
        " WHERE status IN ('approved', 'pending') AND expires_at > $1 ORDER BY id",
        now,
    )
    return web.json_response(
        {"requests": [_jsonable(r) for r in requests],
         "blocks": [_jsonable(b) for b in blocks if b["status"] == "approved"],
         "proposals": [_jsonable(b) for b in blocks if b["status"] == "pending"]}
    )  # fmt: skip


def _jsonable(row: Any) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in dict(row).items()}


async def review_flag(
    request: web.Request,
    admin: Principal,
    flag_id: int,
    *,
    approve: bool,
    expires_at: datetime | None,
) -> None:
    """Approve (until `expires_at`) or reject one pending request or flag, audited. The API and
    the flags page both come here. Raises InvalidField, or WebError 404."""
    now = request.app[keys.CLOCK]()
    if approve and expires_at is not None and expires_at <= now:
        raise InvalidField("expires_at", "expires_at is in the past")
    # The row keeps who reviewed it and when; the audit trail keeps it with every other change.
    decision = "approved" if approve else "rejected"
    async with request.app[keys.POOL].acquire() as connection, connection.transaction():
        updated = await connection.fetchval(
            "UPDATE do_not_pair SET status = $2, reviewed_by = $3, reviewed_at = $4,"
            " expires_at = $5 WHERE id = $1 AND status = 'pending' RETURNING id",
            flag_id, decision, f"admin:{admin.name}", now, expires_at if approve else None,
        )  # fmt: skip
        if updated is None:
            raise WebError(404, "no_pending_flag", "no pending request or flag with that id")
        await record_change(
            connection, actor=f"admin:{admin.name}", scope_kind="do_not_pair",
            scope_value=str(flag_id), key="status", old=as_json("pending"), new=as_json(decision),
        )  # fmt: skip


async def _review(request: web.Request, admin: Principal, approve: bool) -> web.StreamResponse:
    try:
        flag_id = int(request.match_info["flag_id"])
    except ValueError:
        raise InvalidField("flag_id", "a flag id is a number") from None
    expires_at = None
    if approve:
        approval: FlagApproval = await read_body(request, FlagApproval)
        expires_at = approval.expires_at
    await review_flag(request, admin, flag_id, approve=approve, expires_at=expires_at)
    return web.json_response({"ok": True, "id": flag_id, "approved": approve})


@require_admin
async def approve_flag(request: web.Request, admin: Principal) -> web.StreamResponse:
    return await _review(request, admin, approve=True)


@require_admin
async def reject_flag(request: web.Request, admin: Principal) -> web.StreamResponse:
    return await _review(request, admin, approve=False)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/admin/flags", flags)
    app.router.add_post("/api/admin/flags/{flag_id}/approve", approve_flag)
    app.router.add_post("/api/admin/flags/{flag_id}/reject", reject_flag)
