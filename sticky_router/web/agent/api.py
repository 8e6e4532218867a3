"""The agent screen's JSON API: a call's pop, and the agent's actions on it.

    GET  /api/calls/{call_id}/pop
    POST /api/calls/{call_id}/{note|link-ticket|open-ticket|resolve|promise|do-not-pair|
                                abuse|customer|warn|propose-block}
                                                    (JSON body, X-CSRF-Token header)

Only calls in the signed-in agent's access window (web/pops/call_access.py: while the call rings or
talks to them, and a while after): any other call id is 404, the same answer as for a call that
never rang them or does not exist. Every POST answers with the call's pop as it is now.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from sticky_router.web import keys
from sticky_router.web.agent import actions as agent_actions
from sticky_router.web.agent import caller_conduct
from sticky_router.web.agent.actions import CallOfAgent
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.errors import WebError
from sticky_router.web.pops import store as pop_store
from sticky_router.web.security import require_agent

log = structlog.get_logger("sticky_router.web")

Action = Callable[[web.Request, CallOfAgent, dict[str, Any]], Awaitable[None]]


async def _call(request: web.Request, agent: Principal) -> CallOfAgent:
    app = request.app
    call = await agent_actions.call_of_agent(
        app[keys.POOL], request.match_info["call_id"], agent.id, agent.name,
        app[keys.CLOCK](), app[keys.SETTINGS].agent_access,
    )  # fmt: skip
    if call is None:
        raise WebError(404, "not_your_call", "no such call on your screen")
    return call


async def _pop_response(request: web.Request, agent: Principal, call_id: str) -> web.Response:
    app = request.app
    try:
        pop = await pop_store.load_pop(
            app[keys.POOL], call_id, agent.id, agent.language, app[keys.CLOCK](),
            app[keys.SETTINGS].agent_access, app.get(keys.TICKET_DETAILS),
        )  # fmt: skip
    except pop_store.NotYourCall:
        raise WebError(404, "not_your_call", "no such call on your screen") from None
    return web.json_response({"ok": True, "pop": pop})


@require_agent
async def get_pop(request: web.Request, agent: Principal) -> web.StreamResponse:
    return await _pop_response(request, agent, request.match_info["call_id"])


async def _note(request: web.Request, call: CallOfAgent, body: dict[str, Any]) -> None:
    await agent_actions.add_note(request.app[keys.POOL], call, body)


async def _link(request: web.Request, call: CallOfAgent, body: dict[str, Any]) -> None:
    await agent_actions.link_ticket(request.app[keys.POOL], call, body)


async def _open(request: web.Request, call: CallOfAgent, body: dict[str, Any]) -> None:
    app = request.app
    await agent_actions.open_ticket(app[keys.POOL], call, body, app[keys.CLOCK]())


async def _resolve(request: web.Request, call: CallOfAgent, _body: dict[str, Any]) -> None:
    app = request.app
    await agent_actions.resolve(app[keys.POOL], call, app[keys.CLOCK]())


async def _promise(request: web.Request, call: CallOfAgent, body: dict[str, Any]) -> None:
    app = request.app
    await agent_actions.promise(app[keys.POOL], call, body, app[keys.CLOCK]())


async def _do_not_pair(request: web.Request, call: CallOfAgent, body: dict[str, Any]) -> None:
    await agent_actions.ask_not_to_pair(request.app[keys.POOL], call, body)


async def _abuse(request: web.Request, call: CallOfAgent, body: dict[str, Any]) -> None:
    await agent_actions.flag_abuse(request.app[keys.POOL], call, body)


async def _warn(request: web.Request, call: CallOfAgent, body: dict[str, Any]) -> None:
    await caller_conduct.warn(request.app[keys.POOL], call, body)


async def _propose_block(request: web.Request, call: CallOfAgent, body: dict[str, Any]) -> None:
    app = request.app
    await caller_conduct.propose(app[keys.POOL], call, body, app[keys.CLOCK]())


async def _customer(request: web.Request, call: CallOfAgent, body: dict[str, Any]) -> None:
    await agent_actions.pick_customer(request.app[keys.POOL], call, body)


ACTIONS: dict[str, Action] = {
    "note": _note,
    "link-ticket": _link,
    "open-ticket": _open,
    "resolve": _resolve,
    "promise": _promise,
    "do-not-pair": _do_not_pair,
    "abuse": _abuse,
    "customer": _customer,
    "warn": _warn,
    "propose-block": _propose_block,
}


@require_agent
async def act(request: web.Request, agent: Principal) -> web.StreamResponse:
    action = ACTIONS.get(request.match_info["action"])
    if action is None:
        raise WebError(404, "unknown_action", "no such action")
    call = await _call(request, agent)
    try:
        body = await request.json()
    except ValueError:
        raise WebError(400, "invalid_json", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise WebError(400, "invalid_json", "the body must be a JSON object")
    await action(request, call, body)
    log.info(
        "agent_action", call_id=call.call_id, agent_id=agent.id, action=request.match_info["action"]
    )
    return await _pop_response(request, agent, call.call_id)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/calls/{call_id}/pop", get_pop)
    app.router.add_post("/api/calls/{call_id}/{action}", act)
