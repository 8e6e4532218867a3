"""What the pages' websockets share (the agent's screen, the supervisors' live view): a socket
opened and registered so a stopping server closes it, a reader that notices the browser leave,
and the close code that sends the page back to sign in."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, WSMsgType, web

from sticky_router.web import keys

CLOSE_SESSION_ENDED = 4401


@contextlib.asynccontextmanager
async def opened(
    request: web.Request,
) -> AsyncIterator[tuple[web.WebSocketResponse, asyncio.Task[None]]]:
    """The prepared socket and its reader (done once the browser closed it)."""
    app = request.app
    socket = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    await socket.prepare(request)
    app[keys.SOCKETS].sockets.add(socket)
    reader = asyncio.get_running_loop().create_task(_read_until_closed(socket))
    try:
        yield socket, reader
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        app[keys.SOCKETS].sockets.discard(socket)


async def _read_until_closed(socket: web.WebSocketResponse) -> None:
    """The pages send nothing we need; reading keeps pings answered and notices the close."""
    async for message in socket:
        if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            break


async def close_all(app: web.Application) -> None:
    for socket in list(app[keys.SOCKETS].sockets):
        await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")


def setup(app: web.Application) -> None:
    app[keys.SOCKETS] = keys.OpenSockets()
    app.on_shutdown.append(close_all)
