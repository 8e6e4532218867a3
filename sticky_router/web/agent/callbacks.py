"""The callbacks an agent owes (the wait offer's 2): listed on their screen, and "call now".

    POST /agent/callbacks/{id}/call-now   (form, csrf_token): dialled at the router's next look
                                          (within seconds) once the agent's phone is free

Only the agent who owns a callback sees it or asks for it; someone else's id is a 404.
"""

from __future__ import annotations

from aiohttp import web

from sticky_router.routing_core.store.callbacks import call_now, owed_by
from sticky_router.web import keys
from sticky_router.web.auth.sessions import Principal
from sticky_router.web.security import require_agent


async def owed(request: web.Request, agent: Principal) -> list[dict[str, object]]:
    return await owed_by(request.app[keys.POOL], agent.id)


@require_agent
async def call_it_now(request: web.Request, agent: Principal) -> web.StreamResponse:
    try:
        callback_id = int(request.match_info["callback_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    now = request.app[keys.CLOCK]()
    if not await call_now(request.app[keys.POOL], callback_id, agent.id, now):
        raise web.HTTPNotFound(text="no callback of yours waiting with that number")
    raise web.HTTPSeeOther("/agent/")


def setup(app: web.Application) -> None:
    app.router.add_post("/agent/callbacks/{callback_id}/call-now", call_it_now)
