"""The admin settings page: stored values per scope, a form to change one, the value in force
for any queue and class with the scope it comes from, and the audit trail.

    GET  /admin/settings[?queue=&did=&customer_class=]
    POST /admin/settings          (form: key, scope, scope_value, value, csrf_token)

Same rules and the same code path as the JSON API (`admin_api.apply_change`); a refused change
re-renders the form with the field named, keeping what the admin typed.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sticky_router.routing_core.settings import SETTING_KEYS, Scope, ScopedValue, resolve_settings
from sticky_router.web import (
    i18n_admin,  # noqa: F401 - registers the words of these pages
    keys,
)
from sticky_router.web.admin_api import apply_change
from sticky_router.web.security import csrf_fields, require_admin
from sticky_router.web.sessions import Principal
from sticky_router.web.templates import render

SCOPES = ("global", "queue", "did", "customer_class")
AUDIT_SHOWN = 25


def _parse(text: str) -> Any:
    """A form sends text: 240 and true are read as JSON, anything else stays text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _page(
    request: web.Request,
    admin: Principal,
    *,
    status: int = 200,
    message: str | None = None,
    error: str | None = None,
    field: str | None = None,
    typed: dict[str, str] | None = None,
) -> web.Response:
    pool = request.app[keys.POOL]
    rows = await pool.fetch(
        "SELECT scope_kind, scope_value, key, value::text AS value, updated_by, updated_at "
        "FROM routing_settings ORDER BY key, scope_kind, scope_value"
    )
    query = {name: request.query.get(name, "") for name in ("queue", "did", "customer_class")}
    resolved = resolve_settings(
        [ScopedValue(Scope(r["scope_kind"]), r["scope_value"] or None, r["key"],
                     json.loads(r["value"])) for r in rows],
        queue=query["queue"] or None,
        did=query["did"] or None,
        customer_class=query["customer_class"] or None,
    )  # fmt: skip
    values = resolved.values.model_dump(mode="json")
    audit = await pool.fetch(
        "SELECT at, actor, scope_kind, scope_value, key, old_value::text AS old, "
        "new_value::text AS new FROM settings_audit ORDER BY id DESC LIMIT $1",
        AUDIT_SHOWN,
    )
    return render(
        request,
        "admin_settings.html",
        admin.language,
        status=status,
        admin=admin,
        keys=SETTING_KEYS,
        scopes=SCOPES,
        rows=rows,
        effective=[(k, json.dumps(values[k]), resolved.sources[k].value) for k in SETTING_KEYS],
        query=query,
        audit=audit,
        message=message,
        error=error,
        field=field,
        typed=typed or {"key": "window_minutes", "scope": "global", "scope_value": "", "value": ""},
        **csrf_fields(admin),
    )


@require_admin
async def settings_page(request: web.Request, admin: Principal) -> web.StreamResponse:
    return await _page(request, admin)


@require_admin
async def change_setting(request: web.Request, admin: Principal) -> web.StreamResponse:
    form = await request.post()
    typed = {
        name: str(form.get(name, ""))[:200] for name in ("key", "scope", "scope_value", "value")
    }
    try:
        scope = Scope(typed["scope"])
    except ValueError:
        refused: tuple[str, str] | None = ("scope", f"unknown scope {typed['scope']!r}")
    else:
        value = _parse(typed["value"])
        refused = await apply_change(
            request, admin, typed["key"], scope, typed["scope_value"] or None, value
        )
    if refused is not None:
        field, problem = refused
        return await _page(request, admin, status=422, error=problem, field=field, typed=typed)
    where = typed["scope"] + (f" {typed['scope_value']}" if typed["scope_value"] else "")
    # Post/redirect/get would lose the confirmation without a flash store; the page is small.
    return await _page(
        request,
        admin,
        message=f"{typed['key']} = {typed['value']} ({where})",
        typed=typed,
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/settings", settings_page)
    app.router.add_post("/admin/settings", change_setting)
