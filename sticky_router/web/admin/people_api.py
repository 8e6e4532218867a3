"""People for the admin API: agents (endpoint, role, active, how the PBX knows them) and
customer classes.

    GET   /api/admin/agents
    PATCH /api/admin/agents/{name}      {"endpoint"?, "role"?, "active"?, "queue_interface"?,
                                         "state_interface"?, "devices"?}
    GET   /api/admin/classes
    POST  /api/admin/classes            {"name", "description"}

Every change is audited in settings_audit (scope `agent` or `customer_class`, the changed field
as the key, old and new value), next to the settings changes, so one trail answers "who changed
what". An agent made inactive is never a sticky target from the next call on (the policy's rule).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sticky_router.routing_core import dialplan_safe
from sticky_router.routing_core.store.audit import as_json, record_change
from sticky_router.web import keys
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.errors import InvalidField, WebError
from sticky_router.web.security import require_admin
from sticky_router.web.validation import read_body

Device = Annotated[str, Field(pattern=dialplan_safe.ENDPOINT, max_length=111)]
OR_EMPTY = "|^$"  # "" puts a PBX name back to the endpoint's


class AgentChange(BaseModel):
    """None leaves a field as it is. How the PBX knows the agent (docs/pbx-flavours.md): the
    queue member and state interfaces are the endpoint's unless set ("" clears them), `devices`
    the phones that ring for them ([] clears)."""

    model_config = ConfigDict(extra="forbid")

    # One device for Dial(): never `&` (a second destination), `,` (options), `(` or `$`.
    endpoint: str | None = Field(None, pattern=dialplan_safe.ENDPOINT, max_length=111)
    role: Literal["first_line", "specialist"] | None = None
    active: bool | None = None
    queue_interface: str | None = Field(
        None, pattern=dialplan_safe.ENDPOINT + OR_EMPTY, max_length=111
    )
    state_interface: str | None = Field(
        None, pattern=f"{dialplan_safe.ENDPOINT}|{dialplan_safe.HINT}{OR_EMPTY}", max_length=128
    )
    devices: list[Device] | None = Field(None, max_length=8)


FIELDS = tuple(AgentChange.model_fields)


class NewClass(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    description: str = Field("", max_length=200)


@require_admin
async def list_agents(request: web.Request, _admin: Principal) -> web.StreamResponse:
    rows = await request.app[keys.POOL].fetch(
        "SELECT name, display_name, endpoint, role, active, language, queue_interface,"
        " state_interface, devices FROM agents ORDER BY name"
    )
    return web.json_response([dict(r) for r in rows])


async def update_agent(
    request: web.Request, admin: Principal, name: str, change: AgentChange
) -> dict[str, Any]:
    """Apply and audit one agent change (the API and the people page both come here); the
    fields changed. Raises InvalidField naming the field, or WebError 404."""
    wanted = change.model_dump(exclude_none=True)
    if not wanted:
        raise InvalidField("body", f"nothing to change: give one of {', '.join(FIELDS)}")
    for field in ("queue_interface", "state_interface"):
        if wanted.get(field) == "":
            wanted[field] = None  # stored as NULL: the endpoint's
    pool = request.app[keys.POOL]
    async with pool.acquire() as connection, connection.transaction():
        old = await connection.fetchrow(
            f"SELECT {', '.join(FIELDS)} FROM agents WHERE name = $1 FOR UPDATE", name
        )
        if old is None:
            raise WebError(404, "no_such_agent", f"no agent named {name!r}")
        try:
            await connection.execute(
                "UPDATE agents SET endpoint = coalesce($2, endpoint), role = coalesce($3, role),"
                " active = coalesce($4, active),"
                " queue_interface = CASE WHEN $5 THEN $6 ELSE queue_interface END,"
                " state_interface = CASE WHEN $7 THEN $8 ELSE state_interface END,"
                " devices = coalesce($9::text[], devices) WHERE name = $1",
                name, change.endpoint, change.role, change.active,
                "queue_interface" in wanted, wanted.get("queue_interface"),
                "state_interface" in wanted, wanted.get("state_interface"), change.devices,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise InvalidField(
                "endpoint", f"endpoint {change.endpoint!r} belongs to another agent"
            ) from None
        for field, value in wanted.items():
            if old[field] != value:
                await record_change(
                    connection, actor=f"admin:{admin.name}", scope_kind="agent",
                    scope_value=name, key=field, old=as_json(old[field]), new=as_json(value),
                )  # fmt: skip
    return wanted


async def create_class(request: web.Request, admin: Principal, new: NewClass) -> None:
    """Add and audit a customer class; InvalidField when it exists already."""
    pool = request.app[keys.POOL]
    async with pool.acquire() as connection, connection.transaction():
        added = await connection.fetchval(
            "INSERT INTO customer_classes (name, description) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING name",
            new.name, new.description,
        )  # fmt: skip
        if added is None:
            raise InvalidField("name", f"class {new.name!r} exists already")
        await record_change(
            connection, actor=f"admin:{admin.name}", scope_kind="customer_class",
            scope_value=new.name, key="created", old=None, new=as_json(new.description),
        )  # fmt: skip


@require_admin
async def change_agent(request: web.Request, admin: Principal) -> web.StreamResponse:
    name = request.match_info["name"]
    change: AgentChange = await read_body(request, AgentChange)
    wanted = await update_agent(request, admin, name, change)
    return web.json_response({"ok": True, "name": name, **wanted})


@require_admin
async def list_classes(request: web.Request, _admin: Principal) -> web.StreamResponse:
    rows = await request.app[keys.POOL].fetch(
        "SELECT c.name, c.description, (SELECT count(*) FROM customers WHERE class_name = c.name)"
        " AS customers FROM customer_classes c ORDER BY c.name"
    )
    return web.json_response([dict(r) for r in rows])


@require_admin
async def add_class(request: web.Request, admin: Principal) -> web.StreamResponse:
    new: NewClass = await read_body(request, NewClass)
    await create_class(request, admin, new)
    return web.json_response({"ok": True, "name": new.name}, status=201)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/admin/agents", list_agents)
    app.router.add_patch("/api/admin/agents/{name}", change_agent)
    app.router.add_get("/api/admin/classes", list_classes)
    app.router.add_post("/api/admin/classes", add_class)
