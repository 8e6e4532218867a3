"""The admin JSON API for routing settings per scope, with their audit.

    GET    /api/admin/settings                      every stored row, and the built-in defaults
    PUT    /api/admin/settings/{key}                {"scope", "scope_value", "value"}
    DELETE /api/admin/settings/{key}?scope=&scope_value=
    GET    /api/admin/settings/effective?queue=&did=&customer_class=   value and source per key
    GET    /api/admin/settings/audit?limit=         who, when, old value, new value

Beside it: flags_api.py (requests and flags to review), blocks_api.py, people_api.py,
incidents_api.py, ticket_source_api.py, and openapi.py, which describes them all.

Admins only (`require_admin`: an agent's session is 403, no session 401, a write without the
session's CSRF token 403). A change is in force for the next call: the routing service reads the
settings rows with every decision; nothing caches them.

Known queues, for "unknown queue" errors: queues Asterisk reports members in (over AMI), queues
calls have been recorded in, and queues that already have settings. A customer class must exist
in customer_classes.
"""

from __future__ import annotations

import json
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
from sticky_router.routing_core.store.settings_store import clear_setting, set_setting
from sticky_router.web import keys
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.errors import InvalidField
from sticky_router.web.security import require_admin
from sticky_router.web.validation import read_body

ScopeName = Literal["global", "queue", "did", "customer_class"]


class SettingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: ScopeName = Field(description="where the value applies, wide to narrow")
    scope_value: str | None = Field(
        None, max_length=64, description="which queue, dialled number or class; none for global"
    )
    value: Any = Field(description="the new value; checked against the setting's own rules")


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


def setup(app: web.Application) -> None:
    app.router.add_get("/api/admin/settings", list_settings)
    app.router.add_get("/api/admin/settings/effective", effective)
    app.router.add_get("/api/admin/settings/audit", audit)
    app.router.add_put("/api/admin/settings/{key}", put_setting)
    app.router.add_delete("/api/admin/settings/{key}", delete_setting)
