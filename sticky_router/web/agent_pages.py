"""The agent's screen: the page (/agent/) and its websocket (/agent/ws), which carries the pops
of the signed-in agent and nobody else's.

On every (re)connect the socket first sends the agent's pops for calls still ringing or up, so
a pop published while the browser was away is not lost. The socket re-checks the session every
`socket_session_check_seconds` (WebSettings) and closes (code 4401) once it has expired or was
signed out.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSCloseCode, WSMsgType, web

from sticky_router.web import keys, pop_store
from sticky_router.web.i18n import words_for
from sticky_router.web.security import csrf_fields, current_principal, require_agent
from sticky_router.web.sessions import Principal
from sticky_router.web.templates import render

CLOSE_SESSION_ENDED = 4401


@require_agent
async def page(request: web.Request, agent: Principal) -> web.StreamResponse:
    words = words_for(agent.language, ("agent.", "pop.", "action."))
    return render(
        request, "agent.html", agent.language, agent=agent, words=words, **csrf_fields(agent)
    )


@require_agent
async def websocket(request: web.Request, agent: Principal) -> web.StreamResponse:
    app = request.app
    socket = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    await socket.prepare(request)
    app[keys.SOCKETS].sockets.add(socket)
    with app[keys.HUB].subscribe(agent.id) as subscription:
        await socket.send_json({"type": "hello", "agent": agent.name})
        pops = await pop_store.current_pops(
            app[keys.POOL], agent, app[keys.CLOCK](), app[keys.SETTINGS].agent_access,
            app.get(keys.TICKET_DETAILS),
        )  # fmt: skip
        for pop in pops:
            await socket.send_json({"type": "pop", "pop": pop})
        reader = asyncio.get_running_loop().create_task(_read_until_closed(socket))
        try:
            while not socket.closed:
                getter = asyncio.ensure_future(subscription.get())
                done, _ = await asyncio.wait(
                    {getter, reader}, timeout=app[keys.SETTINGS].socket_session_check_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )  # fmt: skip
                if getter in done:
                    await socket.send_json({"type": "pop", "pop": getter.result()})
                    continue
                getter.cancel()
                if reader in done:
                    break
                if await current_principal(request, "agent") is None:
                    await socket.close(code=CLOSE_SESSION_ENDED, message=b"session ended")
                    break
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            app[keys.SOCKETS].sockets.discard(socket)
    return socket


async def _read_until_closed(socket: web.WebSocketResponse) -> None:
    """The page sends nothing we need; reading keeps pings answered and notices the close."""
    async for message in socket:
        if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            break


async def _close_sockets(app: web.Application) -> None:
    for socket in list(app[keys.SOCKETS].sockets):
        await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")


def setup(app: web.Application) -> None:
    app[keys.SOCKETS] = keys.OpenSockets()
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/agent/", page)
    app.router.add_get("/agent/ws", websocket)
