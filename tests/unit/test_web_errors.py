"""The web's one error convention (web/errors.py): whatever a handler raises, one middleware
answers, JSON under /api/ with the field named, a short page elsewhere."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sticky_router.web.errors import InvalidField, WebError, errors_middleware


async def refuse_field(_request: web.Request) -> web.StreamResponse:
    raise InvalidField("expires_at", "expires_at is in the past")


async def refuse_call(_request: web.Request) -> web.StreamResponse:
    raise WebError(404, "not_your_call", "no such call on your screen")


def app() -> web.Application:
    made = web.Application(middlewares=[errors_middleware])
    for prefix in ("/api", "/admin"):
        made.router.add_get(f"{prefix}/field", refuse_field)
        made.router.add_get(f"{prefix}/call", refuse_call)
    return made


async def test_an_invalid_field_is_json_naming_the_field_under_the_api() -> None:
    async with TestClient(TestServer(app())) as client:
        answer = await client.get("/api/field")
        assert answer.status == 422
        assert json.loads(await answer.text()) == {
            "error": "invalid_field",
            "message": "expires_at is in the past",
            "field": "expires_at",
        }


async def test_a_refusal_without_a_field_is_json_without_one() -> None:
    async with TestClient(TestServer(app())) as client:
        answer = await client.get("/api/call")
        assert answer.status == 404
        assert json.loads(await answer.text()) == {
            "error": "not_your_call",
            "message": "no such call on your screen",
        }


async def test_a_page_gets_the_sentence_as_text() -> None:
    async with TestClient(TestServer(app())) as client:
        answer = await client.get("/admin/field")
        assert (answer.status, answer.content_type) == (422, "text/plain")
        assert await answer.text() == "expires_at is in the past"


def test_the_agent_screens_field_errors_keep_their_400() -> None:
    refused = InvalidField("text", "text: must not be empty", status=400)
    assert (refused.status, refused.code, refused.field) == (400, "invalid_field", "text")
