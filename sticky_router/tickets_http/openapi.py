"""The HTTP ticket source's contract as OpenAPI 3.1, built from the very models that check the
answers (`contract.py`), so the document and the checks cannot drift apart.
`sticky-router ticket-contract` prints it for whoever writes the service."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from sticky_router.tickets_http.contract import CallEnded, LookupAnswer, TicketsAnswer


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    # by_alias: the JSON says "class", not the Python name
    return model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")


def contract_openapi() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (LookupAnswer, TicketsAnswer, CallEnded):
        schema = _schema(model)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema

    def answer(name: str, what: str) -> dict[str, Any]:
        return {
            "200": {
                "description": what,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                },
            },
            "401": {"description": "missing or wrong bearer token"},
        }

    failures = (
        "A 5xx, a timeout, an answer that is not this JSON or too big is counted "
        "(sticky_router_ticket_source_failures_total) and ignored; calls are routed from the "
        "mirror."
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sticky-router ticket source (what your service serves)",
            "version": "1",
            "description": "See docs/ticket-sources.md. " + failures,
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "security": [{"bearer": []}],
        "paths": {
            "/lookup": {
                "get": {
                    "summary": "The customer a number, account or ticket names, and their open "
                    "tickets (newest first, at most 50)",
                    "parameters": [
                        {"name": "kind", "in": "query", "required": True,
                         "schema": {"enum": ["number", "account", "ticket"]}},
                        {"name": "value", "in": "query", "required": True,
                         "schema": {"type": "string"},
                         "description": "E.164 number (+79123456701), account or ticket id"},
                    ],
                    "responses": answer("LookupAnswer", "customer is null when nobody matched"),
                }
            },
            "/tickets": {
                "get": {
                    "summary": "Tickets for the mirror: without updated_since every open ticket; "
                    "with it, every ticket (closed ones too) updated at or after that time",
                    "parameters": [
                        {"name": "updated_since", "in": "query", "required": False,
                         "schema": {"type": "string", "format": "date-time"}},
                    ],
                    "responses": answer("TicketsAnswer", "each ticket with its customer"),
                }
            },
            "/calls": {
                "post": {
                    "summary": "A call ended: record it on the ticket, once per call_id",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/CallEnded"}}},
                    },
                    "responses": {
                        "200": {"description": "recorded (or recorded before: a repeat)"},
                        "201": {"description": "recorded"},
                        "409": {"description": "recorded before (also fine)"},
                        "401": {"description": "missing or wrong bearer token"},
                    },
                }
            },
        },
    }  # fmt: skip
