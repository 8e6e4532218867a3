"""The people page: agents (endpoint, role, active) and customer classes, with forms.

    GET  /admin/people
    POST /admin/people/agents/{name}   (form: endpoint, role, active=on|absent, csrf_token)
    POST /admin/people/classes         (form: name, description, csrf_token)

The changes are `admin_people_api.update_agent` / `create_class`, the JSON API's code path, with
its checks and its audit; a refusal re-renders the page with the field named.
"""

from __future__ import annotations

from aiohttp import web

import sticky_router.web.i18n.admin  # noqa: F401 - registers the words of these pages
from sticky_router.web import keys
from sticky_router.web.admin.people_api import AgentChange, NewClass, create_class, update_agent
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.errors import InvalidField
from sticky_router.web.security import csrf_fields, require_admin
from sticky_router.web.templates import render
from sticky_router.web.validation import validated


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
    agents = await pool.fetch(
        "SELECT name, display_name, endpoint, role, active, queue_interface, state_interface,"
        " devices FROM agents ORDER BY name"
    )
    classes = await pool.fetch(
        "SELECT c.name, c.description, (SELECT count(*) FROM customers WHERE class_name = c.name)"
        " AS customers FROM customer_classes c ORDER BY c.name"
    )
    return render(
        request,
        "admin_people.html",
        admin.language,
        status=status,
        admin=admin,
        agents=agents,
        classes=classes,
        done=done,
        error=error,
        field=field,
        **csrf_fields(admin),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value).strip()


@require_admin
async def people_page(request: web.Request, admin: Principal) -> web.StreamResponse:
    return await _page(request, admin)


@require_admin
async def change_agent(request: web.Request, admin: Principal) -> web.StreamResponse:
    form = await request.post()
    name = request.match_info["name"]
    try:
        change = validated(
            AgentChange,
            {
                "endpoint": str(form.get("endpoint", "")).strip() or None,
                "role": str(form.get("role", "")) or None,
                "active": form.get("active") == "on",
                # Absent: left alone; empty: the endpoint's again.
                "queue_interface": _text(form.get("queue_interface")),
                "state_interface": _text(form.get("state_interface")),
                "devices": None if "devices" not in form else str(form["devices"]).split(),
            },
        )
        await update_agent(request, admin, name, change)
    except InvalidField as refused:
        return await _page(request, admin, status=422, error=refused.message, field=refused.field)
    return await _page(request, admin, done=name)


@require_admin
async def add_class(request: web.Request, admin: Principal) -> web.StreamResponse:
    form = await request.post()
    try:
        new = validated(
            NewClass,
            {
                "name": str(form.get("name", "")).strip(),
                "description": str(form.get("description", "")),
            },
        )
        await create_class(request, admin, new)
    except InvalidField as refused:
        return await _page(request, admin, status=422, error=refused.message, field=refused.field)
    return await _page(request, admin, done=new.name)


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/people", people_page)
    app.router.add_post("/admin/people/agents/{name}", change_agent)
    app.router.add_post("/admin/people/classes", add_class)
