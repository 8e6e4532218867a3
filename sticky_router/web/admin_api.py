"""The admin JSON API: routing settings per scope with their audit, flags to review, metrics.

    GET    /api/admin/settings                      every stored row, and the built-in defaults
    PUT    /api/admin/settings/{key}                {"scope", "scope_value", "value"}
    DELETE /api/admin/settings/{key}?scope=&scope_value=
    GET    /api/admin/settings/effective?queue=&did=&customer_class=   value and source per key
    GET    /api/admin/settings/audit?limit=         who, when, old value, new value
    GET    /api/admin/flags                         do-not-pair requests and abuse flags, blocks
                                                    in force and block proposals waiting
    (caller blocks are proposed, approved, made and lifted in admin_blocks_api)
    POST   /api/admin/flags/{id}/approve            {"expires_at": ISO time or null}
    POST   /api/admin/flags/{id}/reject
    GET    /api/openapi.json                        the OpenAPI 3.1 description of the above
    GET    /metrics                                 Prometheus (counts only, no personal data)

Admins only (`require_admin`: an agent's session is 403, no session 401, a write without the
session's CSRF token 403). A change is in force for the next call: the routing service reads the
settings rows with every decision; nothing caches them.

Known queues, for "unknown queue" errors: queues Asterisk reports members in (over AMI), queues
calls have been recorded in, and queues that already have settings. A customer class must exist
in customer_classes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sticky_router.routing_core.settings import (
    SETTING_KEYS,
    InvalidSetting,
    RoutingSettings,
    Scope,
    ScopedValue,
    resolve_settings,
    validate_setting,
)
from sticky_router.routing_core.store.audit import as_json, record_change
from sticky_router.routing_core.store.settings_store import clear_setting, set_setting
from sticky_router.web import keys
from sticky_router.web.errors import InvalidField, WebError
from sticky_router.web.security import require_admin
from sticky_router.web.sessions import Principal
from sticky_router.web.validation import read_body

ScopeName = Literal["global", "queue", "did", "customer_class"]


class SettingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: ScopeName = Field(description="where the value applies, wide to narrow")
    scope_value: str | None = Field(
        None, max_length=64, description="which queue, dialled number or class; none for global"
    )
    value: Any = Field(description="the new value; checked against the setting's own rules")


class FlagApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_at: datetime | None = Field(None, description="when the flag stops holding")


def asterisk_queues(request: web.Request) -> set[str] | None:
    """The queues Asterisk has now (AMI), or None when the router cannot say."""
    names = request.app.get(keys.QUEUE_NAMES)
    return names() if names is not None else None


async def _check_scope(request: web.Request, scope: Scope, value: str | None) -> str | None:
    """None when the scope names something that exists, else the message."""
    pool = request.app[keys.POOL]
    if scope is Scope.GLOBAL:
        return "the global scope takes no scope_value" if value else None
    if not value:
        return f"scope {scope.value!r} needs a scope_value (which {scope.value})"
    if scope is Scope.QUEUE:
        known = value in (asterisk_queues(request) or ()) or await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM routing_settings WHERE scope_kind = 'queue' "
            "AND scope_value = $1) OR EXISTS (SELECT 1 FROM interactions WHERE queue = $1)",
            value,
        )
        return (
            None
            if known
            else f"unknown queue {value!r}: Asterisk does not have it and no call was ever "
            "routed to it"
        )
    if scope is Scope.CUSTOMER_CLASS:
        known = await pool.fetchval("SELECT true FROM customer_classes WHERE name = $1", value)
        return None if known else f"unknown customer class {value!r}"
    if not value.lstrip("+").isdigit():
        return f"a dialled number is digits, got {value!r}"
    return None


async def apply_change(
    request: web.Request,
    admin: Principal,
    key: str,
    scope: Scope,
    scope_value: str | None,
    value: Any,
) -> None:
    """Store one change (audited), or raise InvalidField saying which field is wrong and why.
    Pages and API alike."""
    if key not in SETTING_KEYS:
        raise InvalidField(
            "key", f"unknown setting {key!r}; known settings: {', '.join(SETTING_KEYS)}"
        )
    if scope is Scope.DEFAULT:
        raise InvalidField("scope", "the default scope is built in; set the global scope instead")
    problem = await _check_scope(request, scope, scope_value)
    if problem:
        raise InvalidField("scope_value", problem)
    try:
        await set_setting(
            request.app[keys.POOL],
            scope=scope,
            scope_value=scope_value,
            key=key,
            value=validate_setting(key, value),
            actor=f"admin:{admin.name}",
        )
    except InvalidSetting as error:
        raise InvalidField(key, str(error)) from None


@require_admin
async def list_settings(request: web.Request, _admin: Principal) -> web.StreamResponse:
    rows = await request.app[keys.POOL].fetch(
        "SELECT scope_kind, scope_value, key, value::text AS value, updated_by, updated_at "
        "FROM routing_settings ORDER BY key, scope_kind, scope_value"
    )
    return web.json_response(
        {
            "defaults": RoutingSettings().model_dump(mode="json"),
            "rows": [
                {
                    "scope": r["scope_kind"],
                    "scope_value": r["scope_value"] or None,
                    "key": r["key"],
                    "value": json.loads(r["value"]),
                    "updated_by": r["updated_by"],
                    "updated_at": r["updated_at"].isoformat(),
                }
                for r in rows
            ],
        }
    )


@require_admin
async def put_setting(request: web.Request, admin: Principal) -> web.StreamResponse:
    key = request.match_info["key"]
    if key not in SETTING_KEYS:
        raise InvalidField(
            "key", f"unknown setting {key!r}; known settings: {', '.join(SETTING_KEYS)}"
        )
    change: SettingChange = await read_body(request, SettingChange)
    scope = Scope(change.scope)
    await apply_change(request, admin, key, scope, change.scope_value, change.value)
    value = validate_setting(key, change.value)
    return web.json_response(
        {"ok": True, "scope": scope.value, "scope_value": change.scope_value, key: value}
    )


@require_admin
async def delete_setting(request: web.Request, admin: Principal) -> web.StreamResponse:
    key = request.match_info["key"]
    if key not in SETTING_KEYS:
        raise InvalidField("key", f"unknown setting {key!r}")
    try:
        scope = Scope(request.query.get("scope", "global"))
        removed = await clear_setting(
            request.app[keys.POOL],
            scope=scope,
            scope_value=request.query.get("scope_value") or None,
            key=key,
            actor=f"admin:{admin.name}",
        )
    except (ValueError, InvalidSetting) as error:
        raise InvalidField("scope", str(error)) from None
    return web.json_response({"ok": True, "removed": removed})


@require_admin
async def effective(request: web.Request, _admin: Principal) -> web.StreamResponse:
    """For any queue, dialled number and class: the value in force and the scope it comes from."""
    rows = await request.app[keys.POOL].fetch(
        "SELECT scope_kind, scope_value, key, value::text AS value FROM routing_settings"
    )
    resolved = resolve_settings(
        [
            ScopedValue(Scope(r["scope_kind"]), r["scope_value"] or None, r["key"],
                        json.loads(r["value"]))
            for r in rows
        ],
        queue=request.query.get("queue") or None,
        did=request.query.get("did") or None,
        customer_class=request.query.get("customer_class") or None,
    )  # fmt: skip
    values = resolved.values.model_dump(mode="json")
    return web.json_response(
        {key: {"value": values[key], "source": resolved.sources[key].value} for key in values}
    )


@require_admin
async def audit(request: web.Request, _admin: Principal) -> web.StreamResponse:
    try:
        limit = max(1, min(1000, int(request.query.get("limit", "100"))))
    except ValueError:
        raise InvalidField("limit", "limit is a whole number") from None
    rows = await request.app[keys.POOL].fetch(
        "SELECT at, actor, scope_kind, scope_value, key, old_value::text AS old, "
        "new_value::text AS new FROM settings_audit ORDER BY id DESC LIMIT $1",
        limit,
    )
    return web.json_response(
        [
            {
                "at": r["at"].isoformat(),
                "actor": r["actor"],
                "scope": r["scope_kind"],
                "scope_value": r["scope_value"] or None,
                "key": r["key"],
                "old_value": json.loads(r["old"]) if r["old"] is not None else None,
                "new_value": json.loads(r["new"]) if r["new"] is not None else None,
            }
            for r in rows
        ]
    )


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


async def metrics(request: web.Request) -> web.StreamResponse:
    exposition = request.app.get(keys.METRICS)
    if exposition is None:
        raise web.HTTPNotFound()
    body, content_type = exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def openapi() -> dict[str, Any]:
    """OpenAPI 3.1, the request bodies built from the same pydantic models the handlers use."""
    from sticky_router.web.admin_blocks_api import ApprovalRequest, BlockRequest, ProposalRequest
    from sticky_router.web.admin_incidents_api import IncidentRequest
    from sticky_router.web.admin_people_api import (
        AgentChange,
        NewClass,
    )  # those modules build on this one

    settings_schema = RoutingSettings.model_json_schema()
    error = {
        "type": "object",
        "properties": {"error": {"type": "string"}, "field": {"type": "string"},
                       "message": {"type": "string"}},
    }  # fmt: skip
    refused = {
        "401": {"description": "not signed in as an admin"},
        "403": {"description": "an agent's session, or a missing CSRF token / foreign Origin"},
    }
    invalid = {"422": {"description": "a field is invalid; `field` names it",
                       "content": {"application/json": {"schema": error}}}}  # fmt: skip
    key = {"name": "key", "in": "path", "required": True,
           "schema": {"type": "string", "enum": list(SETTING_KEYS)}}  # fmt: skip

    def body(model: type[BaseModel]) -> dict[str, Any]:
        return {"required": True,
                "content": {"application/json": {"schema": model.model_json_schema()}}}  # fmt: skip

    ok = {"200": {"description": "done"}}
    block_id = {"name": "block_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sticky-router admin API",
            "version": "1",
            # The other HTTP contract of the product, served by a CRM rather than by us.
            "description": "Tickets from a system of your own: docs/ticket-sources.md; its "
            "contract as OpenAPI 3.1: `sticky-router ticket-contract`.",
        },
        "components": {
            "securitySchemes": {
                "adminSession": {"type": "apiKey", "in": "cookie", "name": "sticky_admin_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
            "schemas": {"RoutingSettings": settings_schema},
        },
        "security": [{"adminSession": []}],
        "paths": {
            "/api/admin/settings": {
                "get": {"summary": "Stored settings rows and the built-in defaults",
                        "responses": {**ok, **refused}},
            },
            "/api/admin/settings/{key}": {
                "put": {"summary": "Set one setting at one scope (audited, in force next call)",
                        "parameters": [key], "requestBody": body(SettingChange),
                        "security": [{"adminSession": [], "csrf": []}],
                        "responses": {**ok, **refused, **invalid}},
                "delete": {"summary": "Remove a scope's value (audited)", "parameters": [
                    key, {"name": "scope", "in": "query", "schema": {"type": "string"}},
                    {"name": "scope_value", "in": "query", "schema": {"type": "string"}}],
                    "security": [{"adminSession": [], "csrf": []}],
                    "responses": {**ok, **refused, **invalid}},
            },
            "/api/admin/settings/effective": {
                "get": {"summary": "The value in force for a queue, number and class, and the "
                                   "scope it comes from",
                        "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}}
                                       for n in ("queue", "did", "customer_class")],
                        "responses": {**ok, **refused}},
            },
            "/api/admin/settings/audit": {
                "get": {"summary": "Who changed what, when, old and new value",
                        "parameters": [{"name": "limit", "in": "query",
                                        "schema": {"type": "integer", "maximum": 1000}}],
                        "responses": {**ok, **refused}},
            },
            "/api/admin/flags": {
                "get": {"summary": "Pending and approved do-not-pair requests and abuse "
                                   "flags, blocks in force", "responses": {**ok, **refused}},
            },
            "/api/admin/flags/{flag_id}/approve": {
                "post": {"summary": "Approve a pending request or flag, with an expiry",
                         "parameters": [{"name": "flag_id", "in": "path", "required": True,
                                         "schema": {"type": "integer"}}],
                         "requestBody": body(FlagApproval),
                         "security": [{"adminSession": [], "csrf": []}],
                         "responses": {**ok, **refused, **invalid}},
            },
            "/api/admin/ticket-source": {
                "get": {"summary": "An external ticket source's health: last sync, last error, "
                                   "failures in a row, open tickets mirrored, call reports "
                                   "pending (docs/ticket-sources.md)",
                        "responses": {**ok, **refused}},
            },
            "/api/admin/agents": {
                "get": {"summary": "Agents: endpoint, role, active",
                        "responses": {**ok, **refused}},
            },
            "/api/admin/agents/{name}": {
                "patch": {"summary": "Change an agent's endpoint, role or active flag (audited)",
                          "parameters": [{"name": "name", "in": "path", "required": True,
                                          "schema": {"type": "string"}}],
                          "requestBody": body(AgentChange),
                          "security": [{"adminSession": [], "csrf": []}],
                          "responses": {**ok, **refused, **invalid}},
            },
            "/api/admin/classes": {
                "get": {"summary": "Customer classes", "responses": {**ok, **refused}},
                "post": {"summary": "Add a customer class (audited)",
                         "requestBody": body(NewClass),
                         "security": [{"adminSession": [], "csrf": []}],
                         "responses": {**ok, **refused, **invalid}},
            },
            "/api/admin/flags/{flag_id}/reject": {
                "post": {"summary": "Reject a pending request or flag",
                         "parameters": [{"name": "flag_id", "in": "path", "required": True,
                                         "schema": {"type": "integer"}}],
                         "security": [{"adminSession": [], "csrf": []}],
                         "responses": {**ok, **refused}},
            },
            "/api/admin/blocks": {
                "post": {"summary": "Block a caller (an abuse flag's, a customer or a number) "
                                    "until a time: their calls go to a queue or a message "
                                    "(audited)",
                         "requestBody": body(BlockRequest),
                         "security": [{"adminSession": [], "csrf": []}],
                         "responses": {"201": {"description": "blocked; the block's id"},
                                       **refused, **invalid,
                                       "404": {"description": "no such flag or customer"}}},
            },
            "/api/admin/blocks/{block_id}/lift": {
                "post": {"summary": "Lift a block in force before its expiry (audited)",
                         "parameters": [{"name": "block_id", "in": "path", "required": True,
                                         "schema": {"type": "integer"}}],
                         "security": [{"adminSession": [], "csrf": []}],
                         "responses": {**ok, **refused,
                                       "404": {"description": "no block in force with that id"}}},
            },
            "/api/admin/incidents": {
                "get": {"summary": "The incidents (outages) in force",
                        "responses": {**ok, **refused}},
                "post": {"summary": "Declare an outage for every call, a queue or a dialled "
                                    "number: stickiness steps aside while it lasts (setting "
                                    "outage_window_minutes), callers hear its notice (audited)",
                         "requestBody": body(IncidentRequest),
                         "security": [{"adminSession": [], "csrf": []}],
                         "responses": {"201": {"description": "declared; its id"},
                                       **refused, **invalid}},
            },
            "/api/admin/incidents/{incident_id}/end": {
                "post": {"summary": "End an incident (audited)",
                         "parameters": [{"name": "incident_id", "in": "path", "required": True,
                                         "schema": {"type": "integer"}}],
                         "security": [{"adminSession": [], "csrf": []}],
                         "responses": {**ok, **refused,
                                       "404": {"description": "no incident in force"}}},
            },
            "/api/admin/blocks/proposals": {
                "post": {"summary": "Propose a temporary block; another supervisor approves it "
                                    "or rejects it (audited; never honoured while pending)",
                         "requestBody": body(ProposalRequest),
                         "security": [{"adminSession": [], "csrf": []}],
                         "responses": {"201": {"description": "pending; the proposal's id"},
                                       **refused, **invalid,
                                       "404": {"description": "no such flag or customer"}}},
            },
            "/api/admin/blocks/{block_id}/approve": {
                "post": {"summary": "Approve a proposed block with its destination and expiry "
                                    "(audited); not the proposer's own",
                         "parameters": [block_id],
                         "requestBody": body(ApprovalRequest),
                         "security": [{"adminSession": [], "csrf": []}],
                         "responses": {**ok, **refused, **invalid,
                                       "404": {"description": "no proposal waiting with that id"}}},
            },
            "/api/admin/blocks/{block_id}/reject": {
                "post": {"summary": "Reject a proposed block (audited)",
                         "parameters": [block_id],
                         "security": [{"adminSession": [], "csrf": []}],
                         "responses": {**ok, **refused,
                                       "404": {"description": "no proposal waiting with that id"}}},
            },
        },
    }  # fmt: skip


async def openapi_document(_request: web.Request) -> web.StreamResponse:
    return web.json_response(openapi())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/admin/settings", list_settings)
    app.router.add_get("/api/admin/settings/effective", effective)
    app.router.add_get("/api/admin/settings/audit", audit)
    app.router.add_put("/api/admin/settings/{key}", put_setting)
    app.router.add_delete("/api/admin/settings/{key}", delete_setting)
    app.router.add_get("/api/admin/flags", flags)
    app.router.add_post("/api/admin/flags/{flag_id}/approve", approve_flag)
    app.router.add_post("/api/admin/flags/{flag_id}/reject", reject_flag)
    app.router.add_get("/api/openapi.json", openapi_document)
    app.router.add_get("/metrics", metrics)
