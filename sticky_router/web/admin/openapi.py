"""The admin JSON API described as OpenAPI 3.1, its request bodies built from the same pydantic
models the handlers read with, so the description cannot drift from what is checked.

    GET    /api/openapi.json
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from sticky_router.routing_core.settings import SETTING_KEYS, RoutingSettings
from sticky_router.web.admin.blocks_api import ApprovalRequest, BlockRequest, ProposalRequest
from sticky_router.web.admin.flags_api import FlagApproval
from sticky_router.web.admin.incidents_api import IncidentRequest
from sticky_router.web.admin.people_api import AgentChange, NewClass
from sticky_router.web.admin.settings_api import SettingChange


def openapi() -> dict[str, Any]:
    """OpenAPI 3.1, the request bodies built from the same pydantic models the handlers use."""
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
    app.router.add_get("/api/openapi.json", openapi_document)
