"""The supervisors' live view: the page and its websocket, which pushes the line's state (calls
in progress, agents, latest misses; web/admin/live_view.py) every second it changes.

    GET /admin/live       the page (its script renders the pushed state with textContent only)
    GET /admin/live/ws    {"type": "live", ...} whenever it differs from the last one sent

The socket re-checks the admin's session every `socket_session_check_seconds` and closes with
4401 once it has ended, like the agents' socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from aiohttp import web

from sticky_router.routing_core.store.incidents import in_force
from sticky_router.web import keys
from sticky_router.web.admin.live_view import snapshot
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.i18n.words import words_for
from sticky_router.web.security import csrf_fields, current_principal, require_admin
from sticky_router.web.sockets import CLOSE_SESSION_ENDED, opened
from sticky_router.web.templates import render

log = structlog.get_logger(__name__)

PUSH_SECONDS = 1.0


@require_admin
async def page(request: web.Request, admin: Principal) -> web.StreamResponse:
    words = words_for(admin.language, ("live.", "reason."))
    incidents = await in_force(request.app[keys.POOL])
    return render(request, "admin_live.html", admin.language, admin=admin, words=words,
                  incidents=incidents, **csrf_fields(admin))  # fmt: skip


async def _state(app: web.Application) -> dict[str, Any]:
    members = app.get(keys.LIVE_MEMBERS)
    board = members() if members is not None else None
    return await snapshot(app[keys.POOL], board, app[keys.CLOCK]())


@require_admin
async def websocket(request: web.Request, admin: Principal) -> web.StreamResponse:
    app = request.app
    loop = asyncio.get_running_loop()
    checked = loop.time()
    sent: dict[str, Any] | None = None
    async with opened(request) as (socket, reader):
        while not socket.closed and not reader.done():
            try:
                state = await _state(app)
            except Exception as error:  # a stalled database: say so, keep the socket
                log.warning("live_view_failed", error=f"{type(error).__name__}: {error}")
                state = {"type": "unavailable"}
            if state != sent:
                await socket.send_json(state)
                sent = state
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PUSH_SECONDS):
                    await asyncio.shield(reader)
            if loop.time() - checked >= app[keys.SETTINGS].socket_session_check_seconds:
                checked = loop.time()
                if await current_principal(request, "admin") is None:
                    await socket.close(code=CLOSE_SESSION_ENDED, message=b"session ended")
    return socket


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/live", page)
    app.router.add_get("/admin/live/ws", websocket)
