"""The agent's screen: the page (/agent/) and its websocket (/agent/ws), which carries the pops
of the signed-in agent and nobody else's.

On every (re)connect the socket first sends the agent's pops for calls still ringing or up, so
a pop published while the browser was away is not lost. The socket re-checks the session every
`socket_session_check_seconds` (WebSettings) and closes (code 4401) once it has expired or was
signed out.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from sticky_router.web import keys, sockets
from sticky_router.web.agent import callbacks as agent_callbacks
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.i18n.words import words_for
from sticky_router.web.pops import store as pop_store
from sticky_router.web.pops.hub import Subscription
from sticky_router.web.security import csrf_fields, current_principal, require_agent
from sticky_router.web.sockets import CLOSE_SESSION_ENDED, opened
from sticky_router.web.templates import render


@require_agent
async def page(request: web.Request, agent: Principal) -> web.StreamResponse:
    words = words_for(agent.language, ("agent.", "pop.", "action."))
    callbacks = await agent_callbacks.owed(request, agent)
    return render(
        request, "agent.html", agent.language, agent=agent, words=words, callbacks=callbacks,
        **csrf_fields(agent),
    )  # fmt: skip


@require_agent
async def websocket(request: web.Request, agent: Principal) -> web.StreamResponse:
    app = request.app
    async with opened(request) as (socket, reader):
        with app[keys.HUB].subscribe(agent.id) as pops:
            await _serve(request, agent, socket, reader, pops)
    return socket


async def _serve(
    request: web.Request,
    agent: Principal,
    socket: web.WebSocketResponse,
    reader: asyncio.Task[None],
    pops: Subscription,
) -> None:
    """Pops missed while away, then each new one, until the browser leaves or the session ends."""
    app = request.app
    await socket.send_json({"type": "hello", "agent": agent.name})
    missed = await pop_store.current_pops(
        app[keys.POOL], agent, app[keys.CLOCK](), app[keys.SETTINGS].agent_access,
        app.get(keys.TICKET_DETAILS),
    )  # fmt: skip
    for pop in missed:
        await socket.send_json({"type": "pop", "pop": pop})
    while not socket.closed:
        getter = asyncio.ensure_future(pops.get())
        done, _ = await asyncio.wait(
            {getter, reader}, timeout=app[keys.SETTINGS].socket_session_check_seconds,
            return_when=asyncio.FIRST_COMPLETED,
        )  # fmt: skip
        if getter in done:
            await socket.send_json({"type": "pop", "pop": getter.result()})
            continue
        getter.cancel()
        if reader in done:
            return
        if await current_principal(request, "agent") is None:
            await socket.close(code=CLOSE_SESSION_ENDED, message=b"session ended")
            return


def setup(app: web.Application) -> None:
    sockets.setup(app)
    app.router.add_get("/agent/", page)
    app.router.add_get("/agent/ws", websocket)
    agent_callbacks.setup(app)
