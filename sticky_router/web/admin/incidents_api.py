"""Outage mode (issue 16): a supervisor declares an incident for every call, a queue or a
dialled number, with an optional notice callers hear before routing; while it lasts stickiness
steps aside (the setting outage_window_minutes: 0, paused); ended by hand. Audited.

    GET  /api/admin/incidents              the incidents in force
    POST /api/admin/incidents              {"scope", "scope_value", "description",
                                            "announce_sound", "expected_end"}
    POST /api/admin/incidents/{id}/end
    POST /admin/incidents, /admin/incidents/{id}/end   the same from the live view's forms
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sticky_router.routing_core import dialplan_safe
from sticky_router.routing_core.store.incidents import NewIncident, declare, end, in_force
from sticky_router.web import keys
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.errors import WebError
from sticky_router.web.security import require_admin
from sticky_router.web.validation import read_body, validated


class IncidentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["global", "queue", "did"]
    scope_value: str = Field("", max_length=64, description="the queue or number; none: global")
    description: str = Field(min_length=1, max_length=200)
    announce_sound: str | None = Field(None, max_length=200, description="a sound name")
    expected_end: datetime | None = None

    @model_validator(mode="after")
    def a_scope_and_a_safe_sound(self) -> Self:
        if (self.scope == "global") != (self.scope_value == ""):
            raise ValueError("scope_value: none for global, the queue or number otherwise")
        if self.scope == "queue" and not dialplan_safe.is_queue(self.scope_value):
            raise ValueError("scope_value: a queue name (letters, digits, _ -)")
        if self.scope == "did" and not dialplan_safe.is_dialled(self.scope_value):
            raise ValueError("scope_value: a dialled number (digits, + * #)")
        if self.announce_sound and not dialplan_safe.is_sound(self.announce_sound):
            raise ValueError("announce_sound: a sound name (letters, digits, _ / -)")
        return self


async def declare_incident(request: web.Request, admin: Principal, wanted: IncidentRequest) -> int:
    incident = NewIncident(
        scope_kind=wanted.scope, scope_value=wanted.scope_value,
        description=wanted.description, announce_sound=wanted.announce_sound or None,
        expected_end=wanted.expected_end,
    )  # fmt: skip
    async with request.app[keys.POOL].acquire() as connection, connection.transaction():
        return await declare(connection, incident, f"admin:{admin.name}")


async def end_incident(request: web.Request, admin: Principal, incident_id: int) -> None:
    async with request.app[keys.POOL].acquire() as connection, connection.transaction():
        if not await end(connection, incident_id, f"admin:{admin.name}"):
            raise WebError(404, "no_incident", "no incident in force with that id")


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


@require_admin
async def list_incidents(request: web.Request, _admin: Principal) -> web.StreamResponse:
    return web.json_response([_jsonable(r) for r in await in_force(request.app[keys.POOL])])


@require_admin
async def create(request: web.Request, admin: Principal) -> web.StreamResponse:
    wanted: IncidentRequest = await read_body(request, IncidentRequest)
    incident_id = await declare_incident(request, admin, wanted)
    return web.json_response({"ok": True, "id": incident_id}, status=201)


def _incident_id(request: web.Request) -> int:
    try:
        return int(request.match_info["incident_id"])
    except ValueError:
        raise WebError(404, "no_incident", "an incident id is a number") from None


@require_admin
async def end_one(request: web.Request, admin: Principal) -> web.StreamResponse:
    incident_id = _incident_id(request)
    await end_incident(request, admin, incident_id)
    return web.json_response({"ok": True, "id": incident_id, "ended": True})


@require_admin
async def declare_from_page(request: web.Request, admin: Principal) -> web.StreamResponse:
    form = await request.post()
    fields: dict[str, str | None] = {
        name: str(form.get(name, "")).strip()
        for name in ("scope", "scope_value", "description", "announce_sound")
    }
    fields["announce_sound"] = fields["announce_sound"] or None
    wanted = validated(IncidentRequest, fields)  # a refusal is the page's 422 (web/errors.py)
    await declare_incident(request, admin, wanted)
    raise web.HTTPSeeOther("/admin/live")


@require_admin
async def end_from_page(request: web.Request, admin: Principal) -> web.StreamResponse:
    await end_incident(request, admin, _incident_id(request))
    raise web.HTTPSeeOther("/admin/live")


def setup(app: web.Application) -> None:
    app.router.add_get("/api/admin/incidents", list_incidents)
    app.router.add_post("/api/admin/incidents", create)
    app.router.add_post("/api/admin/incidents/{incident_id}/end", end_one)
    app.router.add_post("/admin/incidents", declare_from_page)
    app.router.add_post("/admin/incidents/{incident_id}/end", end_from_page)
