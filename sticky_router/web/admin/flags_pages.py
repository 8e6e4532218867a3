"""The review page: agents' "don't route this caller to me" requests and abuse flags waiting for a
supervisor, the flags in force, and the caller blocks in force.

    GET  /admin/flags
    POST /admin/flags/{flag_id}   (form: decision=approve|reject, expires_on=YYYY-MM-DD, csrf)
    POST /admin/blocks            (form: flag_id, reason, destination_kind, destination,
                                   expires_on, csrf): block an abuse flag's caller
    POST /admin/blocks/{block_id}/lift
    POST /admin/blocks/{block_id}/approve (form: destination_kind, destination, expires_on)
    POST /admin/blocks/{block_id}/reject  a proposed block (an agent's or another supervisor's)

An approval needs an expiry (a flag that never ends is a block nobody remembers), and so does a
block. The review is `admin_api.review_flag`, a block `admin_blocks_api.block_caller` and
`lift`: the JSON API's code paths, audited there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from aiohttp import web

import sticky_router.web.i18n.admin  # noqa: F401 - registers the words of these pages
from sticky_router.routing_core.store.blocks import PROPOSED_QUEUE
from sticky_router.web import keys
from sticky_router.web.admin.blocks_api import (
    ApprovalRequest,
    BlockRequest,
    block_caller,
    lift,
)
from sticky_router.web.admin.blocks_api import review as review_block
from sticky_router.web.admin.flags_api import review_flag
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.errors import InvalidField, WebError
from sticky_router.web.security import csrf_fields, require_admin
from sticky_router.web.templates import render
from sticky_router.web.validation import validated

DEFAULT_APPROVAL_DAYS = 90
DEFAULT_BLOCK_DAYS = 30


async def _page(
    request: web.Request,
    admin: Principal,
    *,
    status: int = 200,
    done: str | None = None,
    error: str | None = None,
    field: str | None = None,
) -> web.Response:
    pool = request.app[keys.POOL]
    now = request.app[keys.CLOCK]()
    flags = await pool.fetch(
        "SELECT d.id, d.kind, d.status, d.reason, d.requested_by, d.requested_at,"
        " d.expires_at, d.e164, c.name AS customer, a.name AS agent,"
        " i.call_id, i.started_at AS call_started"
        " FROM do_not_pair d JOIN agents a ON a.id = d.agent_id"
        " LEFT JOIN customers c ON c.id = d.customer_id"
        " LEFT JOIN interactions i ON i.id = d.interaction_id"
        " WHERE d.status = 'pending' OR (d.status = 'approved'"
        "   AND (d.expires_at IS NULL OR d.expires_at > $1))"
        " ORDER BY d.requested_at",
        now,
    )
    blocks = await pool.fetch(
        "SELECT b.id, b.reason, b.destination_kind, b.destination, b.set_by, b.expires_at, b.e164,"
        " c.name AS customer FROM caller_blocks b LEFT JOIN customers c ON c.id = b.customer_id"
        " WHERE b.status = 'approved' AND b.expires_at > $1 ORDER BY b.expires_at",
        now,
    )
    proposals = await pool.fetch(
        "SELECT b.id, b.reason, b.set_by, b.set_at, b.e164, c.name AS customer,"
        " b.destination_kind, b.destination, i.call_id, i.started_at AS call_started,"
        " (SELECT count(*) FROM agent_actions x JOIN interactions j ON j.id = x.interaction_id"
        "   WHERE x.action = 'warning' AND ((b.customer_id IS NOT NULL"
        "     AND j.customer_id = b.customer_id) OR (b.customer_id IS NULL"
        "     AND j.caller_number = b.e164))) AS warnings"
        " FROM caller_blocks b LEFT JOIN customers c ON c.id = b.customer_id"
        " LEFT JOIN interactions i ON i.id = b.interaction_id"
        " WHERE b.status = 'pending' AND b.expires_at > $1 ORDER BY b.set_at",
        now,
    )
    return render(
        request,
        "admin_flags.html",
        admin.language,
        status=status,
        admin=admin,
        pending=[f for f in flags if f["status"] == "pending"],
        in_force=[f for f in flags if f["status"] == "approved"],
        blocks=blocks,
        proposals=proposals,
        default_expiry=(now + timedelta(days=DEFAULT_APPROVAL_DAYS)).date().isoformat(),
        default_block_expiry=(now + timedelta(days=DEFAULT_BLOCK_DAYS)).date().isoformat(),
        default_block_queue=PROPOSED_QUEUE,
        done=done,
        error=error,
        field=field,
        **csrf_fields(admin),
    )


@require_admin
async def flags_page(request: web.Request, admin: Principal) -> web.StreamResponse:
    return await _page(request, admin)


@require_admin
async def review(request: web.Request, admin: Principal) -> web.StreamResponse:
    form = await request.post()
    decision = str(form.get("decision", ""))
    try:
        flag_id = int(request.match_info["flag_id"])
        if decision not in ("approve", "reject"):
            raise InvalidField("decision", "decision: approve or reject")
        expires_at = None
        if decision == "approve":
            expires_at = _end_of(str(form.get("expires_on", "")))
        await review_flag(
            request, admin, flag_id, approve=decision == "approve", expires_at=expires_at
        )
    except ValueError:
        return await _page(request, admin, status=422, error="a flag id is a number")
    except InvalidField as refused:
        return await _page(request, admin, status=422, error=refused.message, field=refused.field)
    return await _page(request, admin, done=decision)


@require_admin
async def block(request: web.Request, admin: Principal) -> web.StreamResponse:
    form = await request.post()
    try:
        wanted = validated(
            BlockRequest,
            {
                "flag_id": str(form.get("flag_id", "")),
                "reason": str(form.get("reason", "")),
                "destination_kind": str(form.get("destination_kind", "")),
                "destination": str(form.get("destination", "")).strip(),
                "expires_at": _end_of(str(form.get("expires_on", ""))),
            },
        )
        await block_caller(request, admin, wanted)
    except InvalidField as refused:
        return await _page(request, admin, status=422, error=refused.message, field=refused.field)
    return await _page(request, admin, done="block")


@require_admin
async def lift_block(request: web.Request, admin: Principal) -> web.StreamResponse:
    try:
        block_id = int(request.match_info["block_id"])
    except ValueError:
        return await _page(request, admin, status=422, error="a block id is a number")
    await lift(request, admin, block_id)
    return await _page(request, admin, done="lift")


@require_admin
async def approve_proposal(request: web.Request, admin: Principal) -> web.StreamResponse:
    return await _review_proposal(request, admin, "approve")


@require_admin
async def reject_proposal(request: web.Request, admin: Principal) -> web.StreamResponse:
    return await _review_proposal(request, admin, "reject")


async def _review_proposal(
    request: web.Request, admin: Principal, decision: str
) -> web.StreamResponse:
    form = await request.post()
    try:
        block_id = int(request.match_info["block_id"])
        approval = None
        if decision == "approve":
            approval = validated(
                ApprovalRequest,
                {
                    "destination_kind": str(form.get("destination_kind", "")),
                    "destination": str(form.get("destination", "")).strip(),
                    "expires_at": _end_of(str(form.get("expires_on", ""))),
                },
            )
        await review_block(request, admin, block_id, approval)
    except ValueError:
        return await _page(request, admin, status=422, error="a block id is a number")
    except InvalidField as refused:
        return await _page(request, admin, status=422, error=refused.message, field=refused.field)
    except WebError as refused:
        return await _page(request, admin, status=refused.status, error=refused.message)
    return await _page(request, admin, done=f"proposal_{decision}")


def _end_of(text: str) -> datetime:
    """The approval holds until the end of the chosen day (UTC)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidField("expires_on", "expires_on: a date (YYYY-MM-DD) is needed") from None
    return datetime.combine(day, time.max, tzinfo=UTC)


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/flags", flags_page)
    app.router.add_post("/admin/flags/{flag_id}", review)
    app.router.add_post("/admin/blocks", block)
    app.router.add_post("/admin/blocks/{block_id}/lift", lift_block)
    app.router.add_post("/admin/blocks/{block_id}/approve", approve_proposal)
    app.router.add_post("/admin/blocks/{block_id}/reject", reject_proposal)
